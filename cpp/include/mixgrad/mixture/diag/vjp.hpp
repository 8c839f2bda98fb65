// Diagonal mixtures: the reverse recurrence of the implicit-reparameterization gradient over one
// unit (run after forward_unit<PL, Fwd::Vjp>), O(K*D) per sample.
#pragma once

#include <algorithm>
#include <cstddef>

#include "mixgrad/config.hpp"
#include "mixgrad/mixture/diag/params.hpp"
#include "mixgrad/mixture/diag/scratch.hpp"
#include "mixgrad/mixture/lanes.hpp"

namespace mixgrad::mixture {

namespace detail {

// One coordinate of the reverse recurrence of section 3.3: with gxd the upstream gradient of x_d
// and lam the adjoint of ell^(d+1), adds the adjoints of mu_d, sigma_d into amu, as ([K][L]) and
// turns lam into the adjoint of ell^(d). zd, rd, td, igr, igt: coordinate d of
// forward_unit<PL, Vjp> (r_k = igr rd_k, term_k = igt td_k per lane).
template <bool PL>
MIXGRAD_INLINE void reverse_coordinate(std::size_t K, std::size_t d, const double* invs, const double* zd,
                                       const double* rd, const double* td, const double* igr, const double* igt,
                                       const double* gxd, double* lam, double* amu, double* as) {
  alignas(64) double xbar[L], xr[L], xt[L];
#pragma omp simd
  for (std::size_t l = 0; l < L; ++l) xbar[l] = gxd[l];
  for (std::size_t k = 0; k < K; ++k) {
#pragma omp simd
    for (std::size_t l = 0; l < L; ++l) xbar[l] -= lam[k * L + l] * (zd[k * L + l] * invs[at<PL>(d * K + k, l)]);
  }
#pragma omp simd
  for (std::size_t l = 0; l < L; ++l) {
    xr[l] = xbar[l] * igr[l];
    xt[l] = xbar[l] * igt[l];
  }
  for (std::size_t k = 0; k < K; ++k) {
#pragma omp simd
    for (std::size_t l = 0; l < L; ++l) {
      const std::size_t i = k * L + l;
      const double is = invs[at<PL>(d * K + k, l)];
      const double zz = zd[i];
      const double lm = lam[i];
      // The adjoint of mu_k is a = lam z / sigma + xbar r; that of sigma_k is z a - lam / sigma.
      const double a = lm * (zz * is) + xr[l] * rd[i];
      amu[i] += a;
      as[i] += zz * a - lm * is;
      lam[i] = lm - xt[l] * td[i];
    }
  }
}

}  // namespace detail

// The reverse recurrence of section 3.3 over one unit (after forward_unit<PL, Vjp>): adds each
// lane's gradient into the accumulators s.amu, s.as ([D][K][L]) and s.aa ([K][L]).
template <bool PL>
MIXGRAD_INLINE void reverse_unit(const Dims& dm, const Prepared& p, Scratch& s) {
  const std::size_t K = dm.K, D = dm.D;
  std::fill(s.lam.begin(), s.lam.end(), 0.0);
  for (std::size_t d = D; d-- > 0;) {
    const std::size_t o = d * K * L;
    detail::reverse_coordinate<PL>(K, d, p.invs.data(), s.z.data() + o, s.r.data() + o, s.term.data() + o,
                                   s.igr.data() + d * L, s.igt.data() + d * L, s.gx.data() + d * L, s.lam.data(),
                                   s.amu.data() + o, s.as.data() + o);
  }
  for (std::size_t i = 0; i < K * L; ++i) s.aa[i] += s.lam[i];
}

}  // namespace mixgrad::mixture
