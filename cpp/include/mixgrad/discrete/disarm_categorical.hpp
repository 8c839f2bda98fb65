// Categorical DisARM in its stick-breaking form (Dong, Mnih & Tucker 2021, "Coupled gradient
// estimators for discrete latent variables"): the class b ~ softmax(alpha) over K classes is the
// first k with c_k = 1 in a chain of independent binary decisions
//
//   c_k ~ Bernoulli(p_k),  p_k = theta_k / sum_{j >= k} theta_j = sigmoid(beta_k),
//   beta_k = alpha_k - L_{k+1},  L_k = logsumexp(alpha_k, ..., alpha_{K-1})     (k < K - 1)
//
// (b = K - 1 when no c_k is 1). f(b) is a function of c, so Bernoulli DisARM on the logits beta
// estimates d E f / d beta without bias: one antithetic pair u_k, c_k = 1[u_k < p_k],
// c~_k = 1[1 - u_k < p_k] and
//
//   g_beta_k = 1/2 (f(b) - f(b~)) (c_k - c~_k) sigmoid(|beta_k|).
//
// Rao-Blackwellized: a decision after the stops of both chains changes neither f value and its
// term has conditional mean 0 (the pair is exchangeable), so it is dropped (g_beta_k = 0 for
// k > max(b, b~)). The chain rule back to alpha, d beta_k / d alpha_j = [j = k] - [j > k]
// theta_j / sum_{i > k} theta_i, runs as one stable recurrence (every factor in [0, 1]):
//
//   P_0 = 0;  g_alpha_j = g_beta_j [j < K - 1] - p_j P_j;  P_{j+1} = (1 - p_j) P_j + g_beta_j
//
// with p_{K-1} = 1 (p_j = exp(alpha_j - L_j) throughout; 0 for alpha_j = -inf), so sum_j g_alpha_j
// = 0 as the softmax's invariance demands. With K = 2 it is Bernoulli DisARM on alpha_0 - alpha_1.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>

#include "mixgrad/config.hpp"
#include "mixgrad/discrete/sigmoid.hpp"

namespace mixgrad::rebar {

// Per row of K logits: p_k, q_k = 1 - p_k (computed as sigmoid(-beta_k), not by subtraction) and
// the DisARM factor sigmoid(|beta_k|); the last class has p = 1, q = 0 (or p = 0 if its logit is
// -inf), factor 0 (no decision).
inline void categorical_disarm_constants(std::size_t K, const double* alpha, double* p, double* q, double* cf) {
  const double ninf = -std::numeric_limits<double>::infinity();
  double L = ninf;  // logsumexp of the logits after k
  for (std::size_t j = K; j-- > 0;) {
    const double a = alpha[j];
    if (j == K - 1) {
      p[j] = a == ninf ? 0.0 : 1.0;
      q[j] = 1.0 - p[j];
      cf[j] = 0.0;
    } else if (a == ninf) {  // theta_j = 0: never chosen, no gradient
      p[j] = 0.0, q[j] = 1.0, cf[j] = 1.0;
    } else {
      const double beta = L == ninf ? std::numeric_limits<double>::infinity() : a - L;
      p[j] = sigmoid(beta);
      q[j] = sigmoid(-beta);
      cf[j] = sigmoid(std::fabs(beta));
    }
    if (a != ninf) L = L == ninf ? a : std::fmax(a, L) + std::log1p(std::exp(-std::fabs(a - L)));
  }
}

// The stops of the pair: the first k < K - 1 with u_k < p_k (chain b) and with 1 - u_k < p_k
// (chain b~), K - 1 when there is none.
inline void categorical_disarm_stops(std::size_t K, const double* u, const double* p, std::size_t& b0,
                                     std::size_t& b1) {
  b0 = K - 1, b1 = K - 1;
  for (std::size_t k = 0; k + 1 < K && (b0 == K - 1 || b1 == K - 1); ++k) {
    if (b0 == K - 1 && u[k] < p[k]) b0 = k;
    if (b1 == K - 1 && (1.0 - u[k]) < p[k]) b1 = k;
  }
}

// g[0..K) = the estimate for one row and pair, given d = f(b) - f(b~) and the stops.
MIXGRAD_SIMD_KERNEL void categorical_disarm_row_kernel(std::size_t K, const double* u, const double* p, const double* q,
                                                       const double* cf, std::size_t b0, std::size_t b1, double d,
                                                       double* g) {
  const std::size_t last = std::max(b0, b1);  // decisions after it are dropped
  const double w = 0.5 * d;
  double P = 0.0;
  for (std::size_t j = 0; j < K; ++j) {
    double gb = 0.0;
    if (j <= last && j + 1 < K) {
      const double c0 = u[j] < p[j] ? 1.0 : 0.0, c1 = (1.0 - u[j]) < p[j] ? 1.0 : 0.0;
      gb = w * (c0 - c1) * cf[j];
    }
    g[j] = gb - p[j] * P;
    P = q[j] * P + gb;
  }
}
MIXGRAD_SIMD_DISPATCH(categorical_disarm_row)

}  // namespace mixgrad::rebar
