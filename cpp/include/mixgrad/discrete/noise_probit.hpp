// Bernoulli with Gaussian (probit) noise: the draws, z, b, the conditional z~, dz~/dalpha, the
// score and the relaxations (a scalar path for any layout, and vectorized rectangles).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "mixgrad/config.hpp"
#include "mixgrad/discrete/noise_logistic.hpp"
#include "mixgrad/discrete/philox_fill.hpp"
#include "mixgrad/discrete/philox_words.hpp"
#include "mixgrad/discrete/sigmoid.hpp"
#include "mixgrad/elementary.hpp"
#include "mixgrad/flagged.hpp"
#include "mixgrad/philox.hpp"
#include "mixgrad/special.hpp"

namespace mixgrad::rebar {

// z = alpha + eps, b = 1[z >= 0]; z~ = alpha + e with
//   b = 0: e = ndtri_exp(log v + log Phi(-alpha));   b = 1: e = -ndtri_exp(log v + log Phi(alpha))
//   dz~/dalpha = 1 - exp(log v + log phi(alpha) - log phi(e))
// Coupled (z~ = z, e = eps): log v = log Phi(eps) - log Phi(-alpha) (b = 0),
//   log Phi(-eps) - log Phi(alpha) (b = 1).
// score: exp(log phi(alpha) - log Phi(alpha)) (b = 1), -exp(log phi(alpha) - log Phi(-alpha)) (b = 0).
inline void noise_probit(std::size_t n, philox::Key key, std::uint32_t stream, bool coupled,
                         const std::uint64_t* sample, const std::uint32_t* coord, const double* alpha, const double* la,
                         const double* lb, const double* aux, double* z, double* hard, double* zt, double* dzt,
                         double* score) {
  for (std::size_t j = 0; j < n; ++j) {
    const philox::Block out =
        philox::philox4x32_10(philox::Block{static_cast<std::uint32_t>(sample[j]), coord[j], 0u, stream}, key);
    const double eps = philox::bits_to_normal((static_cast<std::uint64_t>(out[1]) << 32) | out[0]);
    const double v = philox::bits_to_open_uniform((static_cast<std::uint64_t>(out[3]) << 32) | out[2]);
    const double a = alpha[j];
    const double zz = a + eps;
    const bool b = zz >= 0.0;
    double e, lv;
    if (coupled) {
      e = eps;
      lv = b ? special::log_ndtr(-eps) - la[j] : special::log_ndtr(eps) - lb[j];
    } else {
      lv = elem::log(v);
      e = b ? -special::ndtri_exp(lv + la[j]) : special::ndtri_exp(lv + lb[j]);
    }
    z[j] = zz;
    hard[j] = b ? 1.0 : 0.0;
    zt[j] = coupled ? zz : a + e;
    dzt[j] = 1.0 - std::exp(lv + aux[j] - special::normal_logpdf(e));
    score[j] = b ? std::exp(aux[j] - la[j]) : -std::exp(aux[j] - lb[j]);
  }
}

// The vectorized path runs over an m x nq rectangle (j = c * nq + q: sample s0 + c, coordinate
// c0 + q) in passes, so that each costly function runs on the lanes that need it only:
//  1. the draws: eps by ndtri's central rational for every lane (tail lanes, p < 0.03, are
//     flagged) and v;
//  2. eps on the flagged lanes by ndtri's tail (compacted: ~6% of the lanes);
//  3. z, b, p = v Phi(-+alpha) and x = ndtri(p) by the same central rational (lanes with p
//     outside [0.03, 0.97] are flagged);
//  4. x = ndtri_exp(log v + log Phi(-+alpha)) on the flagged lanes (compacted);
//  5. z~, dz~/dalpha, the score (a per-coordinate constant) and the relaxations.
// Coupled noise needs no ndtri_exp: passes 3-5 are one. The o arrays carry the intermediates
// from pass to pass. Lanes where log p < kNdtriExpMin (|alpha| beyond ~37, or NaN) get
// dzt = NaN and are redone by probit_fix.

// Redo the lanes of an m x nq rectangle (j = c * nq + q) left with dzt = NaN, by the scalar
// noise_probit.
MIXGRAD_INLINE void probit_fix(std::size_t m, std::size_t nq, std::uint64_t s0, std::size_t c0, std::size_t g0,
                               const VecKey& key, std::uint32_t stream, bool coupled, double inv_lam,
                               const double* alpha, const double* la, const double* lb, const double* aux,
                               const BernoulliOut& o) {
  const double* dzt = o.dzt;
  double nan_lanes = 0.0;
#pragma omp simd reduction(+ : nan_lanes)
  for (std::size_t j = 0; j < m * nq; ++j) nan_lanes += dzt[j] != dzt[j] ? 1.0 : 0.0;
  if (nan_lanes == 0.0) return;
  for (std::size_t c = 0; c < m; ++c)
    for (std::size_t q = 0; q < nq; ++q) {
      const std::size_t j = c * nq + q, cq = c0 + q;
      if (o.dzt[j] == o.dzt[j]) continue;
      const std::uint64_t s = s0 + c;
      const std::uint32_t g = static_cast<std::uint32_t>(g0 + q);
      noise_probit(1, key.key, stream, coupled, &s, &g, alpha + cq, la + cq, lb + cq, aux + cq, o.z + j, o.hard + j,
                   o.zt + j, o.dzt + j, o.score + j);
      store_relaxations_one_division(o.z[j], o.zt[j], o.dzt[j], inv_lam, j, o);
    }
}

// The per-coordinate constants of one coordinate, and where they are kept.
// th, thc: Phi(alpha), Phi(-alpha).
struct ProbitCoord {
  double alpha, la, lb, th, thc, aux, score1, score0;
};
struct ProbitConstants {
  const double *alpha, *la, *lb, *th, *thc, *aux, *score1, *score0;
  MIXGRAD_INLINE ProbitCoord at(std::size_t cq) const {
    return {alpha[cq], la[cq], lb[cq], th[cq], thc[cq], aux[cq], score1[cq], score0[cq]};
  }
};

// Run f(c, q, constants of coordinate c0 + q, j) over the rectangle, vectorized over the samples
// (by_sample, which needs nq == 1: GCC vectorizes no strided read-modify-write of the o arrays)
// or the coordinates. Over the samples, the constants are read before the loop (GCC does not
// vectorize the loop with the invariant loads inside).
template <class F>
MIXGRAD_INLINE void probit_rect_loop(std::size_t m, std::size_t nq, std::size_t c0, bool by_sample,
                                     const ProbitConstants& k, F&& f) {
  if (by_sample) {  // one coordinate: unit stride
    const ProbitCoord x = k.at(c0);
#pragma omp simd
    for (std::size_t c = 0; c < m; ++c) f(c, std::size_t{0}, x, c);
  } else {
    for (std::size_t c = 0; c < m; ++c) {
#pragma omp simd
      for (std::size_t q = 0; q < nq; ++q) f(c, q, k.at(c0 + q), c * nq + q);
    }
  }
}

// The lanes j < n where flagged(v[j]), in order: their indices and values packed into this
// thread's scratch, so that the costly functions run on them with unit-stride loads and stores
// (the gathers would not vectorize).
struct FlaggedLanes {
  const std::uint32_t* idx;
  double* val;
  std::size_t n;
};

template <class Pred>
MIXGRAD_INLINE FlaggedLanes probit_flagged(std::size_t n, const double* v, Pred flagged) {
  thread_local std::vector<std::uint32_t> idx;
  thread_local std::vector<double> val;
  if (idx.size() < n) idx.resize(n), val.resize(n);
  const std::size_t k = gather_flagged(v, n, flagged, idx.data(), val.data());
  return {idx.data(), val.data(), k};
}

// |p - 1/2| <= kProbitCentralQ: ndtri's central region (p in [0.03, 0.97]), where pass 3 computes
// ndtri(p) from p itself.
inline constexpr double kProbitCentralQ = special::kNdtriCentral;

// x[i] = ndtri_exp(lp[i]) where lp[i] lies above ndtri_exp's lower tail (and below 0), compacted.
MIXGRAD_INLINE void probit_not_lower(std::size_t n, const double* lp, double* x) {
  thread_local std::vector<std::uint32_t> idx;
  thread_local std::vector<double> val;
  if (idx.size() < n) idx.resize(n), val.resize(n);
  const std::size_t k =
      gather_flagged(lp, n, [](double l) { return l > special::kNdtriExpLower; }, idx.data(), val.data());
  double* v = val.data();
#pragma omp simd
  for (std::size_t i = 0; i < k; ++i) v[i] = special::ndtri_exp_moderate(v[i]);
  for (std::size_t i = 0; i < k; ++i) x[idx[i]] = v[i];
}

// n doubles of this thread's scratch.
MIXGRAD_INLINE double* probit_scratch(std::size_t n) {
  thread_local std::vector<double> buf;
  if (buf.size() < n) buf.resize(n);
  return buf.data();
}

// Passes 1 and 2: eps into o.zt and (fresh noise) v into o.dzt; o.z is scratch.
template <bool Coupled>
MIXGRAD_INLINE void probit_draws(std::size_t m, std::size_t nq, std::uint64_t s0, std::size_t g0, const VecKey& key,
                                 std::uint32_t stream, const BernoulliOut& o) {
  double *tail_p = o.z, *eps_out = o.zt, *v_out = o.dzt;
  // The rectangle's Philox blocks first, in one fill (philox_fill: eight blocks per AVX2 register,
  // about 4x fewer instructions than philox_words in the loop): block j = c * nq + q has the
  // counter (s0 + c, g0 + q, 0, stream), as a grid of rows of nq blocks.
  const std::size_t nb = m * nq;
  thread_local std::vector<std::uint32_t> words;
  if (words.size() < 4 * nb) words.resize(4 * nb);
  PhiloxOut po;
  for (std::size_t w = 0; w < 4; ++w) po.word[w] = words.data() + w * nb;
  const std::uint32_t s0w = static_cast<std::uint32_t>(s0), g0w = static_cast<std::uint32_t>(g0);
  if (nq == 1)  // a run: a grid of 1-block rows would wrap each lane of a set separately
    philox_fill(key.key, nb, PhiloxRun{s0w, g0w, 0u, stream, true}, po);
  else
    philox_fill(key.key, nb, PhiloxGrid{s0w, g0w, static_cast<std::uint32_t>(nq), 0u, stream}, po);
  const std::uint32_t *wd0 = po.word[0], *wd1 = po.word[1], *wd2 = po.word[2], *wd3 = po.word[3];
  // One flat loop over the blocks (no per-coordinate constants needed): eps by ndtri's central
  // rational (tail lanes flagged: p < 0.03, ~6%) and v.
#pragma omp simd
  for (std::size_t j = 0; j < nb; ++j) {
    const std::uint64_t w0 = philox_join(wd0[j], wd1[j]);
    const double p = philox::bits_to_normal_probability(w0);  // in (0, 1/2); eps = -+ndtri(p)
    const bool neg = (w0 >> 63) != 0;
    const double central = special::ndtri_central(p - 0.5);
    eps_out[j] = neg ? -central : central;
    tail_p[j] = p - 0.5 < -special::kNdtriCentral ? (neg ? -p : p) : 0.0;  // a tail lane's p, signed as eps
    if (!Coupled) v_out[j] = philox::bits_to_open_uniform(philox_join(wd2[j], wd3[j]));
  }
  const FlaggedLanes t = probit_flagged(nb, tail_p, [](double sp) { return sp != 0.0; });
  double* val = t.val;
#pragma omp simd
  for (std::size_t i = 0; i < t.n; ++i) {
    const double sp = val[i], p = std::fabs(sp);
    const double mag = special::ndtri_tail(p, special::ndtri_tail_root(p));
    val[i] = sp < 0.0 ? -mag : mag;
  }
  for (std::size_t i = 0; i < t.n; ++i) eps_out[t.idx[i]] = val[i];
}

// m samples from s0 of the nq contiguous coordinates from c0 (constants indexed by coordinate,
// Philox counter of coordinate c0 + q is g0 + q); by_sample: vectorized over the samples (few
// coordinates), else over the coordinates. score1, score0: the score for b = 1 and b = 0.
template <bool Coupled>
MIXGRAD_INLINE void probit_rect(std::size_t m, std::size_t nq, std::uint64_t s0, std::size_t c0, std::size_t g0,
                                bool by_sample, const VecKey& key, std::uint32_t stream, double inv_lam,
                                const double* alpha, const double* la, const double* lb, const double* th,
                                const double* thc, const double* aux, const double* score1, const double* score0,
                                const BernoulliOut& o) {
  const ProbitConstants k{alpha, la, lb, th, thc, aux, score1, score0};
  probit_draws<Coupled>(m, nq, s0, g0, key, stream, o);
  // Local copies of the pointers: read through o inside the loops, they keep GCC from vectorizing.
  // The passes that read and write o run by coordinate when several coordinates are interleaved
  // (the runs of nq < 8 coordinates are short then).
  const bool by_sample_rw = by_sample && nq == 1;
  double *z = o.z, *hard = o.hard, *zt_io = o.zt, *dzt_io = o.dzt, *score = o.score;
  const double *eps_in = o.zt, *v_in = o.dzt;
  if (Coupled) {
    probit_rect_loop(m, nq, c0, by_sample_rw, k,
                     [=](std::size_t, std::size_t, const ProbitCoord& x, std::size_t j) __attribute__((always_inline)) {
                       const double eps = eps_in[j], zz = x.alpha + eps;
                       const bool b = zz >= 0.0;
                       const double lv = special::log_ndtr(b ? -eps : eps) - (b ? x.la : x.lb);
                       const double dzt = 1.0 - elem::exp(lv + x.aux - special::normal_logpdf(eps));
                       z[j] = zz;
                       hard[j] = b ? 1.0 : 0.0;
                       zt_io[j] = zz;
                       dzt_io[j] = dzt;
                       score[j] = b ? x.score1 : x.score0;
                       store_relaxations_one_division(zz, zz, dzt, inv_lam, j, o);
                     });
  } else {
    // Pass 3: z into o.z, b into o.hard, and x = ndtri(p) for p = v Phi(-+alpha) by the central
    // rational into o.zt. Central lanes get o.score = 1 (a mark: log-probabilities are <= 0); the
    // others log Phi(-+alpha), for pass 4. In the central region p itself is as accurate as
    // exp(log v + log Phi(-+alpha)) (absolute error ~1e-16 either way), so these lanes need no log
    // and no expm1.
    probit_rect_loop(m, nq, c0, by_sample_rw, k,
                     [=](std::size_t, std::size_t, const ProbitCoord& x, std::size_t j) __attribute__((always_inline)) {
                       const double zz = x.alpha + eps_in[j];
                       const bool b = zz >= 0.0;
                       const double q = v_in[j] * (b ? x.th : x.thc) - 0.5;
                       const bool central = std::fabs(q) <= kProbitCentralQ;  // false for NaN
                       z[j] = zz;
                       hard[j] = b ? 1.0 : 0.0;
                       score[j] = central ? 1.0 : (b ? x.la : x.lb);
                       zt_io[j] = special::ndtri_central(q);
                     });
    // Pass 4, on the other lanes (compacted): log p = log v + log Phi(-+alpha) and x =
    // ndtri_exp(log p); o.dzt gets 1 and o.score log v (NaN where log p < kNdtriExpMin, for probit_fix).
    // These lanes lie in ndtri_exp's lower tail (p < 0.03 < 0.075: a square root and the tail
    // rational) but for those of p > 0.97 (b = 1 and Phi(alpha) > 0.97): they are redone by
    // ndtri_exp_moderate, compacted again.
    const FlaggedLanes t = probit_flagged(m * nq, score, [](double l) { return !(l > 0.0); });
    double *val = t.val, *lv = probit_scratch(2 * t.n), *lp = lv + t.n;
    for (std::size_t i = 0; i < t.n; ++i) lv[i] = dzt_io[t.idx[i]];
#pragma omp simd
    for (std::size_t i = 0; i < t.n; ++i) {
      const double l = elem::log(lv[i]), lpi = l + val[i];
      const bool ok = lpi >= special::kNdtriExpMin;
      val[i] = special::ndtri_exp_lower(ok ? lpi : special::kNdtriExpLower);
      lv[i] = ok ? l : elem::kNaN;
      lp[i] = lpi;
    }
    probit_not_lower(t.n, lp, val);
    for (std::size_t i = 0; i < t.n; ++i) {
      const std::uint32_t j = t.idx[i];
      zt_io[j] = val[i], dzt_io[j] = 1.0, score[j] = lv[i];
    }
    // Pass 5: dz~/dalpha = 1 - v exp(log phi(alpha) - log phi(e)) on central lanes (o.dzt = v,
    // o.score = 1 read as 0), 1 - exp(log v + log phi(alpha) - log phi(e)) on the others.
    probit_rect_loop(m, nq, c0, by_sample_rw, k,
                     [=](std::size_t, std::size_t, const ProbitCoord& x, std::size_t j) __attribute__((always_inline)) {
                       const bool b = hard[j] != 0.0;
                       const double e = b ? -zt_io[j] : zt_io[j];
                       const double zz = z[j], zt = x.alpha + e;
                       const double lq = score[j] > 0.0 ? 0.0 : score[j];  // NaN stays: probit_fix redoes it
                       // v phi(alpha)/phi(e) <= 1 (Phi/phi increases and e lies beyond -+alpha);
                       // below 2^-1020, 1 minus it is 1 as with the exact value
                       const double dzt =
                           1.0 - dzt_io[j] * elem::exp_normal_range(lq + x.aux - special::normal_logpdf(e));
                       zt_io[j] = zt;
                       dzt_io[j] = dzt;
                       score[j] = b ? x.score1 : x.score0;
                       store_relaxations_one_division(zz, zt, dzt, inv_lam, j, o);
                     });
  }
  probit_fix(m, nq, s0, c0, g0, key, stream, Coupled, inv_lam, alpha, la, lb, aux, o);
}

MIXGRAD_SIMD_KERNEL void noise_probit_rect_kernel(std::size_t m, std::size_t nq, std::uint64_t s0, std::size_t c0,
                                                  std::size_t g0, bool by_sample, philox::Key key, std::uint32_t stream,
                                                  bool coupled, double inv_lam, const double* alpha, const double* la,
                                                  const double* lb, const double* th, const double* thc,
                                                  const double* aux, const double* score1, const double* score0,
                                                  BernoulliOut o) {
  if (coupled)
    probit_rect<true>(m, nq, s0, c0, g0, by_sample, vec_key(key), stream, inv_lam, alpha, la, lb, th, thc, aux, score1,
                      score0, o);
  else
    probit_rect<false>(m, nq, s0, c0, g0, by_sample, vec_key(key), stream, inv_lam, alpha, la, lb, th, thc, aux, score1,
                       score0, o);
}

MIXGRAD_SIMD_DISPATCH(noise_probit_rect)

}  // namespace mixgrad::rebar
