// Element-wise array versions of the vectorizable special functions, compiled once per ISA level
// (MIXGRAD_SIMD_DISPATCH, cpu_dispatch.hpp).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>

#include "mixgrad/config.hpp"
#include "mixgrad/special.hpp"

namespace mixgrad::special::arrays {

// float32 is computed in double and rounded once, so it is correctly rounded except in rare
// double-rounding cases (at most 1 float32 ulp off the float64 result).
#define MIXGRAD_UNARY_ARRAY(NAME, FN)                                                                                 \
  MIXGRAD_SIMD_KERNEL void NAME##_kernel(const double* x, double* y, std::size_t n) {                                 \
    _Pragma("omp simd") for (std::size_t i = 0; i < n; ++i) y[i] = FN(x[i]);                                          \
  }                                                                                                                   \
  MIXGRAD_SIMD_KERNEL void NAME##_kernel(const float* x, float* y, std::size_t n) {                                   \
    _Pragma("omp simd") for (std::size_t i = 0; i < n; ++i) y[i] = static_cast<float>(FN(static_cast<double>(x[i]))); \
  }                                                                                                                   \
  MIXGRAD_SIMD_DISPATCH(NAME)

MIXGRAD_UNARY_ARRAY(ndtr, special::ndtr)
MIXGRAD_UNARY_ARRAY(log_ndtr, special::log_ndtr)
MIXGRAD_UNARY_ARRAY(erfcx, special::erfcx)

#undef MIXGRAD_UNARY_ARRAY

namespace detail {

MIXGRAD_INLINE double ndtri_central_only(double p) {
  return special::detail::as241_central(p - 0.5);
}

MIXGRAD_SIMD_KERNEL void ndtri_central_pass_kernel(const double* p, double* y, std::size_t n) {
#pragma omp simd
  for (std::size_t i = 0; i < n; ++i) y[i] = ndtri_central_only(p[i]);
}

MIXGRAD_SIMD_DISPATCH(ndtri_central_pass)

MIXGRAD_SIMD_KERNEL void ndtri_full_pass_kernel(const double* p, double* y, std::size_t n) {
#pragma omp simd
  for (std::size_t i = 0; i < n; ++i) y[i] = special::ndtri(p[i]);
}

MIXGRAD_SIMD_DISPATCH(ndtri_full_pass)

}  // namespace detail

// ndtri in two vectorized passes per chunk: the cheap central rational for every element, then
// the full function (log, sqrt, tail rationals) only for the elements outside |p - 1/2| <= 0.425,
// gathered into a contiguous buffer. Uniform p thus pays the tail cost on 15% of the elements.
// Each element's value is that of special::ndtri; chunking depends only on position.
template <class T>
void ndtri(const T* p, T* y, std::size_t n) {
  constexpr std::size_t C = 256;
  double pin[C], pout[C], tin[C], tout[C];
  std::size_t idx[C];
  for (std::size_t s = 0; s < n; s += C) {
    const std::size_t m = std::min(C, n - s);
    for (std::size_t i = 0; i < m; ++i) pin[i] = static_cast<double>(p[s + i]);
    detail::ndtri_central_pass(pin, pout, m);
    std::size_t k = 0;
    for (std::size_t i = 0; i < m; ++i) {  // branch-free compaction: tail, 0, 1, out of range, NaN
      idx[k] = i;
      tin[k] = pin[i];
      k += !(std::fabs(pin[i] - 0.5) <= 0.425);
    }
    detail::ndtri_full_pass(tin, tout, k);
    for (std::size_t j = 0; j < k; ++j) pout[idx[j]] = tout[j];
    for (std::size_t i = 0; i < m; ++i) y[s + i] = static_cast<T>(pout[i]);
  }
}

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
