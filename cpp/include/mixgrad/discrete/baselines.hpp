// Baselines computed from earlier samples: the moving average of f(b).
#pragma once

#include <cstddef>

namespace mixgrad::rebar {

// Moving-average baseline: c[0][i] = init[i], c[s+1][i] = decay c[s][i] + (1 - decay) fb[s][i].
inline void ema_baseline(const double* fb, std::size_t S, std::size_t R, double decay, const double* init, double* c) {
  for (std::size_t i = 0; i < R; ++i) c[i] = init[i];
  for (std::size_t s = 1; s < S; ++s)
    for (std::size_t i = 0; i < R; ++i) c[s * R + i] = decay * c[(s - 1) * R + i] + (1.0 - decay) * fb[(s - 1) * R + i];
}

}  // namespace mixgrad::rebar
