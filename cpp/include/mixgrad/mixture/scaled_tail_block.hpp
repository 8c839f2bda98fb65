// Q(|v|) = Phi(-|v|) exp(v^2/2) over a block of the mixture kernels' arrays, by the cheaper
// bounded form wherever the whole block lies within its range (nearly always: |z| <= 10).
#pragma once

#include <cmath>
#include <cstddef>

#include "mixgrad/config.hpp"
#include "mixgrad/special.hpp"

namespace mixgrad::mixture {

// q[i] = special::scaled_lower_tail_split(|v[i]|) for i < n, given lane_max[0 .. lanes), per-lane
// bounds whose largest is >= every |v[i]| that is not NaN. The loop is chosen per block, the
// value per element: the same results either way.
MIXGRAD_INLINE void scaled_tail_block(const double* v, double* q, std::size_t n, const double* lane_max,
                                      std::size_t lanes) {
  double amax = 0.0;
  for (std::size_t l = 0; l < lanes; ++l) amax = lane_max[l] > amax ? lane_max[l] : amax;
  if (amax <= special::kScaledTailBoundedMax) {
#pragma omp simd
    for (std::size_t i = 0; i < n; ++i) q[i] = special::scaled_lower_tail_bounded(std::fabs(v[i]));
  } else {
#pragma omp simd
    for (std::size_t i = 0; i < n; ++i) q[i] = special::scaled_lower_tail_split(std::fabs(v[i]));
  }
}

}  // namespace mixgrad::mixture
