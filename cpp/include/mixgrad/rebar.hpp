// REBAR (Tucker et al. 2017) and its peers for Bernoulli (logistic or probit noise) and
// categorical (Gumbel noise) variables: noise -> (z, b, z~) transforms, their derivatives with b
// held fixed, and the per-sample gradient estimates, with deterministic parallel reductions.
//
// Layout: logits alpha[R][E] (R rows of the distribution batch, E = D coordinates or K classes),
// S Monte Carlo samples. One Philox block per (sample s, coordinate i*E+e): counter words
// (s, i*E+e, 0, stream); its first 64 bits give u (Bernoulli probit: the normal eps), the last 64
// bits give the conditional noise v. So every number depends on (seed, s, coordinate) only.
//
// The estimate for one event (sample s, row i), all modes in one form:
//   g = w * score + c_z * d f(sigma(z))/d alpha - c_zt * d f(sigma(z~))/d alpha
//   rebar:            w = f(b) - eta_s f(sigma(z~)) - baseline[s,i],  c_z = c_zt = eta_s
//   reinforce:        w = f(b) - baseline[s,i],                        c_z = c_zt = 0
//   concrete:         w = 0, c_z = 1 (pathwise through the relaxed sample)
//   straight-through: w = 0, c_z = 1 with f' taken at the hard sample b
// (DESIGN.md section 4; formulas of section 4.1 rewritten in log space, see comments below.)
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "mixgrad/config.hpp"
#include "mixgrad/elementary.hpp"
#include "mixgrad/objectives.hpp"
#include "mixgrad/parallel.hpp"
#include "mixgrad/philox.hpp"
#include "mixgrad/special.hpp"

namespace mixgrad::rebar {

enum Kind : int { BernoulliLogistic = 0, BernoulliProbit = 1, Categorical = 2 };
enum Mode : int { Rebar = 0, Reinforce = 1, Concrete = 2, StraightThrough = 3 };

MIXGRAD_INLINE double softplus(double x) {
  const double m = x > 0.0 ? x : 0.0;
  return m + elem::log1p(elem::exp(-std::fabs(x)));
}

// sigmoid(x) and sigmoid(x)(1 - sigmoid(x)) without overflow.
MIXGRAD_INLINE void sigmoid_and_slope(double x, double& s, double& ds) {
  const double t = elem::exp(-std::fabs(x));
  const double inv = 1.0 / (1.0 + t);
  s = x >= 0.0 ? inv : t * inv;
  ds = t * inv * inv;
}

MIXGRAD_INLINE double sigmoid(double x) {
  double s, ds;
  sigmoid_and_slope(x, s, ds);
  return s;
}

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

// Working arrays of one chunk of events (each event = E coordinates, j = ev * E + e).
struct Buffers {
  std::vector<std::uint32_t> row, coord;
  std::vector<std::uint64_t> sample, sample_j;
  std::vector<std::uint32_t> ev_j;
  std::vector<double> alpha, la, lb, th, aux, ea, ena;
  std::vector<double> z, hard, zt, dzt, score, sz, jz, szt, jzt, w;  // per j
  std::vector<double> gz, gzt, pz, pzt, g;                           // per j
  std::vector<double> fb, fzt, wev, cz, czt;                         // per event
  std::vector<double> F, zb, ifb, isb, ith, ez, ezt, L;              // per j (categorical)
  std::vector<double> lfb;                                           // per event (categorical)
  void reserve(std::size_t nj, std::size_t nev) {
    for (auto* v : {&row, &coord, &ev_j}) v->resize(std::max(nj, nev));
    for (auto* v : {&sample, &sample_j}) v->resize(std::max(nj, nev));
    for (auto* v : {&alpha, &la, &lb, &th,  &aux, &ea, &ena, &z,   &hard, &zt,  &dzt,
                    &score, &sz, &jz, &szt, &jzt, &w,  &gz,  &gzt, &pz,   &pzt, &g})
      v->resize(nj);
    for (auto* v : {&F, &zb, &ifb, &isb, &ith, &ez, &ezt, &L}) v->resize(nj);
    for (auto* v : {&fb, &fzt, &wev, &cz, &czt, &lfb}) v->resize(nev);
  }
};

// Philox4x32-10 on four scalar words (the same function as philox::philox4x32_10; written on
// scalars so that loops calling it vectorize): returns the output as two 64-bit words.
MIXGRAD_INLINE void philox_words(philox::Key key, std::uint32_t w0, std::uint32_t w1, std::uint32_t w2,
                                 std::uint32_t w3, std::uint64_t& lo, std::uint64_t& hi) {
  // Every word lives in the low half of a 64-bit integer, so a vectorized loop keeps one lane
  // type (the 32 x 32 -> 64 multiply maps to vpmuludq) and needs no shuffles.
  constexpr std::uint64_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u, L = 0xFFFFFFFFu;
  constexpr std::uint64_t W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
  std::uint64_t c0 = w0, c1 = w1, c2 = w2, c3 = w3;
  std::uint64_t k0 = key.k0, k1 = key.k1;
  for (int round = 0; round < 10; ++round) {
    const std::uint64_t p0 = M0 * c0;
    const std::uint64_t p1 = M1 * c2;
    const std::uint64_t n0 = (p1 >> 32) ^ c1 ^ k0;
    const std::uint64_t n2 = (p0 >> 32) ^ c3 ^ k1;
    c0 = n0;
    c1 = p1 & L;
    c2 = n2;
    c3 = p0 & L;
    k0 = (k0 + W0) & L;
    k1 = (k1 + W1) & L;
  }
  lo = (c1 << 32) | c0;
  hi = (c3 << 32) | c2;
}

// ---- Bernoulli, logistic noise -------------------------------------------------------------
// z = alpha + log u - log(1-u), b = 1[z > 0]. With fresh v the conditional sample
// u' of DESIGN 4.1 gives, after cancelling alpha analytically (log theta - log(1-theta) = alpha):
//   b = 1: z~ = softplus(alpha + log v) - log(1-v)    (> 0 always),  dz~/dalpha = sigmoid(alpha + log v)
//   b = 0: z~ = log v - softplus(log(1-v) - alpha)    (< 0 always),  dz~/dalpha = sigmoid(log(1-v) - alpha)
// Coupled noise (u' = u, z~ = z): dz~/dalpha = 1 - (1-theta)/u (b = 1), 1 - theta/(1-u) (b = 0).
struct BernoulliOut {
  double *z, *hard, *zt, *dzt, *score, *sz, *jz, *szt, *jzt;
};

// One coordinate: draws, transforms, and the relaxations sigma(z/lam), sigma(z~/lam) with their
// alpha-derivatives (dz/dalpha = 1). One exp + one log for both branches of z~.
// Fresh noise uses e^alpha and e^-alpha (per-coordinate constants ea, ena, alpha clamped to
// [-700, 700] there) so that one log per draw gives z~ and no log gives dz~/dalpha:
//   b = 1: z~ = log((1 + e^a v) / (1 - v)),        dz~/dalpha = y/(1+y), y = e^a v
//   b = 0: z~ = log(v / (1 + (1 - v) e^-a)),        dz~/dalpha = y/(1+y), y = (1 - v) e^-a
template <bool Coupled>
MIXGRAD_INLINE void logistic_one(philox::Key key, std::uint32_t stream, std::uint32_t s, std::uint32_t coord, double a,
                                 double la, double lb, double th, double ea, double ena, double inv_lam, std::size_t j,
                                 const BernoulliOut& o) {
  std::uint64_t w0, w1;
  philox_words(key, s, coord, 0u, stream, w0, w1);
  const double u = philox::bits_to_open_uniform(w0);
  double zz, zt, dzt;
  bool b;
  if (Coupled) {
    const double lu = elem::log(u), l1u = elem::log1p(-u);
    zz = a + lu - l1u;
    b = zz > 0.0;
    zt = zz;
    dzt = 1.0 - elem::exp(b ? lb - lu : la - l1u);
  } else {
    zz = a + elem::log(u / (1.0 - u));
    b = zz > 0.0;
    const double v = philox::bits_to_open_uniform(w1);
    const double y = b ? ea * v : (1.0 - v) * ena;
    const double ratio = b ? (1.0 + y) / (1.0 - v) : v / (1.0 + y);
    zt = elem::log(ratio);
    dzt = y / (1.0 + y);
  }
  double s1, ds1, s2, ds2;
  sigmoid_and_slope(zz * inv_lam, s1, ds1);
  sigmoid_and_slope(zt * inv_lam, s2, ds2);
  o.z[j] = zz;
  o.hard[j] = b ? 1.0 : 0.0;
  o.zt[j] = zt;
  o.dzt[j] = dzt;
  o.score[j] = (b ? 1.0 : 0.0) - th;
  o.sz[j] = s1;
  o.jz[j] = ds1 * inv_lam;
  o.szt[j] = s2;
  o.jzt[j] = ds2 * inv_lam * dzt;
}

// Coordinates given one by one (sample[j], coord[j], and the per-coordinate constants gathered).
template <bool Coupled>
MIXGRAD_INLINE void logistic_flat(std::size_t n, philox::Key key, std::uint32_t stream, double inv_lam,
                                  const std::uint64_t* sample, const std::uint32_t* coord, const double* alpha,
                                  const double* la, const double* lb, const double* th, const double* ea,
                                  const double* ena, const BernoulliOut& o) {
#pragma omp simd
  for (std::size_t j = 0; j < n; ++j)
    logistic_one<Coupled>(key, stream, static_cast<std::uint32_t>(sample[j]), coord[j], alpha[j], la[j], lb[j], th[j],
                          ea[j], ena[j], inv_lam, j, o);
}

// m samples from s0 of the nq contiguous coordinates from c0 (constants indexed by coordinate).
template <bool Coupled>
MIXGRAD_INLINE void logistic_rect(std::size_t m, std::size_t nq, std::uint64_t s0, std::size_t c0, philox::Key key,
                                  std::uint32_t stream, double inv_lam, const double* alpha, const double* la,
                                  const double* lb, const double* th, const double* ea, const double* ena,
                                  const BernoulliOut& o) {
  for (std::size_t c = 0; c < m; ++c) {
    const std::uint32_t s = static_cast<std::uint32_t>(s0 + c);
#pragma omp simd
    for (std::size_t q = 0; q < nq; ++q)
      logistic_one<Coupled>(key, stream, s, static_cast<std::uint32_t>(c0 + q), alpha[c0 + q], la[c0 + q], lb[c0 + q],
                            th[c0 + q], ea[c0 + q], ena[c0 + q], inv_lam, c * nq + q, o);
  }
}

// The same rectangle, vectorized over the m samples (for few coordinates per sample).
template <bool Coupled>
MIXGRAD_INLINE void logistic_rect_by_sample(std::size_t m, std::size_t nq, std::uint64_t s0, std::size_t c0,
                                            philox::Key key, std::uint32_t stream, double inv_lam, const double* alpha,
                                            const double* la, const double* lb, const double* th, const double* ea,
                                            const double* ena, const BernoulliOut& o) {
  for (std::size_t q = 0; q < nq; ++q) {
    const std::size_t cq = c0 + q;
    const double a = alpha[cq], l1 = la[cq], l2 = lb[cq], t = th[cq], e1 = ea[cq], e2 = ena[cq];
#pragma omp simd
    for (std::size_t c = 0; c < m; ++c)
      logistic_one<Coupled>(key, stream, static_cast<std::uint32_t>(s0 + c), static_cast<std::uint32_t>(cq), a, l1, l2,
                            t, e1, e2, inv_lam, c * nq + q, o);
  }
}

static MIXGRAD_SIMD_CLONES void noise_logistic_by_sample(std::size_t m, std::size_t nq, std::uint64_t s0,
                                                         std::size_t c0, philox::Key key, std::uint32_t stream,
                                                         bool coupled, double inv_lam, const double* alpha,
                                                         const double* la, const double* lb, const double* th,
                                                         const double* ea, const double* ena, BernoulliOut o) {
  if (coupled)
    logistic_rect_by_sample<true>(m, nq, s0, c0, key, stream, inv_lam, alpha, la, lb, th, ea, ena, o);
  else
    logistic_rect_by_sample<false>(m, nq, s0, c0, key, stream, inv_lam, alpha, la, lb, th, ea, ena, o);
}

static MIXGRAD_SIMD_CLONES void noise_logistic_flat(std::size_t n, philox::Key key, std::uint32_t stream, bool coupled,
                                                    double inv_lam, const std::uint64_t* sample,
                                                    const std::uint32_t* coord, const double* alpha, const double* la,
                                                    const double* lb, const double* th, const double* ea,
                                                    const double* ena, BernoulliOut o) {
  if (coupled)
    logistic_flat<true>(n, key, stream, inv_lam, sample, coord, alpha, la, lb, th, ea, ena, o);
  else
    logistic_flat<false>(n, key, stream, inv_lam, sample, coord, alpha, la, lb, th, ea, ena, o);
}

static MIXGRAD_SIMD_CLONES void noise_logistic_rect(std::size_t m, std::size_t nq, std::uint64_t s0, std::size_t c0,
                                                    philox::Key key, std::uint32_t stream, bool coupled, double inv_lam,
                                                    const double* alpha, const double* la, const double* lb,
                                                    const double* th, const double* ea, const double* ena,
                                                    BernoulliOut o) {
  if (coupled)
    logistic_rect<true>(m, nq, s0, c0, key, stream, inv_lam, alpha, la, lb, th, ea, ena, o);
  else
    logistic_rect<false>(m, nq, s0, c0, key, stream, inv_lam, alpha, la, lb, th, ea, ena, o);
}

// Fresh noise, estimates only (no z, z~ outputs), 1/lam = K in {1, 2}: no log or exp per draw.
// With t = e^{-|x|}, sigma(K x) = 1/(1 + t^K) (x > 0) or t^K/(1 + t^K), slope t^K/(1 + t^K)^2;
// e^{-|z|} = n/d with (n, d) = ((1-u) e^-a, u) for b = 1 and (e^a u, 1-u) for b = 0 (n <= d <= 1
// up to rounding, so n^K + d^K neither overflows nor vanishes), and e^{-|z~|} = (1-v)/(1+y)
// (b = 1) or v/(1+y) (b = 0), y as in logistic_one; dz~/dalpha = y/(1+y).
// b is decided by u e^a > 1 - u. That agrees with z = a + log(u/(1-u)) > 0 (the general path and
// draw_noise) except within rounding of the boundary; draws within a relative 1e-9 of it are
// flagged in o.z (1, else 0; z itself is not written), and logistic_fast_fix redoes them with b
// taken from z.
template <int K>
MIXGRAD_INLINE double ipow(double t) {
  static_assert(K == 1 || K == 2, "K must be 1 or 2");
  return K == 1 ? t : t * t;
}

MIXGRAD_INLINE double logistic_z(double a, double u) {
  return a + elem::log(u / (1.0 - u));
}

template <int K>
MIXGRAD_INLINE void logistic_relax_given_b(double u, double v, bool b, double th, double ea, double ena, double inv_lam,
                                           std::size_t j, const BernoulliOut& o) {
  const double n1 = b ? (1.0 - u) * ena : ea * u;
  const double d1 = b ? u : 1.0 - u;
  const double nk = ipow<K>(n1), dk = ipow<K>(d1);
  const double r1 = 1.0 / (nk + dk);
  const double y = b ? ea * v : (1.0 - v) * ena;
  const double rden = 1.0 / (1.0 + y);
  const double q = ipow<K>((b ? 1.0 - v : v) * rden);
  const double inv = 1.0 / (1.0 + q);
  o.hard[j] = b ? 1.0 : 0.0;
  o.score[j] = (b ? 1.0 : 0.0) - th;
  o.sz[j] = (b ? dk : nk) * r1;
  o.jz[j] = nk * dk * r1 * r1 * inv_lam;
  o.szt[j] = b ? inv : q * inv;
  o.jzt[j] = q * inv * inv * inv_lam * (y * rden);
}

// One draw; o.z[j] = 1 when b is within rounding of the boundary (see above), else 0.
template <int K>
MIXGRAD_INLINE void logistic_fast_one(philox::Key key, std::uint32_t stream, std::uint32_t s, std::uint32_t coord,
                                      double th, double ea, double ena, double inv_lam, std::size_t j,
                                      const BernoulliOut& o) {
  std::uint64_t w0, w1;
  philox_words(key, s, coord, 0u, stream, w0, w1);
  const double u = philox::bits_to_open_uniform(w0);
  const double v = philox::bits_to_open_uniform(w1);
  const double lhs = u * ea, rhs = 1.0 - u;
  logistic_relax_given_b<K>(u, v, lhs > rhs, th, ea, ena, inv_lam, j, o);
  o.z[j] = std::fabs(lhs - rhs) < 1e-9 * rhs ? 1.0 : 0.0;
}

// Redo the flagged draws of an m x nq rectangle (j = c * nq + q) with b = 1[z > 0].
template <int K>
MIXGRAD_INLINE void logistic_fast_fix(std::size_t m, std::size_t nq, std::uint64_t s0, std::size_t c0, philox::Key key,
                                      std::uint32_t stream, double inv_lam, const double* alpha, const double* th,
                                      const double* ea, const double* ena, const BernoulliOut& o) {
  double any = 0.0;
#pragma omp simd reduction(+ : any)
  for (std::size_t j = 0; j < m * nq; ++j) any += o.z[j];
  if (any == 0.0) return;
  for (std::size_t c = 0; c < m; ++c)
    for (std::size_t q = 0; q < nq; ++q) {
      if (o.z[c * nq + q] == 0.0) continue;
      const std::size_t cq = c0 + q;
      std::uint64_t w0, w1;
      philox_words(key, static_cast<std::uint32_t>(s0 + c), static_cast<std::uint32_t>(cq), 0u, stream, w0, w1);
      const double u = philox::bits_to_open_uniform(w0);
      const double v = philox::bits_to_open_uniform(w1);
      logistic_relax_given_b<K>(u, v, logistic_z(alpha[cq], u) > 0.0, th[cq], ea[cq], ena[cq], inv_lam, c * nq + q, o);
    }
}

// m samples from s0 of the nq coordinates from c0; by_sample: vectorized over samples (few
// coordinates), else over coordinates.
template <int K>
MIXGRAD_INLINE void logistic_fast_rect(std::size_t m, std::size_t nq, std::uint64_t s0, std::size_t c0, bool by_sample,
                                       philox::Key key, std::uint32_t stream, double inv_lam, const double* alpha,
                                       const double* th, const double* ea, const double* ena, const BernoulliOut& o) {
  if (by_sample) {
    for (std::size_t q = 0; q < nq; ++q) {
      const std::size_t cq = c0 + q;
      const double t = th[cq], e1 = ea[cq], e2 = ena[cq];
#pragma omp simd
      for (std::size_t c = 0; c < m; ++c)
        logistic_fast_one<K>(key, stream, static_cast<std::uint32_t>(s0 + c), static_cast<std::uint32_t>(cq), t, e1, e2,
                             inv_lam, c * nq + q, o);
    }
  } else {
    for (std::size_t c = 0; c < m; ++c) {
      const std::uint32_t s = static_cast<std::uint32_t>(s0 + c);
#pragma omp simd
      for (std::size_t q = 0; q < nq; ++q)
        logistic_fast_one<K>(key, stream, s, static_cast<std::uint32_t>(c0 + q), th[c0 + q], ea[c0 + q], ena[c0 + q],
                             inv_lam, c * nq + q, o);
    }
  }
  logistic_fast_fix<K>(m, nq, s0, c0, key, stream, inv_lam, alpha, th, ea, ena, o);
}

static MIXGRAD_SIMD_CLONES void noise_logistic_fast(int K, std::size_t m, std::size_t nq, std::uint64_t s0,
                                                    std::size_t c0, bool by_sample, philox::Key key,
                                                    std::uint32_t stream, double inv_lam, const double* alpha,
                                                    const double* th, const double* ea, const double* ena,
                                                    BernoulliOut o) {
  if (K == 1)
    logistic_fast_rect<1>(m, nq, s0, c0, by_sample, key, stream, inv_lam, alpha, th, ea, ena, o);
  else
    logistic_fast_rect<2>(m, nq, s0, c0, by_sample, key, stream, inv_lam, alpha, th, ea, ena, o);
}

// ---- Bernoulli, probit noise -----------------------------------------------------------------
// z = alpha + eps, b = 1[z >= 0]; z~ = alpha + e with
//   b = 0: e = ndtri_exp(log v + log Phi(-alpha));   b = 1: e = -ndtri_exp(log v + log Phi(alpha))
//   dz~/dalpha = 1 - exp(log v + log phi(alpha) - log phi(e))
// Coupled (z~ = z, e = eps): log v = log Phi(eps) - log Phi(-alpha) (b = 0),
//   log Phi(-eps) - log Phi(alpha) (b = 1).
// score: exp(log phi(alpha) - log Phi(alpha)) (b = 1), -exp(log phi(alpha) - log Phi(-alpha)) (b = 0).
static void noise_probit(std::size_t n, philox::Key key, std::uint32_t stream, bool coupled,
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

// ---- Categorical, Gumbel noise ---------------------------------------------------------------
// With E_k = -log u_k: z_k = log theta_k - log E_k, b = argmax z. Conditional noise F_k = -log v_k:
//   z~_b = -log F_b;  z~_k = -log(F_k/theta_k + F_b) = -(log F_b + log1p(r_k)),  r_k = F_k / (theta_k F_b)
//   dz~_k/dalpha_j = w_k (delta_kj - theta_j),  w_k = r_k / (1 + r_k),  w_b = 0 (r_b = 0).
// The relaxations never need z~ itself: z~_b is the largest z~ (r_k > 0), so
//   softmax(z~/lam)_k = (1 + r_k)^(-1/lam) / sum_i (1 + r_i)^(-1/lam),
// one log1p and one exp per class, with no log of F (-log v is all the draw needs).
// Coupled (z~ = z): log F_b = -z_b, log F_k = log E_k + log(1 - exp(z_k - z_b)), which gives
//   r_k = expm1(z_b - z_k), so w_k = -expm1(z_k - z_b) and softmax(z~/lam) = softmax(z/lam).
// r_k is capped at 1e300 (theta_k = 0 or below ~1e-280): w_k = 1 and (1 + r_k)^(-1/lam) = 0, as
// in the limit; z~_k is then taken in log space, -(log F_k - log theta_k), exact there.

// expm1(x) for x <= 0, vectorizable: Taylor series on |x| < 1/2, exp(x) - 1 (no cancellation
// worth a bit there) below.
MIXGRAD_INLINE double expm1_nonpos(double x) {
  static constexpr double c[16] = {1.0,
                                   1.0 / 2.0,
                                   1.0 / 6.0,
                                   1.0 / 24.0,
                                   1.0 / 120.0,
                                   1.0 / 720.0,
                                   1.0 / 5040.0,
                                   1.0 / 40320.0,
                                   1.0 / 362880.0,
                                   1.0 / 3628800.0,
                                   1.0 / 39916800.0,
                                   1.0 / 479001600.0,
                                   1.0 / 6227020800.0,
                                   1.0 / 87178291200.0,
                                   1.0 / 1307674368000.0,
                                   1.0 / 20922789888000.0};
  const double small = x * elem::poly4(c, x);
  return x > -0.5 ? small : elem::exp(x) - 1.0;
}

inline constexpr double kRatioCap = 1e300;

// Pass 1 over the m samples (from s0) of the nq contiguous coordinates from c0: the Philox
// block of (s, coordinate) gives u (first 64 bits) and v (last 64 bits); writes z and F = -log v
// (F only for fresh conditional noise).
template <bool WithF>
MIXGRAD_INLINE void gumbel_rect(std::size_t m, std::size_t nq, std::uint64_t s0, std::size_t c0, philox::Key key,
                                std::uint32_t stream, const double* la, double* z, double* F) {
  for (std::size_t c = 0; c < m; ++c) {
    const std::uint32_t s = static_cast<std::uint32_t>(s0 + c);
    double* zc = z + c * nq;
    double* Fc = F + c * nq;
#pragma omp simd
    for (std::size_t q = 0; q < nq; ++q) {
      std::uint64_t lo, hi;
      philox_words(key, s, static_cast<std::uint32_t>(c0 + q), 0u, stream, lo, hi);
      const double e = -elem::log(philox::bits_to_open_uniform(lo));
      zc[q] = la[c0 + q] - elem::log(e);
      if (WithF) Fc[q] = -elem::log(philox::bits_to_open_uniform(hi));
    }
  }
}

static MIXGRAD_SIMD_CLONES void noise_gumbel_rect(std::size_t m, std::size_t nq, std::uint64_t s0, std::size_t c0,
                                                  philox::Key key, std::uint32_t stream, bool with_f, const double* la,
                                                  double* z, double* F) {
  if (with_f)
    gumbel_rect<true>(m, nq, s0, c0, key, stream, la, z, F);
  else
    gumbel_rect<false>(m, nq, s0, c0, key, stream, la, z, F);
}

// Per-class arrays of one chunk for the categorical relaxation (pass 3): inputs per class j of
// the chunk (z, F and the event's z_b, 1/F_b, 1[class is b]) and per coordinate (theta, 1/theta).
struct CategoricalPass {
  const double* z;    // [n] z
  const double* zb;   // [n] z_b of the class's event
  const double* F;    // [n] F = -log v (fresh noise)
  const double* ifb;  // [n] 1 / F_b of the event (fresh noise)
  const double* isb;  // [n] 1 where the class is b
  const double* th;   // per coordinate: theta
  const double* ith;  // per coordinate: 1 / theta
  double* hard;       // [n] one-hot b
  double* score;      // [n] onehot - theta
  double* thj;        // [n] theta
  double* ez;         // [n] exp((z - z_b) / lam)
  double* ezt;        // [n] exp((z~ - z~_b) / lam) = (1 + r)^(-1/lam)
  double* w;          // [n] w
  double* L;          // [n] log1p(r) (fresh noise), for z~
};

// m runs of nq classes (j = c * nq + q) whose coordinates are c0 + q.
template <bool Coupled, bool Tilde>
MIXGRAD_INLINE void categorical_relax(std::size_t m, std::size_t nq, std::size_t c0, double inv_lam,
                                      const CategoricalPass& p) {
  for (std::size_t c = 0; c < m; ++c) {
#pragma omp simd
    for (std::size_t q = 0; q < nq; ++q) {
      const std::size_t j = c * nq + q;
      const double th = p.th[c0 + q];
      const double h = p.isb[j];
      p.hard[j] = h;
      p.score[j] = h - th;
      p.thj[j] = th;
      const double d = p.z[j] - p.zb[j];  // <= 0, 0 at b
      const double ez = elem::exp(d * inv_lam);
      p.ez[j] = ez;
      if (Coupled) {
        p.w[j] = -expm1_nonpos(d);
        p.ezt[j] = ez;
      } else if (Tilde) {
        const double r0 = p.F[j] * p.ith[c0 + q] * p.ifb[j];
        const double r = h != 0.0 ? 0.0 : (r0 < kRatioCap ? r0 : kRatioCap);
        const double L = elem::log1p(r);
        p.w[j] = r / (1.0 + r);
        p.L[j] = L;
        p.ezt[j] = elem::exp(-L * inv_lam);
      }
    }
  }
}

static MIXGRAD_SIMD_CLONES void noise_categorical_relax(std::size_t m, std::size_t nq, std::size_t c0, double inv_lam,
                                                        bool coupled, bool tilde, CategoricalPass p) {
  if (coupled)
    categorical_relax<true, true>(m, nq, c0, inv_lam, p);
  else if (tilde)
    categorical_relax<false, true>(m, nq, c0, inv_lam, p);
  else
    categorical_relax<false, false>(m, nq, c0, inv_lam, p);
}

// Pass 2, per event: b = argmax z (the first on ties), broadcast z_b, 1/F_b and 1[k = b] to the
// event's classes.
static MIXGRAD_SIMD_CLONES void categorical_argmax(std::size_t n_ev, std::size_t E, bool fresh, const double* z,
                                                   const double* F, double* zb, double* ifb, double* isb) {
  for (std::size_t ev = 0; ev < n_ev; ++ev) {
    const double* ze = z + ev * E;
    double mx = ze[0];
    std::size_t best = 0;
    for (std::size_t k = 1; k < E; ++k) {
      const bool gt = ze[k] > mx;
      mx = gt ? ze[k] : mx;
      best = gt ? k : best;
    }
    const double inv = fresh ? 1.0 / F[ev * E + best] : 1.0;
    for (std::size_t k = 0; k < E; ++k) {
      zb[ev * E + k] = mx;
      ifb[ev * E + k] = inv;
      isb[ev * E + k] = k == best ? 1.0 : 0.0;
    }
  }
}

// Pass 4, per event: normalize exp-weights e into softmax s.
static MIXGRAD_SIMD_CLONES void categorical_normalize(std::size_t n_ev, std::size_t E, const double* e, double* s) {
  for (std::size_t ev = 0; ev < n_ev; ++ev) {
    const double* ee = e + ev * E;
    double* se = s + ev * E;
    double t = 0.0;
    for (std::size_t k = 0; k < E; ++k) t += ee[k];
    const double inv = 1.0 / t;
    for (std::size_t k = 0; k < E; ++k) se[k] = ee[k] * inv;
  }
}

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
};

// Per-coordinate constants for all rows.
struct Constants {
  std::vector<double> la, lb, th, aux, ea, ena;  // ea = e^alpha, ena = e^-alpha (alpha clamped to +-700)
  std::vector<double> ith;                       // categorical: 1 / theta (inf where theta = 0)
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
  parallel::for_blocks(P.R, 256, P.nthreads, 4096, [&](std::size_t r0, std::size_t r1) {
    for (std::size_t i = r0; i < r1; ++i) {
      precompute_row(P.kind, P.alpha + i * P.E, P.E, &c.la[i * P.E], &c.lb[i * P.E], &c.th[i * P.E], &c.aux[i * P.E]);
      for (std::size_t q = i * P.E; q < (i + 1) * P.E; ++q) {
        const double a = std::min(700.0, std::max(-700.0, P.alpha[q]));
        c.ea[q] = std::exp(a);
        c.ena[q] = std::exp(-a);
        if (P.kind == Categorical) c.ith[q] = 1.0 / c.th[q];
      }
    }
  });
  return c;
}

// Draw the noise of the n_ev events in buf.row/buf.sample and relax it: fills z, hard, zt, dzt
// (or w), score, sz/jz (sigma(z/lam) and d sigma(z/lam)/d alpha per coordinate; categorical: the
// softmax only) and szt/jzt likewise.
inline void draw_chunk(const Problem& P, const Constants& C, Buffers& B, std::size_t n_ev, bool need_tilde,
                       std::uint64_t s0, std::size_t m, std::size_t i0, std::size_t i1, bool values = false) {
  const std::size_t E = P.E;
  const std::size_t nj = n_ev * E;
  const double inv_lam = 1.0 / P.lam;
  if (P.kind == Categorical) {
    // The chunk is m samples of rows [i0, i1): m runs of nq contiguous coordinates from i0 * E.
    const std::size_t nq = (i1 - i0) * E, q0 = i0 * E, nr = i1 - i0;
    const bool fresh = !P.coupled && (need_tilde || values);
    noise_gumbel_rect(m, nq, s0, q0, P.key, P.stream, fresh, C.la.data(), B.z.data(), B.F.data());
    categorical_argmax(n_ev, E, fresh, B.z.data(), B.F.data(), B.zb.data(), B.ifb.data(), B.isb.data());
    const bool tilde = need_tilde || values;
    const CategoricalPass pass{B.z.data(),  B.zb.data(),  B.F.data(),    B.ifb.data(),   B.isb.data(),
                               C.th.data(), C.ith.data(), B.hard.data(), B.score.data(), B.th.data(),
                               B.ez.data(), B.ezt.data(), B.w.data(),    B.L.data()};
    noise_categorical_relax(m, nq, q0, inv_lam, P.coupled, tilde, pass);
    categorical_normalize(n_ev, E, B.ez.data(), B.sz.data());
    if (tilde) categorical_normalize(n_ev, E, B.ezt.data(), B.szt.data());
    if (!values) return;
    for (std::size_t ev = 0; ev < n_ev; ++ev) {
      const std::size_t c0 = q0 + (ev % nr) * E;
      std::size_t best = 0;
      while (B.isb[ev * E + best] == 0.0) ++best;
      B.lfb[ev] = fresh ? std::log(B.F[ev * E + best]) : 0.0;
      for (std::size_t k = 0; k < E; ++k) {
        const std::size_t j = ev * E + k;
        if (P.coupled) {
          B.zt[j] = B.z[j];
        } else if (B.F[j] * B.ith[j] * B.ifb[j] < kRatioCap || B.isb[j] != 0.0) {
          B.zt[j] = -(B.lfb[ev] + B.L[j]);
        } else {
          B.zt[j] = -(std::log(B.F[j]) - C.la[c0 + k]);
        }
      }
    }
    return;
  }
  const BernoulliOut o{B.z.data(),  B.hard.data(), B.zt.data(),  B.dzt.data(), B.score.data(),
                       B.sz.data(), B.jz.data(),   B.szt.data(), B.jzt.data()};
  const std::size_t nq = (i1 - i0) * E;
  const int K = inv_lam == 1.0 ? 1 : inv_lam == 2.0 ? 2 : 0;
  if (P.kind == BernoulliLogistic && !P.coupled && need_tilde && !values && K != 0 && (nq >= 8 || m >= 8)) {
    noise_logistic_fast(K, m, nq, s0, i0 * E, nq < 8, P.key, P.stream, inv_lam, P.alpha, C.th.data(), C.ea.data(),
                        C.ena.data(), o);
    return;
  }
  if (P.kind == BernoulliLogistic && nq >= 8) {
    noise_logistic_rect(m, nq, s0, i0 * E, P.key, P.stream, P.coupled, inv_lam, P.alpha, C.la.data(), C.lb.data(),
                        C.th.data(), C.ea.data(), C.ena.data(), o);
    return;
  }
  if (P.kind == BernoulliLogistic && m >= 8) {
    noise_logistic_by_sample(m, nq, s0, i0 * E, P.key, P.stream, P.coupled, inv_lam, P.alpha, C.la.data(), C.lb.data(),
                             C.th.data(), C.ea.data(), C.ena.data(), o);
    return;
  }
  for (std::size_t ev = 0; ev < n_ev; ++ev) {
    const std::size_t c0 = static_cast<std::size_t>(B.row[ev]) * E;
    for (std::size_t e = 0; e < E; ++e) {
      const std::size_t j = ev * E + e;
      B.coord[j] = static_cast<std::uint32_t>(c0 + e);
      B.sample_j[j] = B.sample[ev];
      B.alpha[j] = P.alpha[c0 + e];
      B.la[j] = C.la[c0 + e];
      B.lb[j] = C.lb[c0 + e];
      B.th[j] = C.th[c0 + e];
      B.aux[j] = C.aux[c0 + e];
      B.ea[j] = C.ea[c0 + e];
      B.ena[j] = C.ena[c0 + e];
    }
  }
  if (P.kind == BernoulliLogistic) {
    noise_logistic_flat(nj, P.key, P.stream, P.coupled, inv_lam, B.sample_j.data(), B.coord.data(), B.alpha.data(),
                        B.la.data(), B.lb.data(), B.th.data(), B.ea.data(), B.ena.data(), o);
    return;
  }
  noise_probit(nj, P.key, P.stream, P.coupled, B.sample_j.data(), B.coord.data(), B.alpha.data(), B.la.data(),
               B.lb.data(), B.aux.data(), B.z.data(), B.hard.data(), B.zt.data(), B.dzt.data(), B.score.data());
  double* sz = B.sz.data();
  double* jz = B.jz.data();
  double* szt = B.szt.data();
  double* jzt = B.jzt.data();
  const double* z = B.z.data();
  const double* zt = B.zt.data();
  const double* dzt = B.dzt.data();
#pragma omp simd
  for (std::size_t j = 0; j < nj; ++j) {
    double s, ds;
    sigmoid_and_slope(z[j] * inv_lam, s, ds);
    sz[j] = s;
    jz[j] = ds * inv_lam;  // dz/dalpha = 1
  }
  if (need_tilde) {
#pragma omp simd
    for (std::size_t j = 0; j < nj; ++j) {
      double s, ds;
      sigmoid_and_slope(zt[j] * inv_lam, s, ds);
      szt[j] = s;
      jzt[j] = ds * inv_lam * dzt[j];
    }
  }
}

// Categorical chain rule per event (see chain below); S the softmax, w and th per class.
static MIXGRAD_SIMD_CLONES void chain_categorical(std::size_t n_ev, std::size_t E, bool tilde, double inv_lam,
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

// Per-sample estimates g = w * score + cz * pz - czt * pzt of n_ev events of E coordinates
// (use_pz / use_pzt: whether those terms are present).
static MIXGRAD_SIMD_CLONES void combine_events(std::size_t n_ev, std::size_t E, bool use_pz, bool use_pzt,
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

// Welford update of running means/M2 with one more sample x (n samples after it).
static MIXGRAD_SIMD_CLONES void welford_add(std::size_t nq, double inv_n, const double* x, double* mean, double* m2) {
#pragma omp simd
  for (std::size_t q = 0; q < nq; ++q) {
    const double delta = x[q] - mean[q];
    mean[q] += delta * inv_n;
    m2[q] += delta * (x[q] - mean[q]);
  }
}

// REBAR for a Bernoulli with f(x) = mean_e (x_e - t_e)^2 (objectives::Quadratic), one eta and no
// baseline: f(b), f(sigma(z~)), the gradients, their chain rule and the combination
//   g = (f(b) - eta f(sigma(z~))) score + eta f'(sigma(z)) jz - eta f'(sigma(z~)) jz~
// in one pass per event (row[ev]: the event's row, for a per-row target).
static MIXGRAD_SIMD_CLONES void rebar_quadratic_bernoulli(std::size_t n_ev, std::size_t E, const double* target,
                                                          std::size_t target_row_stride, const std::uint32_t* row,
                                                          double eta, const double* hard, const double* score,
                                                          const double* sz, const double* jz, const double* szt,
                                                          const double* jzt, double* g) {
  if (E == 1 && target_row_stride == 0) {
    const double t = target[0];
#pragma omp simd
    for (std::size_t ev = 0; ev < n_ev; ++ev) {
      const double db = hard[ev] - t, dt = szt[ev] - t;
      const double w = db * db - eta * (dt * dt);
      g[ev] = w * score[ev] + eta * (2.0 * (sz[ev] - t) * jz[ev]) - eta * (2.0 * dt * jzt[ev]);
    }
    return;
  }
  const double inv = 1.0 / static_cast<double>(E), two_inv = 2.0 / static_cast<double>(E);
  for (std::size_t ev = 0; ev < n_ev; ++ev) {
    const double* t = target + row[ev] * target_row_stride;
    const std::size_t j0 = ev * E;
    const double *h = hard + j0, *st = szt + j0;
    double sb = 0.0, stt = 0.0;
#pragma omp simd reduction(+ : sb, stt)
    for (std::size_t e = 0; e < E; ++e) {
      const double db = h[e] - t[e], dt = st[e] - t[e];
      sb += db * db;
      stt += dt * dt;
    }
    const double w = sb * inv - eta * (stt * inv);
    const double *sc = score + j0, *s1 = sz + j0, *j1 = jz + j0, *j2 = jzt + j0;
    double* ge = g + j0;
#pragma omp simd
    for (std::size_t e = 0; e < E; ++e)
      ge[e] = w * sc[e] + eta * (two_inv * (s1[e] - t[e]) * j1[e]) - eta * (two_inv * (st[e] - t[e]) * j2[e]);
  }
}

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

// Fixed tiling of the (sample, row) plane: depends on S, R, E only, never on the thread count.
struct Tiling {
  std::size_t rows_per_tile, n_rb, samples_per_tile, n_sb;
  std::size_t n_tiles() const { return n_rb * n_sb; }
};

inline Tiling make_tiling(std::uint64_t S, std::size_t R, std::size_t E) {
  constexpr std::size_t kTileCoords = 8192;
  Tiling t;
  t.rows_per_tile = std::min<std::size_t>(R, std::max<std::size_t>(1, (kTileCoords + E - 1) / E));
  t.n_rb = (R + t.rows_per_tile - 1) / t.rows_per_tile;
  std::size_t n_sb = t.n_rb >= 32 ? 1 : (64 + t.n_rb - 1) / t.n_rb;
  n_sb = std::max<std::size_t>(1, std::min<std::size_t>(n_sb, static_cast<std::size_t>(S)));
  t.samples_per_tile = static_cast<std::size_t>((S + n_sb - 1) / n_sb);
  t.n_sb = static_cast<std::size_t>((S + t.samples_per_tile - 1) / t.samples_per_tile);
  return t;
}

constexpr std::size_t kChunkCoords = 256;

// Calls body(s0, m, i0, i1) for the chunks of one tile in a fixed order: m samples from s0 of
// rows [i0, i1); either m = 1 (a sample's rows split into pieces) or all the tile's rows.
template <class Body>
void for_chunks(std::size_t sa, std::size_t sb, std::size_t ra, std::size_t rb, std::size_t E, Body&& body) {
  const std::size_t coords = (rb - ra) * E;
  if (coords >= kChunkCoords) {
    const std::size_t rc = std::max<std::size_t>(1, kChunkCoords / E);
    for (std::size_t s = sa; s < sb; ++s)
      for (std::size_t i0 = ra; i0 < rb; i0 += rc) body(s, std::size_t(1), i0, std::min(rb, i0 + rc));
  } else {
    const std::size_t mmax = std::max<std::size_t>(1, kChunkCoords / coords);
    for (std::size_t s0 = sa; s0 < sb; s0 += mmax) body(s0, std::min(mmax, sb - s0), ra, rb);
  }
}

inline void chan_merge(double& n_a, double& mean_a, double& m2_a, double n_b, double mean_b, double m2_b) {
  const double n = n_a + n_b;
  if (n_b == 0.0) return;
  const double delta = mean_b - mean_a;
  mean_a += delta * (n_b / n);
  m2_a += m2_b + delta * delta * (n_a * n_b / n);
  n_a = n;
}

inline void check_problem(const Problem& P) {
  if (P.R == 0 || P.E == 0) throw std::invalid_argument("logits must not be empty");
  if (P.S == 0) throw std::invalid_argument("n_samples must be >= 1");
  if (P.S > 0xFFFFFFFFull || P.R * P.E > 0xFFFFFFFFull)
    throw std::invalid_argument("n_samples and the number of logits must each be < 2**32");
  if (!(P.lam > 0.0) || !std::isfinite(P.lam)) throw std::invalid_argument("temperature must be finite and > 0");
}

// The estimator: per-sample estimates and/or their per-coordinate mean and sum of squared
// deviations over samples, and/or the per-event statistics used for eta and baselines.
template <class Obj>
void estimate(const Problem& P, const Obj& obj) {
  check_problem(P);
  const std::size_t R = P.R, E = P.E;
  const std::uint64_t S = P.S;
  const Constants C = make_constants(P);
  const Tiling T = make_tiling(S, R, E);
  const std::size_t tile_coords = T.rows_per_tile * E;
  const bool accumulate = P.mean != nullptr;
  const bool stats = P.stat_fb != nullptr;
  std::vector<double> tile_mean(accumulate ? T.n_tiles() * tile_coords : 0);
  std::vector<double> tile_m2(accumulate ? T.n_tiles() * tile_coords : 0);
  if (stats && P.mode != Rebar && P.mode != Reinforce)
    throw std::invalid_argument("per-event statistics exist for rebar and reinforce only");
  const bool need_value_hard = P.mode == Rebar || P.mode == Reinforce;
  const bool need_tilde = P.mode == Rebar;
  const bool need_relaxed_grad = P.mode == Rebar || P.mode == Concrete;

  // Small problems stay on the calling thread (waking a team costs more than the work).
  const int threads = static_cast<double>(S) * static_cast<double>(R * E) < 16384.0 ? 1 : P.nthreads;
  parallel::for_blocks(T.n_tiles(), 1, threads, 2, [&](std::size_t t0, std::size_t t1) {
    Buffers B;
    const std::size_t max_nj = std::max(kChunkCoords, E);
    B.reserve(max_nj, max_nj);
    std::vector<double> cmean(tile_coords), cm2(tile_coords);
    for (std::size_t t = t0; t < t1; ++t) {
      const std::size_t sbi = t / T.n_rb, rbi = t % T.n_rb;
      const std::size_t sa = sbi * T.samples_per_tile, sb = std::min<std::size_t>(S, sa + T.samples_per_tile);
      const std::size_t ra = rbi * T.rows_per_tile, rb = std::min(R, ra + T.rows_per_tile);
      double* tmean = accumulate ? &tile_mean[t * tile_coords] : nullptr;
      double* tm2 = accumulate ? &tile_m2[t * tile_coords] : nullptr;
      if (accumulate) std::fill(tmean, tmean + tile_coords, 0.0), std::fill(tm2, tm2 + tile_coords, 0.0);
      for_chunks(sa, sb, ra, rb, E, [&](std::size_t s0, std::size_t m, std::size_t i0, std::size_t i1) {
        const std::size_t nr = i1 - i0, n_ev = m * nr, nj = n_ev * E;
        for (std::size_t c = 0; c < m; ++c)
          for (std::size_t i = i0; i < i1; ++i) {
            B.row[c * nr + (i - i0)] = static_cast<std::uint32_t>(i);
            B.sample[c * nr + (i - i0)] = s0 + c;
          }
        draw_chunk(P, C, B, n_ev, need_tilde, s0, m, i0, i1);
        bool fused = false;
        // the estimates: B.g, or straight into the output when the chunk's m samples of rows
        // [i0, i1) are one contiguous block of it (fused path only)
        double* gout = B.g.data();
        if constexpr (std::is_same_v<Obj, objectives::Quadratic>) {
          if (P.kind != Categorical && P.mode == Rebar && !stats && !P.eta && !P.baseline) {
            if (!accumulate && !P.samples) return;
            if (P.samples && (m == 1 || (i0 == 0 && i1 == R))) gout = P.samples + (s0 * R + i0) * E;
            rebar_quadratic_bernoulli(n_ev, E, obj.target, obj.target_row_stride, B.row.data(), P.eta_scalar,
                                      B.hard.data(), B.score.data(), B.sz.data(), B.jz.data(), B.szt.data(),
                                      B.jzt.data(), gout);
            fused = true;
          }
        }
        if (!fused) {
          objectives::Chunk ch{n_ev, E, B.row.data(), B.sample.data(), R};
          using objectives::Point;
          if (need_value_hard) obj.value(Point::Hard, ch, B.hard.data(), B.fb.data());
          if (need_tilde) {
            obj.value(Point::RelaxedTilde, ch, B.szt.data(), B.fzt.data());
            obj.grad(Point::RelaxedTilde, ch, B.szt.data(), B.gzt.data());
            chain(P, B, n_ev, true, B.gzt.data(), B.pzt.data());
          }
          if (need_relaxed_grad) {
            obj.grad(Point::Relaxed, ch, B.sz.data(), B.gz.data());
            chain(P, B, n_ev, false, B.gz.data(), B.pz.data());
          }
          if (P.mode == StraightThrough) {
            obj.grad(Point::Hard, ch, B.hard.data(), B.gz.data());
            chain(P, B, n_ev, false, B.gz.data(), B.pz.data());
          }
          if (!stats && !P.eta && !P.baseline) {
            // the common case: one eta, no baseline
            const double eta = P.eta_scalar;
            double *w = B.wev.data(), *cz = B.cz.data(), *czt = B.czt.data();
            const double *fb = B.fb.data(), *fzt = B.fzt.data();
            if (P.mode == Rebar) {
#pragma omp simd
              for (std::size_t ev = 0; ev < n_ev; ++ev) w[ev] = fb[ev] - eta * fzt[ev], cz[ev] = eta, czt[ev] = eta;
            } else if (P.mode == Reinforce) {
#pragma omp simd
              for (std::size_t ev = 0; ev < n_ev; ++ev) w[ev] = fb[ev], cz[ev] = 0.0, czt[ev] = 0.0;
            } else {
#pragma omp simd
              for (std::size_t ev = 0; ev < n_ev; ++ev) w[ev] = 0.0, cz[ev] = 1.0, czt[ev] = 0.0;
            }
          } else
            for (std::size_t ev = 0; ev < n_ev; ++ev) {
              const std::size_t s = B.sample[ev];
              const std::size_t idx = s * R + B.row[ev];
              const double eta = P.eta ? P.eta[s] : P.eta_scalar;
              const double base = P.baseline ? P.baseline[idx] : 0.0;
              switch (P.mode) {
                case Rebar:
                  B.wev[ev] = B.fb[ev] - eta * B.fzt[ev] - base, B.cz[ev] = eta, B.czt[ev] = eta;
                  break;
                case Reinforce:
                  B.wev[ev] = B.fb[ev] - base, B.cz[ev] = 0.0, B.czt[ev] = 0.0;
                  break;
                default:
                  B.wev[ev] = 0.0, B.cz[ev] = 1.0, B.czt[ev] = 0.0;
                  break;
              }
              if (stats && P.mode == Reinforce) {
                P.stat_fb[idx] = B.fb[ev];
                P.stat_fzt[idx] = P.stat_ab[idx] = P.stat_bb[idx] = 0.0;
              } else if (stats) {
                double ab = 0.0, bb = 0.0;
                for (std::size_t e = 0; e < E; ++e) {
                  const std::size_t j = ev * E + e;
                  const double A = B.fb[ev] * B.score[j];
                  const double Bv = -B.fzt[ev] * B.score[j] + B.pz[j] - B.pzt[j];
                  ab += A * Bv;
                  bb += Bv * Bv;
                }
                P.stat_fb[idx] = B.fb[ev];
                P.stat_fzt[idx] = B.fzt[ev];
                P.stat_ab[idx] = ab;
                P.stat_bb[idx] = bb;
              }
            }
          if (!accumulate && !P.samples) return;
          const bool use_pz = P.mode != Reinforce, use_pzt = P.mode == Rebar;
          if (E == 1) {
            double* g = B.g.data();
            const double *w = B.wev.data(), *cz = B.cz.data(), *czt = B.czt.data(), *sc = B.score.data();
            const double *pz = B.pz.data(), *pzt = B.pzt.data();
            if (use_pzt) {
#pragma omp simd
              for (std::size_t j = 0; j < n_ev; ++j) g[j] = w[j] * sc[j] + cz[j] * pz[j] - czt[j] * pzt[j];
            } else if (use_pz) {
#pragma omp simd
              for (std::size_t j = 0; j < n_ev; ++j) g[j] = cz[j] * pz[j];
            } else {
#pragma omp simd
              for (std::size_t j = 0; j < n_ev; ++j) g[j] = w[j] * sc[j];
            }
          } else {
            combine_events(n_ev, E, use_pz, use_pzt, B.wev.data(), B.cz.data(), B.czt.data(), B.score.data(),
                           B.pz.data(), B.pzt.data(), B.g.data());
          }
        }
        if (P.samples && gout == B.g.data()) {
          // the chunk's m samples of rows [i0, i1) are m contiguous blocks of the output
          const std::size_t nq = nr * E;
          for (std::size_t c = 0; c < m; ++c)
            std::copy(B.g.begin() + c * nq, B.g.begin() + (c + 1) * nq, P.samples + ((s0 + c) * R + i0) * E);
        }
        if (!accumulate) return;
        // Merge this chunk's m samples of rows [i0, i1) into the tile accumulators.
        const std::size_t q0 = (i0 - ra) * E, nq = nr * E;
        const double n_a = static_cast<double>(s0 - sa);
        if (m == 1) {
          welford_add(nq, 1.0 / (n_a + 1.0), gout, tmean + q0, tm2 + q0);
        } else {
          const double inv_m = 1.0 / static_cast<double>(m);
          if (nq == 1) {
            const double* x = gout;
            double sum = 0.0, ss = 0.0;
#pragma omp simd reduction(+ : sum)
            for (std::size_t c = 0; c < m; ++c) sum += x[c];
            const double mu = sum * inv_m;
#pragma omp simd reduction(+ : ss)
            for (std::size_t c = 0; c < m; ++c) ss += (x[c] - mu) * (x[c] - mu);
            double na = n_a;
            chan_merge(na, tmean[q0], tm2[q0], static_cast<double>(m), mu, ss);
            return;
          }
          std::fill(cmean.begin(), cmean.begin() + nq, 0.0);
          std::fill(cm2.begin(), cm2.begin() + nq, 0.0);
          for (std::size_t c = 0; c < m; ++c)
            for (std::size_t q = 0; q < nq; ++q) cmean[q] += gout[c * nq + q];
          for (std::size_t q = 0; q < nq; ++q) cmean[q] *= inv_m;
          for (std::size_t c = 0; c < m; ++c)
            for (std::size_t q = 0; q < nq; ++q) {
              const double d = gout[c * nq + q] - cmean[q];
              cm2[q] += d * d;
            }
          for (std::size_t q = 0; q < nq; ++q) {
            double na = n_a;
            chan_merge(na, tmean[q0 + q], tm2[q0 + q], static_cast<double>(m), cmean[q], cm2[q]);
          }
        }
        (void)nj;
      });
    }
  });
  if (!accumulate) return;
  // Merge the sample blocks of every row block in order.
  parallel::for_blocks(T.n_rb, 1, threads, 64, [&](std::size_t r0, std::size_t r1) {
    for (std::size_t rbi = r0; rbi < r1; ++rbi) {
      const std::size_t ra = rbi * T.rows_per_tile, rb = std::min(R, ra + T.rows_per_tile);
      const std::size_t nq = (rb - ra) * E;
      for (std::size_t q = 0; q < nq; ++q) {
        double n = 0.0, mean = 0.0, m2 = 0.0;
        for (std::size_t sbi = 0; sbi < T.n_sb; ++sbi) {
          const std::size_t sa = sbi * T.samples_per_tile, sb = std::min<std::size_t>(S, sa + T.samples_per_tile);
          const std::size_t t = sbi * T.n_rb + rbi;
          chan_merge(n, mean, m2, static_cast<double>(sb - sa), tile_mean[t * tile_coords + q],
                     tile_m2[t * tile_coords + q]);
        }
        P.mean[ra * E + q] = mean;
        if (P.m2) P.m2[ra * E + q] = m2;
      }
    }
  });
}

// Moving-average baseline: c[0][i] = init[i], c[s+1][i] = decay c[s][i] + (1 - decay) fb[s][i].
inline void ema_baseline(const double* fb, std::size_t S, std::size_t R, double decay, const double* init, double* c) {
  for (std::size_t i = 0; i < R; ++i) c[i] = init[i];
  for (std::size_t s = 1; s < S; ++s)
    for (std::size_t i = 0; i < R; ++i) c[s * R + i] = decay * c[(s - 1) * R + i] + (1.0 - decay) * fb[(s - 1) * R + i];
}

// Noise only: z, b, z~, dz~/dalpha (categorical: w), sigma(z/lam), sigma(z~/lam) per sample.
inline void draw_noise(const Problem& P) {
  check_problem(P);
  const std::size_t R = P.R, E = P.E;
  const Constants C = make_constants(P);
  const std::size_t per_block = std::max<std::size_t>(1, 4096 / (R * E));
  const int threads = static_cast<double>(P.S) * static_cast<double>(R * E) < 16384.0 ? 1 : P.nthreads;
  parallel::for_blocks(static_cast<std::size_t>(P.S), per_block, threads, 2, [&](std::size_t sa, std::size_t sb) {
    Buffers B;
    B.reserve(std::max(kChunkCoords, E), std::max(kChunkCoords, E));
    for_chunks(sa, sb, 0, R, E, [&](std::size_t s0, std::size_t m, std::size_t i0, std::size_t i1) {
      const std::size_t nr = i1 - i0, n_ev = m * nr;
      for (std::size_t c = 0; c < m; ++c)
        for (std::size_t i = i0; i < i1; ++i) {
          B.row[c * nr + (i - i0)] = static_cast<std::uint32_t>(i);
          B.sample[c * nr + (i - i0)] = s0 + c;
        }
      draw_chunk(P, C, B, n_ev, true, s0, m, i0, i1, true);
      const std::vector<double>& dz = P.kind == Categorical ? B.w : B.dzt;
      for (std::size_t c = 0; c < m; ++c) {
        const std::size_t off = ((s0 + c) * R + i0) * E, nq = nr * E, src = c * nq;
        auto put = [&](const std::vector<double>& from, double* to) {
          if (to) std::copy(from.begin() + src, from.begin() + src + nq, to + off);
        };
        put(B.z, P.out_z);
        put(B.hard, P.out_hard);
        put(B.zt, P.out_zt);
        put(dz, P.out_dzt);
        put(B.sz, P.out_sz);
        put(B.szt, P.out_szt);
      }
    });
  });
}

// Exact d/dalpha E[f_i(b)] for every row by enumeration (Bernoulli: 2^E outcomes; categorical: E).
// Writes value[i] = E f_i and grad[i*E + e].
template <class Obj>
void exact(int kind, const double* alpha, std::size_t R, std::size_t E, const Obj& obj, double* value, double* grad,
           int nthreads) {
  if (kind != Categorical && E > 24) throw std::invalid_argument("exact enumeration needs D <= 24");
  Problem P;
  P.kind = kind;
  P.alpha = alpha;
  P.R = R;
  P.E = E;
  P.nthreads = nthreads;
  const Constants C = make_constants(P);
  const std::size_t n_out = kind == Categorical ? E : (std::size_t(1) << E);
  parallel::for_blocks(R, 1, nthreads, 2, [&](std::size_t r0, std::size_t r1) {
    const std::size_t batch = std::max<std::size_t>(1, 4096 / E);
    std::vector<double> x(batch * E), val(batch);
    std::vector<std::uint32_t> rows(batch);
    std::vector<std::uint64_t> samples(batch, 0);
    for (std::size_t i = r0; i < r1; ++i) {
      const double* la = &C.la[i * E];
      const double* lb = &C.lb[i * E];
      const double* th = &C.th[i * E];
      const double* aux = &C.aux[i * E];
      double* g = grad + i * E;
      std::fill(g, g + E, 0.0);
      double tot = 0.0;
      for (std::size_t o0 = 0; o0 < n_out; o0 += batch) {
        const std::size_t nb = std::min(batch, n_out - o0);
        for (std::size_t c = 0; c < nb; ++c) {
          rows[c] = static_cast<std::uint32_t>(i);
          for (std::size_t e = 0; e < E; ++e)
            x[c * E + e] = kind == Categorical ? (e == o0 + c ? 1.0 : 0.0) : double(((o0 + c) >> e) & 1u);
        }
        objectives::Chunk ch{nb, E, rows.data(), samples.data(), R};
        obj.value(objectives::Point::Hard, ch, x.data(), val.data());
        for (std::size_t c = 0; c < nb; ++c) {
          const double* b = &x[c * E];
          double lp = 0.0;
          if (kind == Categorical) {
            lp = la[o0 + c];
          } else {
            for (std::size_t e = 0; e < E; ++e) lp += b[e] > 0.5 ? la[e] : lb[e];
          }
          const double pf = std::exp(lp) * val[c];
          tot += pf;
          for (std::size_t e = 0; e < E; ++e) {
            double sc;
            if (kind == Categorical)
              sc = b[e] - th[e];
            else if (kind == BernoulliLogistic)
              sc = b[e] - th[e];
            else
              sc = b[e] > 0.5 ? std::exp(aux[e] - la[e]) : -std::exp(aux[e] - lb[e]);
            g[e] += pf * sc;
          }
        }
      }
      value[i] = tot;
    }
  });
}

}  // namespace mixgrad::rebar
