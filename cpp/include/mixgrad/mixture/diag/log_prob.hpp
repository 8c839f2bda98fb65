// Diagonal mixtures: the log density of the rows of one unit.
#pragma once

#include <cmath>
#include <cstddef>

#include "mixgrad/config.hpp"
#include "mixgrad/mixture/diag/params.hpp"
#include "mixgrad/mixture/diag/scratch.hpp"
#include "mixgrad/mixture/lanes.hpp"
#include "mixgrad/special.hpp"

namespace mixgrad::mixture {

// log f(x) per lane: lse_k(log w_k + sum_d log N(x_d; mu_kd, sigma_kd)).
template <bool PL>
MIXGRAD_INLINE void logprob_unit(const Dims& dm, const Prepared& p, Scratch& s, double* out) {
  const std::size_t K = dm.K, D = dm.D;
  double* ell = s.ell.data();
  for (std::size_t k = 0; k < K; ++k) {
#pragma omp simd
    for (std::size_t l = 0; l < L; ++l) ell[k * L + l] = p.logw[detail::at<PL>(k, l)];
  }
  for (std::size_t d = 0; d < D; ++d)
    for (std::size_t k = 0; k < K; ++k) {
#pragma omp simd
      for (std::size_t l = 0; l < L; ++l) {
        const std::size_t j = detail::at<PL>(d * K + k, l);
        const double zz = (s.x[d * L + l] - p.mu[j]) * p.invs[j];
        ell[k * L + l] -= p.logs[j] + 0.5 * zz * zz;
      }
    }
  // All components at -inf (x at infinity) give log f = -inf rather than NaN.
  alignas(64) double lse[L];
  detail::lse_lanes<L>(ell, K, lse);
  const double c = static_cast<double>(D) * special::kHalfLog2Pi;
  for (std::size_t l = 0; l < L; ++l) {
    bool any_nan = false;
    for (std::size_t d = 0; d < D; ++d) any_nan |= std::isnan(s.x[d * L + l]);
    out[l] = any_nan ? kNaN : lse[l] - c;
  }
}

}  // namespace mixgrad::mixture
