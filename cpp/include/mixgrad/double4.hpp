// Four doubles in a GCC/Clang vector-extension register, for partial sums in a fixed order:
// held in arrays of four instead, GCC vectorized such loops into in-order scalar additions.
#pragma once

#include <cstring>

#include "mixgrad/config.hpp"

namespace mixgrad {

using double4 = double __attribute__((vector_size(32)));

// v = x[0 .. 3] (no alignment needed). Vectors go by reference here: passed or returned by value,
// their ABI would differ between the baseline and the AVX copies (-Wpsabi).
MIXGRAD_INLINE void load_double4(const double* x, double4& v) {
  std::memcpy(&v, x, sizeof v);
}

// (v0 + v1) + (v2 + v3).
MIXGRAD_INLINE double sum_lanes(const double4& v) {
  return (v[0] + v[1]) + (v[2] + v[3]);
}

}  // namespace mixgrad
