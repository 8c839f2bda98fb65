// softplus and the logistic sigmoid (with its slope), without overflow, and a vectorizable expm1.
#pragma once

#include <cmath>

#include "mixgrad/config.hpp"
#include "mixgrad/elementary.hpp"

namespace mixgrad::rebar {

MIXGRAD_INLINE double softplus(double x) {
  const double m = x > 0.0 ? x : 0.0;
  return m + elem::log1p(elem::exp_nonpositive(-std::fabs(x)));
}

// sigmoid(x) and sigmoid(x)(1 - sigmoid(x)) without overflow.
MIXGRAD_INLINE void sigmoid_and_slope(double x, double& s, double& ds) {
  const double t = elem::exp_nonpositive(-std::fabs(x));
  const double inv = 1.0 / (1.0 + t);
  s = x >= 0.0 ? inv : t * inv;
  ds = t * inv * inv;
}

MIXGRAD_INLINE double sigmoid(double x) {
  double s, ds;
  sigmoid_and_slope(x, s, ds);
  return s;
}

}  // namespace mixgrad::rebar
