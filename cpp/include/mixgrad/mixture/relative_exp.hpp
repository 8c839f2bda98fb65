// The exponential of a log-weight relative to the largest one (y <= 0), as the mixture kernels
// use it for unnormalized weights: one scaling by 2^n instead of elem::exp's two, no overflow
// branch, and results below 2^-1021 (e^-708) flushed to 0.
#pragma once

#include <cstdint>

#include "mixgrad/config.hpp"
#include "mixgrad/elementary.hpp"

namespace mixgrad::mixture {

// Below this argument relative_exp returns 0: a weight under e^-708 of the largest one changes
// no sum of weights, and its own contribution is below every tolerance (section 3.1 in log space).
inline constexpr double kRelativeExpFloor = -708.0;

// e^y for y <= 0 (y = -inf gives 0, NaN gives NaN); 0 for y < kRelativeExpFloor. Accurate as
// elem::exp wherever the result is a normal number.
MIXGRAD_INLINE double relative_exp(double y) {
  const double yc = y < kRelativeExpFloor ? kRelativeExpFloor : y;  // NaN passes through
  std::int64_t n;
  const double p = elem::exp_mantissa(yc, n);  // n >= -1022: 2^n is a normal number
  const double v = p * elem::pow2_int(n);
  return y < kRelativeExpFloor ? 0.0 : v;
}

}  // namespace mixgrad::mixture
