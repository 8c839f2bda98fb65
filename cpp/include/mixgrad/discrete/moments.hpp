// Running per-coordinate means and sums of squared deviations: one more sample (Welford) and
// the merge of two sets (Chan et al.).
#pragma once

#include <cstddef>

#include "mixgrad/config.hpp"

namespace mixgrad::rebar {

// Welford update of running means/M2 with one more sample x (n samples after it).
MIXGRAD_INLINE void welford_step(double x, double inv_n, double& mean, double& m2) {
  const double delta = x - mean;
  mean += delta * inv_n;
  m2 += delta * (x - mean);
}

MIXGRAD_SIMD_KERNEL void welford_add_kernel(std::size_t nq, double inv_n, const double* x, double* mean, double* m2) {
#pragma omp simd
  for (std::size_t q = 0; q < nq; ++q) welford_step(x[q], inv_n, mean[q], m2[q]);
}
MIXGRAD_SIMD_DISPATCH(welford_add)

inline void chan_merge(double& n_a, double& mean_a, double& m2_a, double n_b, double mean_b, double m2_b) {
  const double n = n_a + n_b;
  if (n_b == 0.0) return;
  const double delta = mean_b - mean_a;
  mean_a += delta * (n_b / n);
  m2_a += m2_b + delta * delta * (n_a * n_b / n);
  n_a = n;
}

// Merges a chunk of m >= 2 samples (rows of nq values: x[c * nq + q]) into running means/M2 that
// hold n_a samples: the chunk's own means and M2 (in cmean, cm2: nq scratch each), then Chan.
inline void merge_chunk_moments(std::size_t m, std::size_t nq, double n_a, const double* x, double* cmean, double* cm2,
                                double* mean, double* m2) {
  const double inv_m = 1.0 / static_cast<double>(m);
  for (std::size_t q = 0; q < nq; ++q) cmean[q] = cm2[q] = 0.0;
  for (std::size_t c = 0; c < m; ++c)
    for (std::size_t q = 0; q < nq; ++q) cmean[q] += x[c * nq + q];
  for (std::size_t q = 0; q < nq; ++q) cmean[q] *= inv_m;
  for (std::size_t c = 0; c < m; ++c)
    for (std::size_t q = 0; q < nq; ++q) {
      const double d = x[c * nq + q] - cmean[q];
      cm2[q] += d * d;
    }
  for (std::size_t q = 0; q < nq; ++q) {
    double na = n_a;
    chan_merge(na, mean[q], m2[q], static_cast<double>(m), cmean[q], cm2[q]);
  }
}

// Sums with four partial sums in a fixed order (vectorizes, unlike an omp simd reduction here).
MIXGRAD_SIMD_KERNEL double sum4_kernel(std::size_t n, const double* x) {
  double a[4] = {0.0, 0.0, 0.0, 0.0};
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4)
    for (std::size_t l = 0; l < 4; ++l) a[l] += x[i + l];
  for (; i < n; ++i) a[0] += x[i];
  return (a[0] + a[1]) + (a[2] + a[3]);
}
MIXGRAD_SIMD_DISPATCH(sum4)

MIXGRAD_SIMD_KERNEL double sum_sq_dev4_kernel(std::size_t n, const double* x, double mu) {
  double a[4] = {0.0, 0.0, 0.0, 0.0};
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4)
    for (std::size_t l = 0; l < 4; ++l) a[l] += (x[i + l] - mu) * (x[i + l] - mu);
  for (; i < n; ++i) a[0] += (x[i] - mu) * (x[i] - mu);
  return (a[0] + a[1]) + (a[2] + a[3]);
}

MIXGRAD_SIMD_DISPATCH(sum_sq_dev4)

// Merges the estimates of one chunk (m samples of nq values, x[c * nq + q]) into running
// means/M2 that hold n_a samples: Welford for one sample; for a chunk that is a single
// coordinate of the whole call (width 1), its mean and M2 by four partial sums, then Chan;
// else merge_chunk_moments (cmean, cm2: nq scratch each).
inline void merge_chunk(std::size_t m, std::size_t nq, std::size_t width, double n_a, const double* x, double* cmean,
                        double* cm2, double* mean, double* m2) {
  if (m == 1) {
    welford_add(nq, 1.0 / (n_a + 1.0), x, mean, m2);
  } else if (width == 1) {
    const double mu = sum4(m, x) * (1.0 / static_cast<double>(m));
    const double ss = sum_sq_dev4(m, x, mu);
    double na = n_a;
    chan_merge(na, mean[0], m2[0], static_cast<double>(m), mu, ss);
  } else {
    merge_chunk_moments(m, nq, n_a, x, cmean, cm2, mean, m2);
  }
}

}  // namespace mixgrad::rebar
