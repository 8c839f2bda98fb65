// The chain rule from f'(x) at a relaxed point to d f / d alpha (Bernoulli and categorical).
#pragma once

#include <cstddef>

#include "mixgrad/config.hpp"
#include "mixgrad/discrete/buffers.hpp"
#include "mixgrad/discrete/problem.hpp"

namespace mixgrad::rebar {

// Categorical chain rule per event (see chain below); S the softmax, w and th per class.
MIXGRAD_SIMD_KERNEL void chain_categorical_kernel(std::size_t n_ev, std::size_t E, bool tilde, double inv_lam,
                                                  const double* S, const double* w, const double* th, const double* g,
                                                  double* out) {
  for (std::size_t ev = 0; ev < n_ev; ++ev) {
    const std::size_t j0 = ev * E;
    const double *Se = S + j0, *ge = g + j0, *we = w + j0, *te = th + j0;
    double* oe = out + j0;
    double sg = 0.0;
    for (std::size_t k = 0; k < E; ++k) sg += Se[k] * ge[k];
    for (std::size_t k = 0; k < E; ++k) oe[k] = Se[k] * (ge[k] - sg) * inv_lam;
    if (!tilde) continue;
    double hw = 0.0;
    for (std::size_t k = 0; k < E; ++k) hw += oe[k] * we[k];
    for (std::size_t k = 0; k < E; ++k) oe[k] = oe[k] * we[k] - te[k] * hw;
  }
}
MIXGRAD_SIMD_DISPATCH(chain_categorical)

// Chain f'(x) at the relaxed point into d f / d alpha. Bernoulli: g * jz. Categorical (z side):
// s_k (g_k - s.g)/lam (dz/dalpha drops out: softmax ignores a common shift). Categorical (z~
// side): with h = s~ (g - s~.g)/lam: h_k w_k - theta_k sum_i h_i w_i.
inline void chain(const Problem& P, Buffers& B, std::size_t n_ev, bool tilde, const double* g, double* out) {
  const std::size_t E = P.E;
  const double inv_lam = 1.0 / P.lam;
  if (P.kind != Categorical) {
    const double* J = tilde ? B.jzt.data() : B.jz.data();
    for (std::size_t j = 0; j < n_ev * E; ++j) out[j] = g[j] * J[j];
    return;
  }
  chain_categorical(n_ev, E, tilde, inv_lam, tilde ? B.szt.data() : B.sz.data(), B.w.data(), B.th.data(), g, out);
}

}  // namespace mixgrad::rebar
