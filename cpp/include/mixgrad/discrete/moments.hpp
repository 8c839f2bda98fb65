// Running per-coordinate means and sums of squared deviations: one more sample (Welford) and
// the merge of two sets (Chan et al.).
#pragma once

#include <cstddef>

#include "mixgrad/config.hpp"
#include "mixgrad/double4.hpp"

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

// The mean and M2 of n >= 1 values in one pass: their sum with eight partial sums in a fixed
// order, and the sum of (x - c)^2 likewise with c = x[0], from which
// M2 = sum (x - c)^2 - n (mean - c)^2. The subtraction loses at most log2(n) bits: a value lies
// within sqrt(n - 1) population standard deviations of the mean (Samuelson), so the sum about c
// is at most n M2. (Two passes, four partial sums each, cost REBAR's fast path at D = 1 5% more.)
struct MeanM2 {
  double mean, m2;
};

MIXGRAD_SIMD_KERNEL MeanM2 mean_m2_one_pass_kernel(std::size_t n, const double* x) {
  // Lane l of a0 sums the values of i = l (mod 8), lane l of a1 those of i = 4 + l (mod 8).
  const double c = x[0];
  const double4 cv = {c, c, c, c};
  double4 a0 = {0.0, 0.0, 0.0, 0.0}, a1 = a0, q0 = a0, q1 = a0;
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    double4 v0, v1;
    load_double4(x + i, v0);
    load_double4(x + i + 4, v1);
    a0 += v0;
    a1 += v1;
    q0 += (v0 - cv) * (v0 - cv);
    q1 += (v1 - cv) * (v1 - cv);
  }
  const double4 a = a0 + a1, q = q0 + q1;
  double sa = sum_lanes(a), sq = sum_lanes(q);
  for (; i < n; ++i) {
    sa += x[i];
    sq += (x[i] - c) * (x[i] - c);
  }
  const double fn = static_cast<double>(n);
  const double mean = sa * (1.0 / fn);
  const double d = mean - c, m2 = sq - fn * (d * d);
  return {mean, m2 < 0.0 ? 0.0 : m2};  // rounding may leave it below 0; NaN stays NaN
}
MIXGRAD_SIMD_DISPATCH(mean_m2_one_pass)

// Merges the estimates of one chunk (m samples of nq values, x[c * nq + q]) into running
// means/M2 that hold n_a samples: Welford for one sample; for a chunk that is a single
// coordinate of the whole call (width 1), its mean and M2 in one pass, then Chan; else
// merge_chunk_moments (cmean, cm2: nq scratch each).
inline void merge_chunk(std::size_t m, std::size_t nq, std::size_t width, double n_a, const double* x, double* cmean,
                        double* cm2, double* mean, double* m2) {
  if (m == 1) {
    welford_add(nq, 1.0 / (n_a + 1.0), x, mean, m2);
  } else if (width == 1) {
    const MeanM2 chunk = mean_m2_one_pass(m, x);
    double na = n_a;
    chan_merge(na, mean[0], m2[0], static_cast<double>(m), chunk.mean, chunk.m2);
  } else {
    merge_chunk_moments(m, nq, n_a, x, cmean, cm2, mean, m2);
  }
}

}  // namespace mixgrad::rebar
