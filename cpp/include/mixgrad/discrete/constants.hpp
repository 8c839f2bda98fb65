// Per-coordinate constants of the distribution (log theta, log(1 - theta), theta, ...) for every
// row, computed once per call.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

#include "mixgrad/discrete/problem.hpp"
#include "mixgrad/discrete/sigmoid.hpp"
#include "mixgrad/elementary.hpp"
#include "mixgrad/parallel.hpp"
#include "mixgrad/special.hpp"

namespace mixgrad::rebar {

// Per-coordinate constants: la = log theta, lb = log(1 - theta), th = theta, aux = log phi(alpha)
// (probit only). Categorical: la = log softmax(alpha)_k, th = softmax(alpha)_k.
inline void precompute_row(int kind, const double* alpha, std::size_t E, double* la, double* lb, double* th,
                           double* aux) {
  if (kind == Categorical) {
    double mx = -elem::kInf;
    for (std::size_t k = 0; k < E; ++k) mx = std::max(mx, alpha[k]);
    double s = 0.0;
    for (std::size_t k = 0; k < E; ++k) s += std::exp(alpha[k] - mx);
    const double lse = mx + std::log(s);
    for (std::size_t k = 0; k < E; ++k) {
      la[k] = alpha[k] - lse;
      th[k] = std::exp(la[k]);
      lb[k] = std::log1p(-th[k]);
      aux[k] = 0.0;
    }
    return;
  }
  for (std::size_t e = 0; e < E; ++e) {
    const double a = alpha[e];
    if (kind == BernoulliLogistic) {
      la[e] = -softplus(-a);
      lb[e] = -softplus(a);
      th[e] = sigmoid(a);
      aux[e] = 0.0;
    } else {
      la[e] = special::log_ndtr(a);
      lb[e] = special::log_ndtr(-a);
      th[e] = special::ndtr(a);
      aux[e] = special::normal_logpdf(a);
    }
  }
}

// Per-coordinate constants for all rows.
struct Constants {
  std::vector<double> la, lb, th, aux, ea, ena;  // ea = e^alpha, ena = e^-alpha (alpha clamped to +-700)
  std::vector<double> ith;                       // categorical: 1 / theta (inf where theta = 0)
  std::vector<double> score1, score0;            // probit: d log p(b)/d alpha for b = 1 and b = 0
  std::vector<double> thc;                       // probit: Phi(-alpha) (th is Phi(alpha))
};

inline Constants make_constants(const Problem& P) {
  Constants c;
  const std::size_t n = P.R * P.E;
  c.la.resize(n);
  c.lb.resize(n);
  c.th.resize(n);
  c.aux.resize(n);
  c.ea.resize(n);
  c.ena.resize(n);
  if (P.kind == Categorical) c.ith.resize(n);
  if (P.kind == BernoulliProbit) c.score1.resize(n), c.score0.resize(n), c.thc.resize(n);
  parallel::for_blocks(P.R, 256, P.nthreads, 4096, [&](std::size_t r0, std::size_t r1) {
    for (std::size_t i = r0; i < r1; ++i) {
      precompute_row(P.kind, P.alpha + i * P.E, P.E, &c.la[i * P.E], &c.lb[i * P.E], &c.th[i * P.E], &c.aux[i * P.E]);
      for (std::size_t q = i * P.E; q < (i + 1) * P.E; ++q) {
        const double a = std::min(700.0, std::max(-700.0, P.alpha[q]));
        c.ea[q] = std::exp(a);
        c.ena[q] = std::exp(-a);
        if (P.kind == Categorical) c.ith[q] = 1.0 / c.th[q];
        if (P.kind == BernoulliProbit) {  // phi(alpha)/Phi(alpha), -phi(alpha)/Phi(-alpha) as noise_probit
          c.score1[q] = std::exp(c.aux[q] - c.la[q]);
          c.score0[q] = -std::exp(c.aux[q] - c.lb[q]);
          c.thc[q] = special::ndtr(-P.alpha[q]);
        }
      }
    }
  });
  return c;
}

}  // namespace mixgrad::rebar
