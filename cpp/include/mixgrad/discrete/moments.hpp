// Running per-coordinate means and sums of squared deviations: one more sample (Welford) and
// the merge of two sets (Chan et al.).
#pragma once

#include <cstddef>

#include "mixgrad/config.hpp"

namespace mixgrad::rebar {

// Welford update of running means/M2 with one more sample x (n samples after it).
static MIXGRAD_SIMD_CLONES void welford_add(std::size_t nq, double inv_n, const double* x, double* mean, double* m2) {
#pragma omp simd
  for (std::size_t q = 0; q < nq; ++q) {
    const double delta = x[q] - mean[q];
    mean[q] += delta * inv_n;
    m2[q] += delta * (x[q] - mean[q]);
  }
}

inline void chan_merge(double& n_a, double& mean_a, double& m2_a, double n_b, double mean_b, double m2_b) {
  const double n = n_a + n_b;
  if (n_b == 0.0) return;
  const double delta = mean_b - mean_a;
  mean_a += delta * (n_b / n);
  m2_a += m2_b + delta * delta * (n_a * n_b / n);
  n_a = n;
}

}  // namespace mixgrad::rebar
