// Q(|v|) = Phi(-|v|) exp(v^2/2) over a block of the mixture kernels' arrays, by the cheaper
// bounded form wherever the whole block lies within its range (nearly always: |z| <= 10).
#pragma once

#include <cmath>
#include <cstddef>

#include "mixgrad/config.hpp"
#include "mixgrad/special.hpp"

namespace mixgrad::mixture {

// q[i] = special::scaled_lower_tail_split(|v[i]|) for i < n. The bounded form goes over the whole
// block while the same loop finds the largest |v[i]| (in registers: the callers' passes that form
// v then keep no running maximum); a block with one beyond the bounded range is computed again
// by the split form. The value is chosen per element: the same results either way.
MIXGRAD_INLINE void scaled_tail_block(const double* v, double* q, std::size_t n) {
  double amax = 0.0;
#pragma omp simd reduction(max : amax)
  for (std::size_t i = 0; i < n; ++i) {
    const double a = std::fabs(v[i]);
    amax = a > amax ? a : amax;  // NaN is skipped: both forms give NaN for it
    q[i] = special::scaled_lower_tail_bounded(a);
  }
  if (amax <= special::kScaledTailBoundedMax) return;
#pragma omp simd
  for (std::size_t i = 0; i < n; ++i) q[i] = special::scaled_lower_tail_split(std::fabs(v[i]));
}

}  // namespace mixgrad::mixture
