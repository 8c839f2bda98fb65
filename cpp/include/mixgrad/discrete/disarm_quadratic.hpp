// Bernoulli DisARM on the quadratic objective f(b) = mean_e (b_e - t_e)^2, fused: the estimates
// come straight from the pairs' words (disarm_words.hpp) without the draws or f's values.
//
// On {0, 1}, with d = b0 - b1, f(b0) - f(b1) = mean_e d_e (b0_e + b1_e - 2 t_e) = mean_e d_e (1 - 2 t_e)
// (b0_e + b1_e = 1 wherever d_e != 0), so per row g_e = w d_e sigmoid(|alpha_e|) with
// w = 1/2 mean_e d_e (1 - 2 t_e).
#pragma once

#include <climits>
#include <cstddef>
#include <cstdint>

#include "mixgrad/config.hpp"
#include "mixgrad/discrete/disarm_words.hpp"
#include "mixgrad/discrete/moments.hpp"
#include "mixgrad/discrete/philox_fill.hpp"

namespace mixgrad::rebar {

// One coordinate, from the pair's draws b0, b1: g = k (b0 - b1)(b0 + b1 - 2t)(b0 - b1),
// k = sigmoid(|alpha|) / 2.
MIXGRAD_INLINE double disarm_quadratic_one_value(double b0, double b1, double t, double k) {
  return k * ((b0 - b1) * (b0 + b1 - 2.0 * t)) * (b0 - b1);
}

// The same straight from the pairs' words w[c] (thresholds x0, x1 as disarm_decide's): on {0, 1}
// the estimate is c1 = disarm_quadratic_one_value(1, 0, t, k) where b0 != b1 (the value at
// (0, 1) is the same: both sign flips are exact) and 0 elsewhere. Nonzero when some word ties a
// threshold (those g[c] are then recomputed after disarm_settle_one).
MIXGRAD_SIMD_KERNEL std::uint64_t disarm_quadratic_one_kernel(std::size_t m, const std::uint32_t* w, double x0,
                                                              double x1, double c1, double* g) {
  std::uint64_t any = 0;
#pragma omp simd reduction(| : any)
  for (std::size_t c = 0; c < m; ++c) {
    const double v = disarm_word_value(w[c]);
    g[c] = (v < x0) != (v > x1) ? c1 : 0.0;
    any |= static_cast<std::uint64_t>((v == x0) | (v == x1));
  }
  return any;
}
MIXGRAD_SIMD_DISPATCH(disarm_quadratic_one)

// The row's weight w is a sum of E terms d_e (1 - 2 t_e) in eight partial sums (lane e % 8, each
// in order of e), so that the AVX2 kernel's two accumulator chains overlap (a sum over four lanes
// waits on the latency of its multiply-add); the portable kernel adds in the same order.
MIXGRAD_INLINE double disarm_row_weight(const double* a, std::size_t E) {
  const double s = ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));
  return 0.5 * (s * (1.0 / static_cast<double>(E)));
}

MIXGRAD_INLINE double disarm_row_term(double d, double t) {
  return d * (1.0 - 2.0 * t);
}

// Thresholds as disarm_decide's, as signed 32-bit integers: x0 ^ 2^31, x1 ^ 2^31, compared with
// the words flipped likewise (the unsigned order becomes the signed one).
MIXGRAD_INLINE std::int32_t disarm_flip(std::uint32_t x) {
  return static_cast<std::int32_t>(x ^ 0x80000000u);
}

// Elements [e0, E) of disarm_row_differences into the partial sums a, one at a time.
inline std::uint64_t disarm_row_differences_from(std::size_t e0, std::size_t E, const std::uint32_t* w,
                                                 const std::int32_t* x0, const std::int32_t* x1, const double* t,
                                                 double* d, double* a) {
  std::uint64_t any = 0;
  for (std::size_t e = e0; e < E; ++e) {
    const std::int32_t v = disarm_flip(w[e]);
    const double de = (v < x0[e] ? 1.0 : 0.0) - (v > x1[e] ? 1.0 : 0.0);
    d[e] = de;
    a[e % 8] += disarm_row_term(de, t[e]);
    any |= static_cast<std::uint64_t>((v == x0[e]) | (v == x1[e]));
  }
  return any;
}

#if defined(MIXGRAD_PHILOX_FILL_X86)
// Eight words a step: compares in 32-bit lanes, d = b0 - b1 = (mask of b1) - (mask of b0)
// converted to doubles.
__attribute__((target("avx2,fma"))) inline std::uint64_t disarm_row_differences_avx2(
    std::size_t E, const std::uint32_t* w, const std::int32_t* x0, const std::int32_t* x1, const double* t, double* d,
    double& weight) {
  const __m256i flip = _mm256_set1_epi32(INT32_MIN);
  const __m256d one = _mm256_set1_pd(1.0), two = _mm256_set1_pd(2.0);
  __m256d acc0 = _mm256_setzero_pd(), acc1 = _mm256_setzero_pd();
  __m256i tie = _mm256_setzero_si256();
  std::size_t e = 0;
  for (; e + 8 <= E; e += 8) {
    const __m256i v = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + e)), flip);
    const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x0 + e));
    const __m256i hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x1 + e));
    const __m256i di = _mm256_sub_epi32(_mm256_cmpgt_epi32(v, hi), _mm256_cmpgt_epi32(lo, v));
    tie = _mm256_or_si256(tie, _mm256_or_si256(_mm256_cmpeq_epi32(v, lo), _mm256_cmpeq_epi32(v, hi)));
    const __m256d d0 = _mm256_cvtepi32_pd(_mm256_castsi256_si128(di));
    const __m256d d1 = _mm256_cvtepi32_pd(_mm256_extracti128_si256(di, 1));
    _mm256_storeu_pd(d + e, d0);
    _mm256_storeu_pd(d + e + 4, d1);
    acc0 = _mm256_fmadd_pd(d0, _mm256_fnmadd_pd(two, _mm256_loadu_pd(t + e), one), acc0);
    acc1 = _mm256_fmadd_pd(d1, _mm256_fnmadd_pd(two, _mm256_loadu_pd(t + e + 4), one), acc1);
  }
  double a[8];
  _mm256_storeu_pd(a, acc0);
  _mm256_storeu_pd(a + 4, acc1);
  std::uint64_t any = static_cast<std::uint64_t>(!_mm256_testz_si256(tie, tie));
  any |= disarm_row_differences_from(e, E, w, x0, x1, t, d, a);
  weight = disarm_row_weight(a, E);
  return any;
}
#endif

// One row: d[e] = b0_e - b1_e from the pairs' words, and its weight w in one pass. Nonzero when
// some word ties a threshold (then d and w are to be settled: disarm_row_weight_from).
inline std::uint64_t disarm_row_differences(std::size_t E, const std::uint32_t* w, const std::int32_t* x0,
                                            const std::int32_t* x1, const double* t, double* d, double& weight) {
#if defined(MIXGRAD_PHILOX_FILL_X86) && defined(MIXGRAD_HAVE_SIMD_LEVELS)
  if (cpu::level() >= cpu::x86_64_v3) return disarm_row_differences_avx2(E, w, x0, x1, t, d, weight);
#elif defined(MIXGRAD_PHILOX_FILL_X86) && defined(__AVX2__) && defined(__FMA__)
  return disarm_row_differences_avx2(E, w, x0, x1, t, d, weight);
#endif
  double a[8] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
  const std::uint64_t any = disarm_row_differences_from(0, E, w, x0, x1, t, d, a);
  weight = disarm_row_weight(a, E);
  return any;
}

// The row's weight from settled differences d (the same sums as disarm_row_differences).
inline double disarm_row_weight_from(std::size_t E, const double* t, const double* d) {
  double a[8] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
  for (std::size_t e = 0; e < E; ++e) a[e % 8] += disarm_row_term(d[e], t[e]);
  return disarm_row_weight(a, E);
}

// g_e = w d_e c_e; with mean non-null, g also joins the running moments (mean, m2; inv_n = 1 /
// the count after it) in the same pass, and g may be null (not stored).
MIXGRAD_SIMD_KERNEL void disarm_row_scale_kernel(std::size_t E, double w, const double* d, const double* cf, double* g,
                                                 double inv_n, double* mean, double* m2) {
  if (!mean) {
#pragma omp simd
    for (std::size_t e = 0; e < E; ++e) g[e] = w * d[e] * cf[e];
  } else if (!g) {
#pragma omp simd
    for (std::size_t e = 0; e < E; ++e) welford_step(w * d[e] * cf[e], inv_n, mean[e], m2[e]);
  } else {
#pragma omp simd
    for (std::size_t e = 0; e < E; ++e) {
      const double ge = w * d[e] * cf[e];
      g[e] = ge;
      welford_step(ge, inv_n, mean[e], m2[e]);
    }
  }
}
MIXGRAD_SIMD_DISPATCH(disarm_row_scale)

}  // namespace mixgrad::rebar
