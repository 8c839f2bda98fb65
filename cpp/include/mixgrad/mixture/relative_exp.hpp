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

// e^y = p 2^n as elem::exp_mantissa, to a relative error below 2e-12, for the quantile's first
// evaluation, which only aims the next (diag/quantile.hpp): a polynomial of degree 8
// (tools/fit_special_coefficients.py, exp_rough) and the argument reduced by one multiply-add,
// four multiply-adds fewer than elem::exp_mantissa. y as there.
MIXGRAD_INLINE double exp_mantissa_rough(double y, std::int64_t& n) {
  static constexpr double c[8] = {9.9999999999546997143e-1,  5.00000000012345540699e-1, 1.66666667874152245974e-1,
                                  4.16666659381955015201e-2, 8.33328317774954644339e-3, 1.38889794977788442416e-3,
                                  1.99078333164028153138e-4, 2.48015072311381361757e-5};
  const double kd = y * elem::kInvLn2 + elem::kRoundShifter;
  n = static_cast<std::int64_t>(elem::bits_of(kd) - elem::bits_of(elem::kRoundShifter));
  const double nd = kd - elem::kRoundShifter;
  constexpr double ln2 = 0.693147180559945309417;
  const double r = y - nd * ln2;  // |r| <= 0.347, off by at most 2^-53 |y| <= 8e-14
  return 1.0 + r * elem::poly2(c, r);
}

// e^y for y <= 0 (y = -inf gives 0, NaN gives NaN); 0 for y < kRelativeExpFloor. Accurate as
// elem::exp wherever the result is a normal number; Rough: to 2e-12 (exp_mantissa_rough).
template <bool Rough = false>
MIXGRAD_INLINE double relative_exp(double y) {
  const double yc = y < kRelativeExpFloor ? kRelativeExpFloor : y;  // NaN passes through
  std::int64_t n;
  // n >= -1022: 2^n is a normal number
  const double p = Rough ? exp_mantissa_rough(yc, n) : elem::exp_mantissa(yc, n);
  const double v = p * elem::pow2_int(n);
  return y < kRelativeExpFloor ? 0.0 : v;
}

}  // namespace mixgrad::mixture
