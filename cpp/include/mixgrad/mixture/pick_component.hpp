// Choosing a component: cumulative mixing weights of a block of mixtures and the component a
// uniform picks from them (row i uses Philox counter (i, 0)).
#pragma once

#include <cstddef>

#include "mixgrad/config.hpp"
#include "mixgrad/elementary.hpp"
#include "mixgrad/mixture/lanes.hpp"

namespace mixgrad::mixture {

// Cumulative mixing weights of n <= kWeightBlock mixtures: on entry cw[k*n + b] holds logit k of
// mixture b; on exit the cumulative weight, with exactly 1 from the last positive weight on.
inline constexpr std::size_t kWeightBlock = 64;
MIXGRAD_SIMD_KERNEL void cumulative_weights_kernel(std::size_t n, std::size_t K, double* cw) {
  alignas(64) double M[kWeightBlock], S[kWeightBlock], C[kWeightBlock], last[kWeightBlock];
#pragma omp simd
  for (std::size_t b = 0; b < n; ++b) {
    M[b] = kNegInf;
    S[b] = 0.0;
    C[b] = 0.0;
    last[b] = 0.0;
  }
  for (std::size_t k = 0; k < K; ++k) {
#pragma omp simd
    for (std::size_t b = 0; b < n; ++b) M[b] = cw[k * n + b] > M[b] ? cw[k * n + b] : M[b];
  }
  for (std::size_t k = 0; k < K; ++k) {
    const double kd = static_cast<double>(k);
#pragma omp simd
    for (std::size_t b = 0; b < n; ++b) {
      const double v = elem::exp(cw[k * n + b] - M[b]);
      cw[k * n + b] = v;
      S[b] += v;
      last[b] = v > 0.0 ? kd : last[b];
    }
  }
#pragma omp simd
  for (std::size_t b = 0; b < n; ++b) S[b] = 1.0 / S[b];
  for (std::size_t k = 0; k < K; ++k) {
    const double kd = static_cast<double>(k);
#pragma omp simd
    for (std::size_t b = 0; b < n; ++b) {
      C[b] += cw[k * n + b] * S[b];
      cw[k * n + b] = kd >= last[b] ? 1.0 : C[b];
    }
  }
}
MIXGRAD_SIMD_DISPATCH(cumulative_weights)

// First k with u < c[k] (c non-decreasing, c[K-1] = 1 > u). Up to kLinearPickMax components it
// counts the c[j] <= u, which is the same index and has no branch to mispredict (the binary
// search's branches cost ~8% of sampling W1, K = 8); beyond, the binary search.
inline constexpr std::size_t kLinearPickMax = 32;
MIXGRAD_INLINE std::size_t pick_component(const double* c, std::size_t K, double u) {
  if (K <= kLinearPickMax) {
    std::size_t k = 0;
    for (std::size_t j = 0; j + 1 < K; ++j) k += c[j] <= u;
    return k;
  }
  std::size_t lo = 0, hi = K - 1;
  while (lo < hi) {
    const std::size_t mid = (lo + hi) / 2;
    if (u < c[mid])
      hi = mid;
    else
      lo = mid + 1;
  }
  return lo;
}

}  // namespace mixgrad::mixture
