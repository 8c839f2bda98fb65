// The per-sample estimates g = w * score + c_z * pz - c_zt * pzt of a chunk from their parts.
#pragma once

#include <cstddef>

#include "mixgrad/config.hpp"

namespace mixgrad::rebar {

// Per-sample estimates g = w * score + cz * pz - czt * pzt of n_ev events of E coordinates
// (use_pz / use_pzt: whether those terms are present).
MIXGRAD_SIMD_KERNEL void combine_events_kernel(std::size_t n_ev, std::size_t E, bool use_pz, bool use_pzt,
                                               const double* wev, const double* cz, const double* czt,
                                               const double* score, const double* pz, const double* pzt, double* out) {
  for (std::size_t ev = 0; ev < n_ev; ++ev) {
    const double w = wev[ev], a = cz[ev], b = czt[ev];
    double* g = out + ev * E;
    const double *sc = score + ev * E, *p1 = pz + ev * E, *p2 = pzt + ev * E;
    if (use_pzt) {
#pragma omp simd
      for (std::size_t e = 0; e < E; ++e) g[e] = w * sc[e] + a * p1[e] - b * p2[e];
    } else if (use_pz) {
#pragma omp simd
      for (std::size_t e = 0; e < E; ++e) g[e] = a * p1[e];
    } else {
#pragma omp simd
      for (std::size_t e = 0; e < E; ++e) g[e] = w * sc[e];
    }
  }
}
MIXGRAD_SIMD_DISPATCH(combine_events)

}  // namespace mixgrad::rebar
