// Q(|v|) = Phi(-|v|) exp(v^2/2) over a block of the mixture kernels' arrays, by the cheaper
// bounded form wherever the whole block lies within its range (nearly always: |z| <= 10).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>

#include "mixgrad/config.hpp"
#include "mixgrad/special.hpp"

namespace mixgrad::mixture {

// q[i] = Q(|v[i]|) for i < n: special::scaled_lower_tail_bounded (Rough: _rough) up to
// kScaledTailBoundedMax, special::scaled_lower_tail_rational beyond. The bounded form goes over
// the whole block while the same loop finds the largest |v[i]| (in registers: the callers'
// passes that form v then keep no running maximum); where one lies beyond the bounded range, the
// groups of four that hold one take the rational form there (the quantile's trial points leave a
// few in most of its blocks: recomputing whole blocks took 4% of the W1 quantile on Zen 3, AVX2).
// The form is chosen per element, so an element's value does not depend on its neighbours.
template <bool Rough = false>
MIXGRAD_INLINE void scaled_tail_block(const double* v, double* q, std::size_t n) {
  double amax = 0.0;
#pragma omp simd reduction(max : amax)
  for (std::size_t i = 0; i < n; ++i) {
    const double a = std::fabs(v[i]);
    amax = a > amax ? a : amax;  // NaN is skipped: both forms give NaN for it
    q[i] = Rough ? special::scaled_lower_tail_rough(a) : special::scaled_lower_tail_bounded(a);
  }
  if (amax <= special::kScaledTailBoundedMax) return;
  constexpr std::size_t G = 4;
  for (std::size_t i0 = 0; i0 < n; i0 += G) {
    const std::size_t i1 = std::min(n, i0 + G);
    bool beyond = false;
    for (std::size_t i = i0; i < i1; ++i) beyond |= std::fabs(v[i]) > special::kScaledTailBoundedMax;
    if (!beyond) continue;
#pragma omp simd
    for (std::size_t i = i0; i < i1; ++i) {
      const double a = std::fabs(v[i]);
      q[i] = a > special::kScaledTailBoundedMax ? special::scaled_lower_tail_rational(a) : q[i];
    }
  }
}

}  // namespace mixgrad::mixture
