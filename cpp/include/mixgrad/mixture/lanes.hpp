// Lanes: the mixture kernels work on units of L rows, one per lane, with per-(d, k) arrays laid
// out [d][k][lane]; the lane width, the shapes (Dims), lane indexing and a per-lane log-sum-exp.
#pragma once

#include <cstddef>
#include <limits>

#include "mixgrad/config.hpp"
#include "mixgrad/elementary.hpp"

namespace mixgrad::mixture {

// The mixture kernels work on L = 8 lanes of doubles, one AVX-512 register.
inline constexpr std::size_t L = 8;  // lanes per unit
inline constexpr double kNegInf = -std::numeric_limits<double>::infinity();
inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct Dims {
  std::size_t B = 1, K = 1, D = 1;
};

// The per-coordinate hook of the forward and quantile recurrences, called with d at the start of
// coordinate d: the diagonal kernels need none; full covariance sets the locations there.
struct NoCoordinateHook {
  MIXGRAD_INLINE void operator()(std::size_t) const {}
};

namespace detail {

template <bool PL>
MIXGRAD_INLINE std::size_t at(std::size_t j, std::size_t l) {
  if constexpr (PL)
    return j * L + l;
  else
    return j;
}

// Per-lane log-sum-exp over k of v[k*W + l], into out[l] (-inf where every term is -inf).
template <std::size_t W>
MIXGRAD_INLINE void lse_lanes(const double* v, std::size_t K, double* out) {
  alignas(64) double M[W], S[W];
#pragma omp simd
  for (std::size_t l = 0; l < W; ++l) {
    M[l] = kNegInf;
    S[l] = 0.0;
  }
  for (std::size_t k = 0; k < K; ++k) {
#pragma omp simd
    for (std::size_t l = 0; l < W; ++l) M[l] = v[k * W + l] > M[l] ? v[k * W + l] : M[l];
  }
  for (std::size_t k = 0; k < K; ++k) {
#pragma omp simd
    for (std::size_t l = 0; l < W; ++l) S[l] += elem::exp(M[l] == kNegInf ? 0.0 : v[k * W + l] - M[l]);
  }
#pragma omp simd
  for (std::size_t l = 0; l < W; ++l) out[l] = M[l] == kNegInf ? kNegInf : M[l] + elem::log(S[l]);
}

}  // namespace detail

}  // namespace mixgrad::mixture
