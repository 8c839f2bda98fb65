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

// The reverse recurrence of section 3.3 over one unit (after forward_unit<PL, Vjp>): adds each
// lane's gradient into the accumulators s.amu, s.as ([D][K][L]) and s.aa ([K][L]).
template <bool PL>
MIXGRAD_INLINE void reverse_unit(const Dims& dm, const Prepared& p, Scratch& s) {
  const std::size_t K = dm.K, D = dm.D;
  double* lam = s.lam.data();
  const double* invs = p.invs.data();
  alignas(64) double xbar[L];
  std::fill(s.lam.begin(), s.lam.end(), 0.0);
  for (std::size_t d = D; d-- > 0;) {
    const double* zd = s.z.data() + d * K * L;
    const double* rd = s.r.data() + d * K * L;
    const double* td = s.term.data() + d * K * L;
    double* amu = s.amu.data() + d * K * L;
    double* as = s.as.data() + d * K * L;
#pragma omp simd
    for (std::size_t l = 0; l < L; ++l) xbar[l] = s.gx[d * L + l];
    for (std::size_t k = 0; k < K; ++k) {
#pragma omp simd
      for (std::size_t l = 0; l < L; ++l)
        xbar[l] -= lam[k * L + l] * zd[k * L + l] * invs[detail::at<PL>(d * K + k, l)];
    }
    for (std::size_t k = 0; k < K; ++k) {
#pragma omp simd
      for (std::size_t l = 0; l < L; ++l) {
        const std::size_t i = k * L + l;
        const double is = invs[detail::at<PL>(d * K + k, l)];
        const double zz = zd[i];
        const double lm = lam[i];
        const double xr = xbar[l] * rd[i];
        amu[i] += lm * zz * is + xr;
        as[i] += lm * (zz * zz - 1.0) * is + xr * zz;
        lam[i] = lm - xbar[l] * td[i];
      }
    }
  }
  for (std::size_t i = 0; i < K * L; ++i) s.aa[i] += lam[i];
}

}  // namespace mixgrad::mixture
