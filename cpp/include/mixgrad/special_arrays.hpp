// Element-wise array versions of the vectorizable special functions, compiled per ISA level
// (MIXGRAD_SIMD_CLONES). Include from a single translation unit: each function becomes an
// ifunc whose resolver picks the AVX2+FMA or the baseline clone at load time.
#pragma once

#include <cstddef>

#include "mixgrad/config.hpp"
#include "mixgrad/special.hpp"

namespace mixgrad::special::arrays {

// float32 is computed in double and rounded once, so it is correctly rounded except in rare
// double-rounding cases (at most 1 float32 ulp off the float64 result).
#define MIXGRAD_UNARY_ARRAY(NAME, FN)                                                   \
  MIXGRAD_SIMD_CLONES inline void NAME(const double* x, double* y, std::size_t n) {    \
    _Pragma("omp simd") for (std::size_t i = 0; i < n; ++i) y[i] = FN(x[i]);           \
  }                                                                                    \
  MIXGRAD_SIMD_CLONES inline void NAME(const float* x, float* y, std::size_t n) {      \
    _Pragma("omp simd") for (std::size_t i = 0; i < n; ++i) y[i] =                      \
        static_cast<float>(FN(static_cast<double>(x[i])));                             \
  }

MIXGRAD_UNARY_ARRAY(ndtr, special::ndtr)
MIXGRAD_UNARY_ARRAY(log_ndtr, special::log_ndtr)
MIXGRAD_UNARY_ARRAY(ndtri, special::ndtri)
MIXGRAD_UNARY_ARRAY(erfcx, special::erfcx)

#undef MIXGRAD_UNARY_ARRAY

// The scalar-path functions: branches, no vectorization.
template <class T>
void ndtri_exp(const T* x, T* y, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) y[i] = static_cast<T>(special::ndtri_exp(static_cast<double>(x[i])));
}

template <class T>
void log_ndtr_diff(const T* a, const T* b, T* y, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    y[i] = static_cast<T>(special::log_ndtr_diff(static_cast<double>(a[i]), static_cast<double>(b[i])));
}

}  // namespace mixgrad::special::arrays
