// Full-covariance mixtures: the reverse recurrence of DESIGN.md section 3.5 over one unit (run
// after forward_unit<true, Fwd::Vjp> with TrilLocations), O(K*D^2) per sample.
#pragma once

#include <algorithm>
#include <cstddef>

#include "mixgrad/config.hpp"
#include "mixgrad/mixture/diag/params.hpp"
#include "mixgrad/mixture/diag/scratch.hpp"
#include "mixgrad/mixture/diag/vjp.hpp"
#include "mixgrad/mixture/full/params.hpp"
#include "mixgrad/mixture/full/scratch.hpp"
#include "mixgrad/mixture/lanes.hpp"

namespace mixgrad::mixture {

// Coordinate d is the diagonal mixture's coordinate with locations m_kd and scales L_kdd, so its
// step is the diagonal one (detail::reverse_coordinate), which yields the adjoints of m_kd and
// L_kdd. What the diagonal recurrence lacks: eps_kd = (x_d - m_kd) / L_kdd also enters the
// later locations m_ke (e > d), whose adjoints, propagated back, arrive as ebar_kd; it adds
// ebar_kd / L_kdd to the adjoint of x_d, and m_kd = mu_kd + sum_{j<d} L_kdj eps_kj passes the
// adjoint of m_kd on to mu_kd, L_kdj and eps_kj. Accumulates into s.amu ([D][K][L], means),
// s.aa ([K][L], logits) and ts.lbar ([D][D][K][L], scale_tril).
template <bool PLT>
MIXGRAD_INLINE void reverse_tril_unit(const Dims& dm, const Prepared& p, const TrilParams& t, Scratch& s,
                                      TrilScratch& ts) {
  const std::size_t K = dm.K, D = dm.D;
  double* lam = s.lam.data();
  double* ebar = ts.ebar.data();
  double* mbar = ts.mbar.data();
  double* sbar = ts.sbar.data();
  const double* invs = p.invs.data();
  const double* low = t.low.data();
  alignas(64) double gxd[L];
  std::fill(s.lam.begin(), s.lam.end(), 0.0);
  std::fill(ts.ebar.begin(), ts.ebar.end(), 0.0);
  for (std::size_t d = D; d-- > 0;) {
    const double* zd = s.z.data() + d * K * L;  // eps_kd
    double* eb = ebar + d * K * L;
    const double* is = invs + d * K * L;
#pragma omp simd
    for (std::size_t l = 0; l < L; ++l) gxd[l] = s.gx[d * L + l];
    for (std::size_t k = 0; k < K; ++k) {
#pragma omp simd
      for (std::size_t l = 0; l < L; ++l) gxd[l] += eb[k * L + l] * is[k * L + l];
    }
    std::fill(ts.mbar.begin(), ts.mbar.end(), 0.0);
    std::fill(ts.sbar.begin(), ts.sbar.end(), 0.0);
    detail::reverse_coordinate<true>(K, d, invs, zd, s.r.data() + d * K * L, s.term.data() + d * K * L,
                                     s.igr.data() + d * L, s.igt.data() + d * L, gxd, lam, mbar, sbar);
    double* amu = s.amu.data() + d * K * L;
    double* ldd = ts.lbar.data() + (d * D + d) * K * L;
    for (std::size_t k = 0; k < K; ++k) {
#pragma omp simd
      for (std::size_t l = 0; l < L; ++l) {
        const std::size_t i = k * L + l;
        const double e = eb[i] * is[i];
        const double mb = mbar[i] - e;
        mbar[i] = mb;
        amu[i] += mb;
        ldd[i] += sbar[i] - e * zd[i];
      }
    }
    for (std::size_t j = 0; j < d; ++j) {
      double* lb = ts.lbar.data() + (d * D + j) * K * L;
      double* ebj = ebar + j * K * L;
      const double* ej = s.z.data() + j * K * L;
      for (std::size_t k = 0; k < K; ++k) {
        const std::size_t dj = (d * D + j) * K + k;
#pragma omp simd
        for (std::size_t l = 0; l < L; ++l) {
          const std::size_t i = k * L + l;
          lb[i] += mbar[i] * ej[i];
          ebj[i] += mbar[i] * low[detail::at<PLT>(dj, l)];
        }
      }
    }
  }
  for (std::size_t i = 0; i < K * L; ++i) s.aa[i] += lam[i];
}

}  // namespace mixgrad::mixture
