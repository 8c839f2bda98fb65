// DisARM (Dong, Mnih & Tucker 2020; Yin et al. 2020) and ARMS (Dimitriev & Zhou 2021) for
// independent Bernoulli coordinates with theta = sigmoid(alpha) (DESIGN.md section 4.4); and
// categorical DisARM, stick-breaking form (disarm_categorical.hpp), on the same driver.
//
// One *group* = n mutually antithetic draws b_0 .. b_{n-1} of the whole event (every row, every
// coordinate); groups are independent, so the per-group estimates are i.i.d. and their spread is
// an honest standard error. Per coordinate (row i, coordinate e, group s):
//
//   DisARM (n = 2):  u ~ U(0,1), b_0 = 1[u < theta], b_1 = 1[1 - u < theta]
//   ARMS (n >= 2):   d ~ Dirichlet(1, ..., 1) (n exponentials, normalized), b_j = 1[d_j < t],
//                    t = 1 - (1 - theta)^(1/(n-1)), so that u_j = 1 - (1 - d_j)^(n-1) ~ U(0,1)
//                    and b_j = 1[u_j < theta] marginally Bernoulli(theta)
//
//   g = c * 1/(n-1) * sum_j (f(b_j) - fbar) (b_j - theta),   fbar = mean_j f(b_j)
//
// the RLOO form times the debiasing factor c = 1 / (1 - rho), rho = corr(b_j, b_k) (j != k)
// (E[RLOO] = (1 - rho) grad because E[(b_j - theta) | b_k] = rho (b_k - theta)). With
// P00 = P(d_j >= t, d_k >= t) = (1 - 2t)_+^(n-1):
//   1 - rho = (1 - theta - P00) / (theta (1 - theta)) = -expm1((n-1) log1p(-t/(1-t))) / theta
// (t < 1/2), and 1/theta (t >= 1/2): accurate for |alpha| up to ~700. For n = 2 this is
// c = sigmoid(|alpha|) and ARMS is DisARM (the same joint law of the pair).
//
// Philox counters: DisARM's pairs take a 32-bit word each, four to a block (disarm_words.hpp;
// categorical DisARM: 64-bit uniforms, paired_uniforms below); ARMS draws
// exponential k of coordinate q from block (s, q, 1 + k/2, stream) (k even: first 64 bits, odd:
// last). Every number depends on (seed, s, coordinate) only: results are bit-identical for any
// thread count, and tiles/chunks are fixed by (S, R, E, n) (tiling.hpp).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "mixgrad/discrete/disarm_categorical.hpp"
#include "mixgrad/discrete/disarm_quadratic.hpp"
#include "mixgrad/discrete/disarm_words.hpp"
#include "mixgrad/discrete/moments.hpp"
#include "mixgrad/discrete/philox_words.hpp"
#include "mixgrad/discrete/sigmoid.hpp"
#include "mixgrad/discrete/tiling.hpp"
#include "mixgrad/elementary.hpp"
#include "mixgrad/objectives.hpp"
#include "mixgrad/parallel.hpp"
#include "mixgrad/philox.hpp"

namespace mixgrad::rebar {

struct ArmsProblem {
  const double* alpha = nullptr;  // [R * E] logits
  std::size_t R = 0, E = 0;
  std::uint64_t S = 0;       // independent groups
  std::size_t n = 2;         // antithetic draws per group
  bool pair = true;          // DisARM draw (n = 2 only) or the Dirichlet copula
  bool categorical = false;  // rows of E = K class logits (DisARM only; disarm_categorical.hpp)
  philox::Key key{};
  std::uint32_t stream = 0;
  // outputs (each may be null)
  double* samples = nullptr;  // [S * R * E] per-group estimates
  double* mean = nullptr;     // [R * E]
  double* m2 = nullptr;       // [R * E] sum of squared deviations over groups
  double* draws = nullptr;    // draws only: [S * n * R * E] the hard draws b (nothing else computed)
  int nthreads = 0;
  // The window, as Problem's: these R rows are rows [r0, r0 + R) of a call on R_whole rows (0: R).
  std::size_t r0 = 0, R_whole = 0;
};

inline std::size_t rows_whole(const ArmsProblem& P) {
  return P.R_whole ? P.R_whole : P.R;
}

// The whole call's logits are one coordinate: DisARM's uniforms then run along the samples.
inline bool one_coordinate(const ArmsProblem& P) {
  return rows_whole(P) * P.E == 1;
}

inline void check_arms(const ArmsProblem& P) {
  if (P.R == 0 || P.E == 0) throw std::invalid_argument("logits must not be empty");
  if (P.S == 0) throw std::invalid_argument("n_samples must be >= 1");
  if (P.n < 2) throw std::invalid_argument("n_draws must be >= 2");
  if (P.pair && P.n != 2) throw std::invalid_argument("the DisARM draw has n_draws = 2");
  if (P.categorical && !P.pair) throw std::invalid_argument("the categorical estimator is DisARM (pair = true)");
  if (P.categorical && P.E < 2) throw std::invalid_argument("categorical DisARM needs K >= 2 classes");
  if (P.n > 4096) throw std::invalid_argument("n_draws must be <= 4096");
  if (P.r0 + P.R > rows_whole(P)) throw std::invalid_argument("the rows' window lies outside the whole call");
  if (P.S * P.n > 0xFFFFFFFFull || rows_whole(P) * P.E > 0xFFFFFFFFull)
    throw std::invalid_argument("n_samples * n_draws and the number of logits must each be < 2**32");
}

// Per coordinate: theta, the ARMS threshold t on d_j, and the debiasing factor c = 1/(1 - rho)
// (categorical: per class, the stick-breaking chain's p_k, 1 - p_k and sigmoid(|beta_k|)).
struct ArmsConstants {
  std::vector<double> th, t, c;
  // Bernoulli DisARM: the integer thresholds of disarm_words.hpp (x0, x1 also as doubles)
  std::vector<DisarmThreshold> pair;
  std::vector<double> pair_x0, pair_x1;
  std::vector<std::int32_t> pair_x0i, pair_x1i;  // the same, flipped (disarm_flip)
  DisarmThresholds thresholds(std::size_t q0, std::size_t ts) const {
    return {pair_x0.data() + q0, pair_x1.data() + q0, pair.data() + q0, ts};
  }
};

inline double arms_factor(double a, std::size_t n, double& th, double& t) {
  th = sigmoid(a);
  const double m = static_cast<double>(n - 1);
  const double lb = -softplus(a);  // log(1 - theta)
  t = -std::expm1(lb / m);
  if (!(th > 0.0)) return 1.0;  // b_j = 0 always: every estimate is 0
  if (t >= 0.5) return th;
  const double one_minus_rho = -std::expm1(m * std::log1p(-t / (1.0 - t))) / th;
  return 1.0 / one_minus_rho;
}

inline ArmsConstants make_arms_constants(const ArmsProblem& P) {
  ArmsConstants C;
  const std::size_t nq = P.R * P.E;
  C.th.resize(nq);
  C.t.resize(nq);
  C.c.resize(nq);
  if (P.categorical) {  // th: p_k, t: 1 - p_k, c: sigmoid(|beta_k|) of the stick-breaking chain
    for (std::size_t r = 0; r < P.R; ++r)
      categorical_disarm_constants(P.E, P.alpha + r * P.E, &C.th[r * P.E], &C.t[r * P.E], &C.c[r * P.E]);
    return C;
  }
  for (std::size_t q = 0; q < nq; ++q) C.c[q] = arms_factor(P.alpha[q], P.n, C.th[q], C.t[q]);
  if (P.pair) {
    C.pair.resize(nq), C.pair_x0.resize(nq), C.pair_x1.resize(nq), C.pair_x0i.resize(nq), C.pair_x1i.resize(nq);
    for (std::size_t q = 0; q < nq; ++q) {
      C.pair[q] = disarm_threshold(C.th[q]);
      C.pair_x0[q] = static_cast<double>(C.pair[q].x0) - 0x1p31;
      C.pair_x1[q] = static_cast<double>(C.pair[q].x1) - 0x1p31;
      C.pair_x0i[q] = disarm_flip(C.pair[q].x0);
      C.pair_x1i[q] = disarm_flip(C.pair[q].x1);
    }
  }
  return C;
}

// DisARM's uniforms share Philox blocks: u(s, q) is half (q & 1) (0: first 64 bits, 1: last) of
// block (s, q >> 1, 0, stream) -- or, when the logits are a single coordinate (R * E = 1), half
// (s & 1) of block (s >> 1, 0, 0, stream). u[k] for k < n is u at index a0 + k of the paired axis,
// the other index fixed at `other`.
inline void paired_uniforms(std::size_t n, std::uint32_t a0, std::uint32_t other, bool along_s, philox::Key key,
                            std::uint32_t stream, double* u) {
  std::size_t k = 0;
  auto words = [&](std::uint32_t blk, std::uint64_t& lo, std::uint64_t& hi) {
    philox_words(key, along_s ? blk : other, along_s ? other : blk, 0u, stream, lo, hi);
  };
  if (n == 0) return;
  if (a0 & 1u) {
    std::uint64_t lo, hi;
    words(a0 >> 1, lo, hi);
    u[k++] = philox::bits_to_open_uniform(hi);
  }
  const std::uint32_t b0 = (a0 + 1u) >> 1;  // first block used whole
  const std::size_t np = (n - k) / 2;
  // in pieces of 64 blocks: the words, then the uniforms from the blocks' 64-bit halves
  std::uint32_t w[256];
  for (std::size_t p0 = 0; p0 < np; p0 += 64) {
    const std::size_t pn = std::min<std::size_t>(64, np - p0);
    philox_fill(key, pn, PhiloxRun{b0 + static_cast<std::uint32_t>(p0), other, 0u, stream, along_s}, w);
    for (std::size_t j = 0; j < 2 * pn; ++j)
      u[k + 2 * p0 + j] = philox::bits_to_open_uniform((std::uint64_t{w[2 * j + 1]} << 32) | w[2 * j]);
  }
  k += 2 * np;
  if (k < n) {
    std::uint64_t lo, hi;
    words(b0 + static_cast<std::uint32_t>(np), lo, hi);
    u[k] = philox::bits_to_open_uniform(lo);
  }
}

// The hard draws of m groups from s0, rows [i0, i1): x[((c * n + j) * nr + r) * E + e]; ub is
// scratch for the categorical uniforms (m * nq, ub[c * nq + q] the uniform of class q of pair c,
// drawn as paired_uniforms), wb for Bernoulli DisARM's words (max(m, nq)). Counters carry the
// whole call's coordinates.
inline void arms_draw(const ArmsProblem& P, const ArmsConstants& C, std::uint64_t s0, std::size_t m, std::size_t i0,
                      std::size_t i1, double* x, double* expo, double* ub, std::uint32_t* wb) {
  const std::size_t E = P.E, n = P.n, nq = (i1 - i0) * E, q0 = i0 * E, g0 = (P.r0 + i0) * E;
  const double* th = C.th.data() + q0;
  if (P.categorical) {
    std::fill(x, x + m * 2 * nq, 0.0);
    for (std::size_t c = 0; c < m; ++c) {
      double* u = ub + c * nq;
      paired_uniforms(nq, static_cast<std::uint32_t>(g0), static_cast<std::uint32_t>(s0 + c), false, P.key, P.stream,
                      u);
      for (std::size_t r = 0; r < nq / E; ++r) {
        std::size_t b0, b1;
        categorical_disarm_stops(E, u + r * E, th + r * E, b0, b1);
        x[(2 * c) * nq + r * E + b0] = 1.0;
        x[(2 * c + 1) * nq + r * E + b1] = 1.0;
      }
    }
    return;
  }
  if (P.pair && one_coordinate(P)) {
    double *b0 = ub, *b1 = ub + m;
    disarm_pairs(m, static_cast<std::uint32_t>(s0), 0u, true, P.key, P.stream, C.thresholds(0, 0), wb, b0, b1);
    for (std::size_t c = 0; c < m; ++c) x[2 * c] = b0[c], x[2 * c + 1] = b1[c];
    return;
  }
  for (std::size_t c = 0; c < m; ++c) {
    const std::uint32_t s = static_cast<std::uint32_t>(s0 + c);
    double* x0 = x + (c * n) * nq;
    if (P.pair) {
      disarm_pairs(nq, static_cast<std::uint32_t>(g0), s, false, P.key, P.stream, C.thresholds(q0, 1), wb, x0, x0 + nq);
      continue;
    }
    // n exponentials per coordinate, expo[j]; b_j = 1[E_j < t * sum E]
    for (std::size_t k = 0; k < nq; ++k) {
      double sum = 0.0;
      for (std::size_t j = 0; j < n; j += 2) {
        std::uint64_t lo, hi;
        philox_words(P.key, s, static_cast<std::uint32_t>(g0 + k), 1u + static_cast<std::uint32_t>(j / 2), P.stream, lo,
                     hi);
        const double e0 = -std::log(philox::bits_to_open_uniform(lo));
        expo[j] = e0;
        sum += e0;
        if (j + 1 < n) {
          const double e1 = -std::log(philox::bits_to_open_uniform(hi));
          expo[j + 1] = e1;
          sum += e1;
        }
      }
      const double thr = C.t[q0 + k] * sum;
      for (std::size_t j = 0; j < n; ++j) x0[j * nq + k] = expo[j] < thr ? 1.0 : 0.0;
    }
  }
}

// Pair index, row and sample of the 2 m nr evaluations of a DisARM chunk (as Chunk wants them).
inline void disarm_evaluations(std::uint64_t s0, std::size_t m, std::size_t i0, std::size_t nr, std::uint32_t* rows,
                               std::uint64_t* samp) {
  for (std::size_t c = 0; c < m; ++c)
    for (std::size_t j = 0; j < 2; ++j)
      for (std::size_t r = 0; r < nr; ++r) {
        const std::size_t ev = (c * 2 + j) * nr + r;
        rows[ev] = static_cast<std::uint32_t>(i0 + r);
        samp[ev] = (s0 + c) * 2 + j;
      }
}

// Categorical DisARM for one chunk (m pairs from s0, rows [i0, i1)): the one-hot draws of both
// chains, f on them, then per row the estimate of disarm_categorical.hpp.
template <class Obj>
void categorical_disarm_chunk(const ArmsProblem& P, const ArmsConstants& C, const Obj& obj, std::uint64_t s0,
                              std::size_t m, std::size_t i0, std::size_t i1, double* x, double* fv, double* g,
                              std::uint32_t* rows, std::uint64_t* samp, double* ub) {
  const std::size_t K = P.E, nr = i1 - i0, nq = nr * K, q0 = i0 * K;
  arms_draw(P, C, s0, m, i0, i1, x, nullptr, ub, nullptr);
  disarm_evaluations(s0, m, i0, nr, rows, samp);
  objectives::Chunk ch{2 * m * nr, K, rows, samp, P.R};
  obj.value(objectives::Point::Hard, ch, x, fv);
  for (std::size_t c = 0; c < m; ++c)
    for (std::size_t r = 0; r < nr; ++r) {
      const std::size_t q = q0 + r * K;
      const double* u = ub + c * nq + r * K;
      std::size_t b0, b1;
      categorical_disarm_stops(K, u, &C.th[q], b0, b1);
      categorical_disarm_row(K, u, &C.th[q], &C.t[q], &C.c[q], b0, b1, fv[(2 * c) * nr + r] - fv[(2 * c + 1) * nr + r],
                             g + c * nq + r * K);
    }
}

// Where a chunk's estimates join the running moments in its own pass (m = 1 only; mean null:
// they do not).
struct ChunkMoments {
  double inv_n = 0.0;  // 1 / the count after this sample
  double* mean = nullptr;
  double* m2 = nullptr;
};

// The pairs' words of several samples of a tile, drawn together (disarm_words_samples) and handed
// out one sample's rows at a time: rows of 200 coordinates are 50 Philox blocks, which alone
// leave the last SIMD set of 8 mostly empty.
class DisarmSampleWords {
 public:
  // The words of sample s at whole-call coordinates [q0, q0 + nq), within [qa, qa + qn) (the
  // tile's rows; null otherwise); the samples drawn with it run up to s_end at most.
  const std::uint32_t* get(const ArmsProblem& P, std::uint64_t s, std::uint64_t s_end, std::size_t q0, std::size_t nq,
                           std::size_t qa, std::size_t qn) {
    if (q0 < qa || q0 + nq > qa + qn) return nullptr;  // not within the rows drawn together
    if (s < s0_ || s >= s1_ || qa != qa_ || qn != qn_) {
      const std::size_t m = std::min<std::uint64_t>(s_end - s, std::max<std::size_t>(1, kWords / qn));
      w_.resize(m * qn);
      disarm_words_samples(m, qn, static_cast<std::uint32_t>(qa), static_cast<std::uint32_t>(s), P.key, P.stream,
                           w_.data());
      s0_ = s, s1_ = s + m, qa_ = qa, qn_ = qn;
    }
    return w_.data() + (s - s0_) * qn_ + (q0 - qa_);
  }

 private:
  static constexpr std::size_t kWords = 4096;  // 16 KiB: in L1 or L2 until it is used
  std::vector<std::uint32_t> w_;
  std::uint64_t s0_ = 0, s1_ = 0;
  std::size_t qa_ = 0, qn_ = 0;
};

// Bernoulli DisARM on objectives::Quadratic, fused (disarm_quadratic.hpp): the estimates of m
// groups from s0, rows [i0, i1), into g (null: not kept, when mom takes them); wb: scratch for
// the pairs' words (max(m, nq)), d for one row's differences (E). words: the pairs' words when
// m == 1 and the caller drew them (DisarmSampleWords), else null.
inline void disarm_quadratic_chunk(const ArmsProblem& P, const ArmsConstants& C, const objectives::Quadratic& obj,
                                   std::uint64_t s0, std::size_t m, std::size_t i0, std::size_t i1, double* g,
                                   std::uint32_t* wb, double* d, const ChunkMoments& mom,
                                   const std::uint32_t* words = nullptr) {
  const std::size_t E = P.E, nr = i1 - i0, nq = nr * E, q0 = i0 * E, g0 = (P.r0 + i0) * E;
  const double* cf = C.c.data() + q0;
  const DisarmThresholds th = C.thresholds(q0, one_coordinate(P) ? 0 : 1);
  if (one_coordinate(P)) {  // the words run along the samples
    const std::uint32_t a0 = static_cast<std::uint32_t>(s0);
    const double t = obj.target[0], k = 0.5 * cf[0];
    disarm_words(m, a0, 0u, true, P.key, P.stream, wb);
    if (disarm_quadratic_one(m, wb, th.x0[0], th.x1[0], disarm_quadratic_one_value(1.0, 0.0, t, k), g) != 0)
      for (std::size_t c = 0; c < m; ++c) {
        double b0, b1;
        if (disarm_settle_one(c, a0, 0u, true, P.key, P.stream, wb[c], th.full[0], b0, b1))
          g[c] = disarm_quadratic_one_value(b0, b1, t, k);
      }
    return;
  }
  const std::uint32_t a0 = static_cast<std::uint32_t>(g0);
  for (std::size_t c = 0; c < m; ++c) {
    const std::uint32_t s = static_cast<std::uint32_t>(s0 + c);
    const std::uint32_t* wq = words;
    if (!wq) disarm_words(nq, a0, s, false, P.key, P.stream, wb), wq = wb;
    for (std::size_t r = 0; r < nr; ++r) {
      const std::size_t q = r * E;
      const double* t = obj.target + obj.target_row_stride * (i0 + r);
      double w;
      if (disarm_row_differences(E, wq + q, C.pair_x0i.data() + q0 + q, C.pair_x1i.data() + q0 + q, t, d, w) != 0) {
        for (std::size_t e = 0; e < E; ++e) {
          double b0, b1;
          if (disarm_settle_one(q + e, a0, s, false, P.key, P.stream, wq[q + e], th.full[q + e], b0, b1))
            d[e] = b0 - b1;
        }
        w = disarm_row_weight_from(E, t, d);
      }
      disarm_row_scale(E, w, d, cf + q, g ? g + c * nq + q : nullptr, mom.inv_n, mom.mean ? mom.mean + q : nullptr,
                       mom.mean ? mom.m2 + q : nullptr);
    }
  }
}

// DisARM for one chunk (m pairs from s0, rows [i0, i1), cut from a chunk of the whole call
// `width` coordinates wide): g[c * nq + r * E + e] = 1/2 (f(b_0) - f(b_1)) (b_0 - b_1)
// sigmoid(|alpha|), from f's values at the draws (the quadratic objective has its fused
// disarm_quadratic_chunk).
template <class Obj>
void disarm_chunk(const ArmsProblem& P, const ArmsConstants& C, const Obj& obj, std::uint64_t s0, std::size_t m,
                  std::size_t i0, std::size_t i1, std::size_t width, double* x, double* fv, double* d, double* g,
                  std::uint32_t* rows, std::uint64_t* samp, double* ub, std::uint32_t* wb) {
  const std::size_t E = P.E, nr = i1 - i0, nq = nr * E;
  const double* cf = C.c.data() + i0 * E;
  if (P.categorical) {
    categorical_disarm_chunk(P, C, obj, s0, m, i0, i1, x, fv, g, rows, samp, ub);
    return;
  }
  arms_draw(P, C, s0, m, i0, i1, x, nullptr, ub, wb);
  disarm_evaluations(s0, m, i0, nr, rows, samp);
  objectives::Chunk ch{2 * m * nr, E, rows, samp, P.R};
  obj.value(objectives::Point::Hard, ch, x, fv);
  for (std::size_t c = 0; c < m; ++c)
    for (std::size_t r = 0; r < nr; ++r) d[c * nr + r] = fv[(2 * c) * nr + r] - fv[(2 * c + 1) * nr + r];
  if (width == 1) {
    const double k = 0.5 * cf[0];
#pragma omp simd
    for (std::size_t c = 0; c < m; ++c) g[c] = k * (d[c] * (x[2 * c] - x[2 * c + 1]));
    return;
  }
  for (std::size_t c = 0; c < m; ++c)
    for (std::size_t r = 0; r < nr; ++r) {
      const double w = 0.5 * d[c * nr + r];
      const double* x0 = x + (2 * c) * nq + r * E;
      const double* x1 = x0 + nq;
      const double* cr = cf + r * E;
      double* gr = g + c * nq + r * E;
#pragma omp simd
      for (std::size_t e = 0; e < E; ++e) gr[e] = w * (x0[e] - x1[e]) * cr[e];
    }
}

// ARMS for one chunk (m groups from s0, rows [i0, i1)); x holds the draws (arms_draw):
// g[c * nq + r * E + e] = c_q / (n-1) sum_j (f_j - fbar) (b_j - theta)
//                       = c_q / (n-1) sum_j (f_j - fbar) b_j      (sum_j (f_j - fbar) = 0).
template <class Obj>
void arms_chunk(const ArmsProblem& P, const ArmsConstants& C, const Obj& obj, std::uint64_t s0, std::size_t m,
                std::size_t i0, std::size_t i1, double* x, double* fv, double* g, std::uint32_t* rows,
                std::uint64_t* samp) {
  const std::size_t E = P.E, n = P.n, nr = i1 - i0, nq = nr * E;
  const double inv_nm1 = 1.0 / static_cast<double>(n - 1), inv_n = 1.0 / static_cast<double>(n);
  const std::size_t n_ev = m * n * nr;
  for (std::size_t c = 0; c < m; ++c)
    for (std::size_t j = 0; j < n; ++j)
      for (std::size_t r = 0; r < nr; ++r) {
        const std::size_t ev = (c * n + j) * nr + r;
        rows[ev] = static_cast<std::uint32_t>(i0 + r);
        samp[ev] = (s0 + c) * n + j;
      }
  objectives::Chunk ch{n_ev, E, rows, samp, P.R};
  obj.value(objectives::Point::Hard, ch, x, fv);
  const double* cf = C.c.data() + i0 * E;
  for (std::size_t c = 0; c < m; ++c) {
    double* gc = g + c * nq;
    std::fill(gc, gc + nq, 0.0);
    for (std::size_t r = 0; r < nr; ++r) {
      double fbar = 0.0;
      for (std::size_t j = 0; j < n; ++j) fbar += fv[(c * n + j) * nr + r];
      fbar *= inv_n;
      double* gr = gc + r * E;
      for (std::size_t j = 0; j < n; ++j) {
        const double w = (fv[(c * n + j) * nr + r] - fbar) * inv_nm1;
        const double* xb = x + ((c * n + j) * nr + r) * E;
#pragma omp simd
        for (std::size_t e = 0; e < E; ++e) gr[e] += w * xb[e];
      }
#pragma omp simd
      for (std::size_t e = 0; e < E; ++e) gr[e] *= cf[r * E + e];
    }
  }
}

// The ARMS / DisARM estimates (or only the draws) with any objective of objectives.hpp; values
// are asked for at Point::Hard with Chunk::sample = s * n + j (the draw's index).
template <class Obj>
void arms_estimate(const ArmsProblem& P, const Obj& obj) {
  check_arms(P);
  const std::size_t R = P.R, E = P.E, n = P.n;
  const std::uint64_t S = P.S;
  const ArmsConstants C = make_arms_constants(P);
  // the whole call's tiling, over the tiles that hold this call's rows (as estimate.hpp)
  const Tiling T = make_tiling(S, rows_whole(P), E);
  const TileWindow W = tile_window(T, rows_whole(P), P.r0, P.r0 + R);
  const std::size_t n_tiles = T.n_sb * W.n_rb;
  const std::size_t tile_coords = T.rows_per_tile * E;
  const bool accumulate = P.mean != nullptr;
  const bool draws_only = P.draws != nullptr;
  std::vector<double> tile_mean(accumulate ? n_tiles * tile_coords : 0);
  std::vector<double> tile_m2(accumulate ? n_tiles * tile_coords : 0);
  const double work = static_cast<double>(S) * static_cast<double>(R * E) * static_cast<double>(n);
  const int threads = work < 32768.0 ? 1 : P.nthreads;
  // dynamic: a tile's result does not depend on the thread that runs it; threads slowed by other
  // processes take fewer tiles
  parallel::for_blocks<parallel::Schedule::Dynamic>(n_tiles, 1, threads, 2, [&](std::size_t t0, std::size_t t1) {
    const std::size_t max_coords = std::max(kChunkCoords, E);
    std::vector<double> x(max_coords * n), fv(max_coords * n), g(max_coords), dv(max_coords), expo(n),
        ub(3 * max_coords);
    std::vector<std::uint32_t> wb(max_coords);
    std::vector<double> cmean(tile_coords), cm2(tile_coords), lmean(tile_coords), lm2(tile_coords);
    std::vector<std::uint32_t> rows(max_coords * n);
    std::vector<std::uint64_t> samp(max_coords * n);
    DisarmSampleWords sample_words;
    for (std::size_t t = t0; t < t1; ++t) {
      const std::size_t sbi = t / W.n_rb, rbi = W.rb0 + t % W.n_rb;
      const std::size_t sa = sbi * T.samples_per_tile, sb = std::min<std::size_t>(S, sa + T.samples_per_tile);
      const std::size_t ra = rbi * T.rows_per_tile, rb = std::min(W.R, ra + T.rows_per_tile);  // whole-call rows
      // The tile's moments build up in this thread's own buffers, stored when the tile is done:
      // written per sample next to a neighbouring tile's (another thread's), they would share a
      // cache line at the tiles' edge.
      double* tmean = accumulate ? lmean.data() : nullptr;
      double* tm2 = accumulate ? lm2.data() : nullptr;
      if (accumulate) std::fill(lmean.begin(), lmean.end(), 0.0), std::fill(lm2.begin(), lm2.end(), 0.0);
      for_chunks(sa, sb, ra, rb, E, W.r0, W.r1,
                 [&](std::size_t s0, std::size_t m, std::size_t gi0, std::size_t gi1, std::size_t width) {
                   const std::size_t i0 = gi0 - P.r0, i1 = gi1 - P.r0;  // this call's rows
                   const std::size_t nr = i1 - i0, nq = nr * E;
                   if (draws_only) {
                     arms_draw(P, C, s0, m, i0, i1, x.data(), expo.data(), ub.data(), wb.data());
                     for (std::size_t c = 0; c < m; ++c)
                       for (std::size_t j = 0; j < n; ++j)
                         std::copy(x.begin() + (c * n + j) * nq, x.begin() + (c * n + j + 1) * nq,
                                   P.draws + (((s0 + c) * n + j) * R + i0) * E);
                     return;
                   }
                   // the estimates: straight into the output when the chunk's m groups are one block of it
                   double* gp = P.samples && nr == R ? P.samples + s0 * R * E : g.data();
                   const std::size_t q0 = (gi0 - ra) * E;
                   const double n_a = static_cast<double>(s0 - sa);
                   bool fused = false, merged = false;  // merged: the estimates joined the moments
                   if constexpr (std::is_same_v<Obj, objectives::Quadratic>) {
                     if (P.pair && !P.categorical) {
                       ChunkMoments mom;
                       if (accumulate && m == 1 && !one_coordinate(P))
                         mom = {1.0 / (n_a + 1.0), tmean + q0, tm2 + q0}, merged = true;
                       // the estimates themselves are needed unless they are merged here and not kept
                       double* gq = merged && !P.samples ? nullptr : gp;
                       const std::uint32_t* words = nullptr;
                       if (m == 1 && !one_coordinate(P)) {
                         const std::size_t ia = std::max(ra, W.r0), ib = std::min(rb, W.r1);  // the tile's rows
                         words = sample_words.get(P, s0, sb, gi0 * E, nq, ia * E, (ib - ia) * E);
                       }
                       disarm_quadratic_chunk(P, C, obj, s0, m, i0, i1, gq, wb.data(), dv.data(), mom, words);
                       fused = true;
                     }
                   }
                   if (fused) {
                     // done above
                   } else if (P.pair) {
                     disarm_chunk(P, C, obj, s0, m, i0, i1, width, x.data(), fv.data(), dv.data(), gp, rows.data(),
                                  samp.data(), ub.data(), wb.data());
                   } else {
                     arms_draw(P, C, s0, m, i0, i1, x.data(), expo.data(), ub.data(), wb.data());
                     arms_chunk(P, C, obj, s0, m, i0, i1, x.data(), fv.data(), gp, rows.data(), samp.data());
                   }
                   if (P.samples && gp == g.data())
                     for (std::size_t c = 0; c < m; ++c)
                       std::copy(g.begin() + c * nq, g.begin() + (c + 1) * nq, P.samples + ((s0 + c) * R + i0) * E);
                   if (accumulate && !merged)
                     merge_chunk(m, nq, width, n_a, gp, cmean.data(), cm2.data(), tmean + q0, tm2 + q0);
                 });
      if (accumulate) {
        std::copy(lmean.begin(), lmean.end(), tile_mean.begin() + t * tile_coords);
        std::copy(lm2.begin(), lm2.end(), tile_m2.begin() + t * tile_coords);
      }
    }
  });
  if (!accumulate) return;
  // Merge the group blocks of every row block in order (as estimate.hpp).
  for (std::size_t rbi = W.rb0; rbi < W.rb0 + W.n_rb; ++rbi)
    merge_row_block(T, W, rbi, S, E, tile_coords, tile_mean.data(), tile_m2.data(), P.mean, P.m2);
}

}  // namespace mixgrad::rebar
