// softplus and the logistic sigmoid (with its slope), without overflow, and a vectorizable expm1.
#pragma once

#include <cmath>

#include "mixgrad/config.hpp"
#include "mixgrad/elementary.hpp"

namespace mixgrad::rebar {

MIXGRAD_INLINE double softplus(double x) {
  const double m = x > 0.0 ? x : 0.0;
  return m + elem::log1p(elem::exp(-std::fabs(x)));
}

// sigmoid(x) and sigmoid(x)(1 - sigmoid(x)) without overflow.
MIXGRAD_INLINE void sigmoid_and_slope(double x, double& s, double& ds) {
  const double t = elem::exp(-std::fabs(x));
  const double inv = 1.0 / (1.0 + t);
  s = x >= 0.0 ? inv : t * inv;
  ds = t * inv * inv;
}

MIXGRAD_INLINE double sigmoid(double x) {
  double s, ds;
  sigmoid_and_slope(x, s, ds);
  return s;
}

// expm1(x) for x <= 0.7, vectorizable: the Taylor series on (-1/2, 0.7] (truncation below 1e-17
// relative), exp(x) - 1 (no cancellation worth a bit there) below.
MIXGRAD_INLINE double expm1_moderate(double x) {
  static constexpr double c[16] = {1.0,
                                   1.0 / 2.0,
                                   1.0 / 6.0,
                                   1.0 / 24.0,
                                   1.0 / 120.0,
                                   1.0 / 720.0,
                                   1.0 / 5040.0,
                                   1.0 / 40320.0,
                                   1.0 / 362880.0,
                                   1.0 / 3628800.0,
                                   1.0 / 39916800.0,
                                   1.0 / 479001600.0,
                                   1.0 / 6227020800.0,
                                   1.0 / 87178291200.0,
                                   1.0 / 1307674368000.0,
                                   1.0 / 20922789888000.0};
  const double small = x * elem::poly4(c, x);
  return x > -0.5 ? small : elem::exp(x) - 1.0;
}

}  // namespace mixgrad::rebar
