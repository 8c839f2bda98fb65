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
//  1. the draws: eps by AS241's central rational for every lane (tail lanes, p < 0.075, are
//     flagged) and log v;
//  2. eps on the flagged lanes by the AS241 tail (compacted: ~15% of the lanes);
//  3. z, b and log p = log v + log Phi(-+alpha); x = ndtri_exp(log p) by its central region
//     (flagged when log p lies outside it);
//  4. x on the flagged lanes by ndtri_exp_moderate (compacted);
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
struct ProbitCoord {
  double alpha, la, lb, aux, score1, score0;
};
struct ProbitConstants {
  const double *alpha, *la, *lb, *aux, *score1, *score0;
  MIXGRAD_INLINE ProbitCoord at(std::size_t cq) const {
    return {alpha[cq], la[cq], lb[cq], aux[cq], score1[cq], score0[cq]};
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

// log p strictly inside ndtri_exp_moderate's central region (-2.5903 < log p <= -0.07796, AS241's
// |p - 1/2| <= 0.425), where it takes the expm1 and the central rational only.
inline constexpr double kProbitCentralLo = -2.59, kProbitCentralHi = -0.078;

// Passes 1 and 2: eps into o.zt and (fresh noise) log v into o.dzt; o.z is scratch.
template <bool Coupled>
MIXGRAD_INLINE void probit_draws(std::size_t m, std::size_t nq, std::uint64_t s0, std::size_t g0, const VecKey& key,
                                 std::uint32_t stream, const BernoulliOut& o) {
  double *tail_p = o.z, *eps_out = o.zt, *lv_out = o.dzt;
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
  // Two flat loops over the blocks (no per-coordinate constants needed): the signed p and log v,
  // then eps by the central rational (the rational alone in its loop keeps it short).
#pragma omp simd
  for (std::size_t j = 0; j < nb; ++j) {
    const std::uint64_t w0 = philox_join(wd0[j], wd1[j]);
    const double p = philox::bits_to_normal_probability(w0);  // in (0, 1/2); eps = -+ndtri(p)
    eps_out[j] = (w0 >> 63) ? -p : p;                         // p signed as eps, for now
    if (!Coupled) lv_out[j] = elem::log(philox::bits_to_open_uniform(philox_join(wd2[j], wd3[j])));
  }
#pragma omp simd
  for (std::size_t j = 0; j < nb; ++j) {
    const double sp = eps_out[j], p = std::fabs(sp);
    const double central = special::detail::as241_central(p - 0.5);
    eps_out[j] = sp < 0.0 ? -central : central;
    tail_p[j] = p - 0.5 < -0.425 ? sp : 0.0;  // a tail lane's p, signed as eps
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
                                const double* alpha, const double* la, const double* lb, const double* aux,
                                const double* score1, const double* score0, const BernoulliOut& o) {
  const ProbitConstants k{alpha, la, lb, aux, score1, score0};
  probit_draws<Coupled>(m, nq, s0, g0, key, stream, o);
  // Local copies of the pointers: read through o inside the loops, they keep GCC from vectorizing.
  // The passes that read and write o run by coordinate when several coordinates are interleaved
  // (the runs of nq < 8 coordinates are short then).
  const bool by_sample_rw = by_sample && nq == 1;
  double *z = o.z, *hard = o.hard, *zt_io = o.zt, *dzt_io = o.dzt, *score = o.score;
  const double *eps_in = o.zt, *lv_in = o.dzt;
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
    // Pass 3: z into o.z, b into o.hard, log p into o.score, the central x into o.zt.
    probit_rect_loop(m, nq, c0, by_sample_rw, k,
                     [=](std::size_t, std::size_t, const ProbitCoord& x, std::size_t j) __attribute__((always_inline)) {
                       const double zz = x.alpha + eps_in[j];
                       const bool b = zz >= 0.0;
                       const double lp = lv_in[j] + (b ? x.la : x.lb);  // < 0
                       const double lps = lp >= special::kNdtriExpMin ? lp : -1.0;
                       // special::ndtri_exp_central written out: called here, it made GCC 12 compile
                       // the probit kernel to 13% more instructions (callgrind; the same values).
                       const double em =
                           elem::expm1((lps + elem::kLn2Hi) + elem::kLn2Lo);  // 2p - 1, as ndtri_exp_moderate
                       z[j] = zz;
                       hard[j] = b ? 1.0 : 0.0;
                       score[j] = lp;
                       zt_io[j] = special::detail::as241_central(0.5 * em);
                     });
    // Pass 4 (flagged lanes have log p >= kNdtriExpMin).
    const FlaggedLanes t = probit_flagged(m * nq, score, [](double lp) {
      return (lp >= special::kNdtriExpMin) & !((lp > kProbitCentralLo) & (lp <= kProbitCentralHi));
    });
    double* val = t.val;
#pragma omp simd
    for (std::size_t i = 0; i < t.n; ++i) val[i] = special::ndtri_exp_moderate(val[i]);
    for (std::size_t i = 0; i < t.n; ++i) zt_io[t.idx[i]] = val[i];
    // Pass 5.
    probit_rect_loop(m, nq, c0, by_sample_rw, k,
                     [=](std::size_t, std::size_t, const ProbitCoord& x, std::size_t j) __attribute__((always_inline)) {
                       const bool b = hard[j] != 0.0;
                       const double e = b ? -zt_io[j] : zt_io[j];
                       const double zz = z[j], zt = x.alpha + e;
                       const double dzt = 1.0 - elem::exp(dzt_io[j] + x.aux - special::normal_logpdf(e));
                       const bool ok = score[j] >= special::kNdtriExpMin;  // else probit_fix redoes the lane
                       zt_io[j] = zt;
                       dzt_io[j] = ok ? dzt : elem::kNaN;
                       score[j] = b ? x.score1 : x.score0;
                       store_relaxations_one_division(zz, zt, dzt, inv_lam, j, o);
                     });
  }
  probit_fix(m, nq, s0, c0, g0, key, stream, Coupled, inv_lam, alpha, la, lb, aux, o);
}

MIXGRAD_SIMD_KERNEL void noise_probit_rect_kernel(std::size_t m, std::size_t nq, std::uint64_t s0, std::size_t c0,
                                                  std::size_t g0, bool by_sample, philox::Key key, std::uint32_t stream,
                                                  bool coupled, double inv_lam, const double* alpha, const double* la,
                                                  const double* lb, const double* aux, const double* score1,
                                                  const double* score0, BernoulliOut o) {
  if (coupled)
    probit_rect<true>(m, nq, s0, c0, g0, by_sample, vec_key(key), stream, inv_lam, alpha, la, lb, aux, score1, score0,
                      o);
  else
    probit_rect<false>(m, nq, s0, c0, g0, by_sample, vec_key(key), stream, inv_lam, alpha, la, lb, aux, score1, score0,
                       o);
}

MIXGRAD_SIMD_DISPATCH(noise_probit_rect)

}  // namespace mixgrad::rebar
