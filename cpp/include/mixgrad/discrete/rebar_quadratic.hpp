// REBAR for a Bernoulli and the quadratic objective in one fused pass per event (values,
// gradients, chain rule and combination).
#pragma once

#include <cstddef>
#include <cstdint>

#include "mixgrad/config.hpp"
#include "mixgrad/discrete/moments.hpp"
#include "mixgrad/double4.hpp"

namespace mixgrad::rebar {

// sum_e (h_e - t_e)^2 and sum_e (s_e - t_e)^2, each with eight partial sums in a fixed order
// (double4.hpp): four chains of multiply-adds at once, where an omp simd reduction made two and
// waited on their latency (REBAR at D = 200: 1-3% faster).
MIXGRAD_INLINE void squared_distances(std::size_t E, const double* h, const double* s, const double* t, double& sum_h,
                                      double& sum_s) {
  double4 h0 = {0.0, 0.0, 0.0, 0.0}, h1 = h0, s0 = h0, s1 = h0;
  std::size_t e = 0;
  for (; e + 8 <= E; e += 8) {
    double4 va, vb, wa, wb, ta, tb;
    load_double4(h + e, va);
    load_double4(h + e + 4, vb);
    load_double4(s + e, wa);
    load_double4(s + e + 4, wb);
    load_double4(t + e, ta);
    load_double4(t + e + 4, tb);
    h0 += (va - ta) * (va - ta);
    h1 += (vb - tb) * (vb - tb);
    s0 += (wa - ta) * (wa - ta);
    s1 += (wb - tb) * (wb - tb);
  }
  const double4 hh = h0 + h1, ss = s0 + s1;
  sum_h = sum_lanes(hh);
  sum_s = sum_lanes(ss);
  for (; e < E; ++e) {
    sum_h += (h[e] - t[e]) * (h[e] - t[e]);
    sum_s += (s[e] - t[e]) * (s[e] - t[e]);
  }
}

// Running means and M2 of the estimates, updated with one more sample as they are formed
// (welford_step, j = ev * E + e indexing both), or none (mean == nullptr).
struct RunningMoments {
  double inv_n = 0.0;  // 1 / (samples after this one)
  double* mean = nullptr;
  double* m2 = nullptr;
};

// REBAR for a Bernoulli with f(x) = mean_e (x_e - t_e)^2 (objectives::Quadratic), one eta and no
// baseline: f(b), f(sigma(z~)), the gradients, their chain rule and the combination
//   g = (f(b) - eta f(sigma(z~))) score + eta f'(sigma(z)) jz - eta f'(sigma(z~)) jz~
// in one pass per event (row[ev]: the event's row, for a per-row target). With Moments, the
// estimates also go into rm (the events then being one sample's): read back from g instead, an
// output just written and still on its way to memory, they made REBAR at D = 200 2-3% slower.
template <bool Moments>
MIXGRAD_INLINE void rebar_quadratic_events(std::size_t n_ev, std::size_t E, const double* target,
                                           std::size_t target_row_stride, const std::uint32_t* row, double eta,
                                           const double* hard, const double* score, const double* sz, const double* jz,
                                           const double* szt, const double* jzt, double* g, const RunningMoments& rm) {
  double* mean = rm.mean;
  double* m2 = rm.m2;
  const double inv_n = rm.inv_n;
  if (E == 1 && target_row_stride == 0) {
    const double t = target[0];
#pragma omp simd
    for (std::size_t ev = 0; ev < n_ev; ++ev) {
      const double db = hard[ev] - t, dt = szt[ev] - t;
      const double w = db * db - eta * (dt * dt);
      const double x = w * score[ev] + eta * (2.0 * (sz[ev] - t) * jz[ev]) - eta * (2.0 * dt * jzt[ev]);
      g[ev] = x;
      if constexpr (Moments) welford_step(x, inv_n, mean[ev], m2[ev]);
    }
    return;
  }
  const double inv = 1.0 / static_cast<double>(E), two_inv = 2.0 / static_cast<double>(E);
  for (std::size_t ev = 0; ev < n_ev; ++ev) {
    const double* t = target + row[ev] * target_row_stride;
    const std::size_t j0 = ev * E;
    const double *h = hard + j0, *st = szt + j0;
    double sb, stt;
    squared_distances(E, h, st, t, sb, stt);
    const double w = sb * inv - eta * (stt * inv);
    const double *sc = score + j0, *s1 = sz + j0, *j1 = jz + j0, *j2 = jzt + j0;
    double* ge = g + j0;
#pragma omp simd
    for (std::size_t e = 0; e < E; ++e) {
      const double x = w * sc[e] + eta * (two_inv * (s1[e] - t[e]) * j1[e]) - eta * (two_inv * (st[e] - t[e]) * j2[e]);
      ge[e] = x;
      if constexpr (Moments) welford_step(x, inv_n, mean[j0 + e], m2[j0 + e]);
    }
  }
}

MIXGRAD_SIMD_KERNEL void rebar_quadratic_bernoulli_kernel(std::size_t n_ev, std::size_t E, const double* target,
                                                          std::size_t target_row_stride, const std::uint32_t* row,
                                                          double eta, const double* hard, const double* score,
                                                          const double* sz, const double* jz, const double* szt,
                                                          const double* jzt, double* g, const RunningMoments& rm) {
  if (rm.mean)
    rebar_quadratic_events<true>(n_ev, E, target, target_row_stride, row, eta, hard, score, sz, jz, szt, jzt, g, rm);
  else
    rebar_quadratic_events<false>(n_ev, E, target, target_row_stride, row, eta, hard, score, sz, jz, szt, jzt, g, rm);
}
MIXGRAD_SIMD_DISPATCH(rebar_quadratic_bernoulli)

}  // namespace mixgrad::rebar
