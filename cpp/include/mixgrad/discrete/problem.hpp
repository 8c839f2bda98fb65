// What one call asks for: the distribution kind, the estimator mode, the Problem (noise, estimator
// settings and where the results go) and its checks.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <stdexcept>

#include "mixgrad/philox.hpp"

namespace mixgrad::rebar {

enum Kind : int { BernoulliLogistic = 0, BernoulliProbit = 1, Categorical = 2 };
enum Mode : int { Rebar = 0, Reinforce = 1, Concrete = 2, StraightThrough = 3 };

// The problem: distribution, noise, estimator, and where the results go.
struct Problem {
  int kind = BernoulliLogistic;
  const double* alpha = nullptr;  // [R * E]
  std::size_t R = 0, E = 0;
  std::uint64_t S = 0;
  double lam = 0.5;
  bool coupled = false;
  philox::Key key{};
  std::uint32_t stream = 0;
  int mode = Rebar;
  const double* eta = nullptr;  // [S] per-sample eta, or null for eta_scalar
  double eta_scalar = 1.0;
  const double* baseline = nullptr;  // [S * R] or null
  // outputs (each may be null)
  double* samples = nullptr;   // [S * R * E]
  double* mean = nullptr;      // [R * E]
  double* m2 = nullptr;        // [R * E] (sum of squared deviations)
  double* stat_fb = nullptr;   // [S * R] f(b)
  double* stat_fzt = nullptr;  // [S * R] f(sigma(z~))
  double* stat_ab = nullptr;   // [S * R] sum_e A_e B_e
  double* stat_bb = nullptr;   // [S * R] sum_e B_e B_e
  // noise-only outputs (draw_noise): [S * R * E] each
  double* out_z = nullptr;
  double* out_hard = nullptr;
  double* out_zt = nullptr;
  double* out_dzt = nullptr;  // Bernoulli: dz~/dalpha; categorical: the weights w_k
  double* out_sz = nullptr;
  double* out_szt = nullptr;
  int nthreads = 0;
  // The window: these R rows are rows [r0, r0 + R) of a call on R_whole rows (0: R, this call is
  // the whole). Noise counters carry the whole call's coordinate index and the tiling is the
  // whole call's, so every row comes out as in the whole call (mixgrad.dask).
  std::size_t r0 = 0, R_whole = 0;
};

inline std::size_t rows_whole(const Problem& P) {
  return P.R_whole ? P.R_whole : P.R;
}

inline void check_problem(const Problem& P) {
  if (P.R == 0 || P.E == 0) throw std::invalid_argument("logits must not be empty");
  if (P.S == 0) throw std::invalid_argument("n_samples must be >= 1");
  if (P.r0 + P.R > rows_whole(P)) throw std::invalid_argument("the rows' window lies outside the whole call");
  if (P.S > 0xFFFFFFFFull || rows_whole(P) * P.E > 0xFFFFFFFFull)
    throw std::invalid_argument("n_samples and the number of logits must each be < 2**32");
  if (!(P.lam > 0.0) || !std::isfinite(P.lam)) throw std::invalid_argument("temperature must be finite and > 0");
}

}  // namespace mixgrad::rebar
