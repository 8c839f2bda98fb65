// Bernoulli with logistic noise: the draws, z, b, the conditional z~ and the relaxations
// sigma(z/lam), sigma(z~/lam) with their alpha-derivatives (general and fast paths).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "mixgrad/config.hpp"
#include "mixgrad/discrete/philox_fill.hpp"
#include "mixgrad/discrete/philox_words.hpp"
#include "mixgrad/discrete/sigmoid.hpp"
#include "mixgrad/elementary.hpp"
#include "mixgrad/philox.hpp"

namespace mixgrad::rebar {

// z = alpha + log u - log(1-u), b = 1[z > 0]. With fresh v the conditional sample
// u' of DESIGN 4.1 gives, after cancelling alpha analytically (log theta - log(1-theta) = alpha):
//   b = 1: z~ = softplus(alpha + log v) - log(1-v)    (> 0 always),  dz~/dalpha = sigmoid(alpha + log v)
//   b = 0: z~ = log v - softplus(log(1-v) - alpha)    (< 0 always),  dz~/dalpha = sigmoid(log(1-v) - alpha)
// Coupled noise (u' = u, z~ = z): dz~/dalpha = 1 - (1-theta)/u (b = 1), 1 - theta/(1-u) (b = 0).
struct BernoulliOut {
  double *z, *hard, *zt, *dzt, *score, *sz, *jz, *szt, *jzt;
};

// sigma(z/lam), sigma(z~/lam) and their alpha-derivatives (dz/dalpha = 1) into o at j.
MIXGRAD_INLINE void store_relaxations(double zz, double zt, double dzt, double inv_lam, std::size_t j,
                                      const BernoulliOut& o) {
  double s1, ds1, s2, ds2;
  sigmoid_and_slope(zz * inv_lam, s1, ds1);
  sigmoid_and_slope(zt * inv_lam, s2, ds2);
  o.sz[j] = s1;
  o.jz[j] = ds1 * inv_lam;
  o.szt[j] = s2;
  o.jzt[j] = ds2 * inv_lam * dzt;
}

// The same with one division for both sigmoids: 1/(1 + t1) and 1/(1 + t2) from 1/((1 + t1)(1 + t2))
// (each within 1.5 ulp; the product lies in [1, 4]).
MIXGRAD_INLINE void store_relaxations_one_division(double zz, double zt, double dzt, double inv_lam, std::size_t j,
                                                   const BernoulliOut& o) {
  const double x1 = zz * inv_lam, x2 = zt * inv_lam;
  const double t1 = elem::exp_nonpositive(-std::fabs(x1)), t2 = elem::exp_nonpositive(-std::fabs(x2));
  const double d1 = 1.0 + t1, d2 = 1.0 + t2;
  const double r = 1.0 / (d1 * d2);
  const double inv1 = d2 * r, inv2 = d1 * r;
  o.sz[j] = x1 >= 0.0 ? inv1 : t1 * inv1;
  o.jz[j] = t1 * inv1 * inv1 * inv_lam;
  o.szt[j] = x2 >= 0.0 ? inv2 : t2 * inv2;
  o.jzt[j] = t2 * inv2 * inv2 * inv_lam * dzt;
}

// One coordinate: draws, transforms, and the relaxations sigma(z/lam), sigma(z~/lam) with their
// alpha-derivatives (dz/dalpha = 1). One exp + one log for both branches of z~.
// Fresh noise uses e^alpha and e^-alpha (per-coordinate constants ea, ena, alpha clamped to
// [-700, 700] there) so that one log per draw gives z~ and no log gives dz~/dalpha:
//   b = 1: z~ = log((1 + e^a v) / (1 - v)),        dz~/dalpha = y/(1+y), y = e^a v
//   b = 0: z~ = log(v / (1 + (1 - v) e^-a)),        dz~/dalpha = y/(1+y), y = (1 - v) e^-a
// u, v: the uniforms of the 64-bit halves of the draw's Philox block.
template <bool Coupled>
MIXGRAD_INLINE void logistic_one(double u, double v, double a, double la, double lb, double th, double ea, double ena,
                                 double inv_lam, std::size_t j, const BernoulliOut& o) {
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
    const double y = b ? ea * v : (1.0 - v) * ena;
    const double ratio = b ? (1.0 + y) / (1.0 - v) : v / (1.0 + y);
    zt = elem::log(ratio);
    dzt = y / (1.0 + y);
  }
  o.z[j] = zz;
  o.hard[j] = b ? 1.0 : 0.0;
  o.zt[j] = zt;
  o.dzt[j] = dzt;
  o.score[j] = (b ? 1.0 : 0.0) - th;
  store_relaxations(zz, zt, dzt, inv_lam, j, o);
}

// Coordinates given one by one (sample[j], coord[j], and the per-coordinate constants gathered).
template <bool Coupled>
MIXGRAD_INLINE void logistic_flat(std::size_t n, const VecKey& key, std::uint32_t stream, double inv_lam,
                                  const std::uint64_t* sample, const std::uint32_t* coord, const double* alpha,
                                  const double* la, const double* lb, const double* th, const double* ea,
                                  const double* ena, const BernoulliOut& o) {
#pragma omp simd
  for (std::size_t j = 0; j < n; ++j) {
    std::uint64_t w0, w1;
    philox_words(key, static_cast<std::uint32_t>(sample[j]), coord[j], 0u, stream, w0, w1);
    logistic_one<Coupled>(philox::bits_to_open_uniform(w0), philox::bits_to_open_uniform(w1), alpha[j], la[j], lb[j],
                          th[j], ea[j], ena[j], inv_lam, j, o);
  }
}

// The uniforms u[p], v[p] of a piece's blocks p < pn (from their 64-bit halves), in a loop of
// their own: with the 32-bit words in it, a draw loop is vectorized 8 lanes wide (two registers
// per double) and spills (REBAR's fast path: 7-15% slower that way, C++ harness, AVX2).
MIXGRAD_INLINE void piece_uniforms(std::size_t pn, const std::uint32_t (*w)[kPhiloxPiece], double* u, double* v) {
#pragma omp simd
  for (std::size_t p = 0; p < pn; ++p) {
    u[p] = philox::bits_to_open_uniform(philox_join(w[0][p], w[1][p]));
    v[p] = philox::bits_to_open_uniform(philox_join(w[2][p], w[3][p]));
  }
}

// Draws p < pn of a piece (philox_fill_piece's words) into o at j0 + p * stride; the constants
// at index p (ByCoordinate) or 0.
template <bool Coupled, bool ByCoordinate>
MIXGRAD_INLINE void logistic_piece(std::size_t pn, const std::uint32_t (*w)[kPhiloxPiece], const double* alpha,
                                   const double* la, const double* lb, const double* th, const double* ea,
                                   const double* ena, double inv_lam, std::size_t j0, std::size_t stride,
                                   const BernoulliOut& o) {
  // (the uniforms computed in this loop: piece_uniforms first measured no faster here)
#pragma omp simd
  for (std::size_t p = 0; p < pn; ++p) {
    const std::size_t i = ByCoordinate ? p : 0;
    logistic_one<Coupled>(philox::bits_to_open_uniform(philox_join(w[0][p], w[1][p])),
                          philox::bits_to_open_uniform(philox_join(w[2][p], w[3][p])), alpha[i], la[i], lb[i], th[i],
                          ea[i], ena[i], inv_lam, j0 + p * stride, o);
  }
}

// Walks an m x nq rectangle of draws (j = c * nq + q: sample s0 + c, coordinate c0 + q, whose
// Philox counter is (s0 + c, g0 + q, 0, stream), g0 + q its index in the whole call) in pieces of
// Philox blocks along the vectorized axis: by_sample, along the m samples one coordinate at a
// time (few coordinates), else along the coordinates. For each piece,
// piece(by_coordinate, pn, w, i0, j0, stride): draws p < pn of w go to j0 + p * stride, their
// per-coordinate constants at i0 + p (by_coordinate: std::true_type) or at i0.
template <class Piece>
MIXGRAD_INLINE void logistic_rect_walk(std::size_t m, std::size_t nq, std::uint64_t s0, std::size_t c0, std::size_t g0,
                                       bool by_sample, philox::Key key, std::uint32_t stream, const Piece& piece) {
  std::uint32_t w[4][kPhiloxPiece];
  const std::uint32_t s0w = static_cast<std::uint32_t>(s0), g0w = static_cast<std::uint32_t>(g0);
  if (by_sample) {
    for (std::size_t q = 0; q < nq; ++q) {
      const PhiloxRun run{s0w, g0w + static_cast<std::uint32_t>(q), 0u, stream, true};
      for (std::size_t p0 = 0; p0 < m; p0 += kPhiloxPiece) {
        const std::size_t pn = std::min(kPhiloxPiece, m - p0);
        philox_fill_piece(key, run, p0, pn, w);
        if (nq == 1)  // the stride a constant: vector stores, not one store per lane
          piece(std::false_type{}, pn, w, c0, p0, std::size_t{1});
        else
          piece(std::false_type{}, pn, w, c0 + q, p0 * nq + q, nq);
      }
    }
  } else {
    for (std::size_t c = 0; c < m; ++c) {
      const PhiloxRun run{g0w, s0w + static_cast<std::uint32_t>(c), 0u, stream, false};
      for (std::size_t p0 = 0; p0 < nq; p0 += kPhiloxPiece) {
        const std::size_t pn = std::min(kPhiloxPiece, nq - p0);
        philox_fill_piece(key, run, p0, pn, w);
        piece(std::true_type{}, pn, w, c0 + p0, c * nq + p0, std::size_t{1});
      }
    }
  }
}

// m samples from s0 of the nq coordinates from c0 (logistic_rect_walk), constants indexed by
// coordinate.
template <bool Coupled>
MIXGRAD_INLINE void logistic_rect(std::size_t m, std::size_t nq, std::uint64_t s0, std::size_t c0, std::size_t g0,
                                  bool by_sample, philox::Key key, std::uint32_t stream, double inv_lam,
                                  const double* alpha, const double* la, const double* lb, const double* th,
                                  const double* ea, const double* ena, const BernoulliOut& o) {
  logistic_rect_walk(m, nq, s0, c0, g0, by_sample, key, stream,
                     [&](auto by_coordinate, std::size_t pn, const std::uint32_t (*w)[kPhiloxPiece], std::size_t i,
                         std::size_t j0, std::size_t stride) __attribute__((always_inline)) {
                       logistic_piece<Coupled, decltype(by_coordinate)::value>(pn, w, alpha + i, la + i, lb + i, th + i,
                                                                               ea + i, ena + i, inv_lam, j0, stride, o);
                     });
}

MIXGRAD_SIMD_KERNEL void noise_logistic_flat_kernel(std::size_t n, philox::Key key, std::uint32_t stream, bool coupled,
                                                    double inv_lam, const std::uint64_t* sample,
                                                    const std::uint32_t* coord, const double* alpha, const double* la,
                                                    const double* lb, const double* th, const double* ea,
                                                    const double* ena, BernoulliOut o) {
  if (coupled)
    logistic_flat<true>(n, vec_key(key), stream, inv_lam, sample, coord, alpha, la, lb, th, ea, ena, o);
  else
    logistic_flat<false>(n, vec_key(key), stream, inv_lam, sample, coord, alpha, la, lb, th, ea, ena, o);
}

MIXGRAD_SIMD_DISPATCH(noise_logistic_flat)

MIXGRAD_SIMD_KERNEL void noise_logistic_rect_kernel(std::size_t m, std::size_t nq, std::uint64_t s0, std::size_t c0,
                                                    std::size_t g0, bool by_sample, philox::Key key,
                                                    std::uint32_t stream, bool coupled, double inv_lam,
                                                    const double* alpha, const double* la, const double* lb,
                                                    const double* th, const double* ea, const double* ena,
                                                    BernoulliOut o) {
  if (coupled)
    logistic_rect<true>(m, nq, s0, c0, g0, by_sample, key, stream, inv_lam, alpha, la, lb, th, ea, ena, o);
  else
    logistic_rect<false>(m, nq, s0, c0, g0, by_sample, key, stream, inv_lam, alpha, la, lb, th, ea, ena, o);
}

MIXGRAD_SIMD_DISPATCH(noise_logistic_rect)

// Estimates only (no z, z~ outputs), 1/lam = K in {1, 2}: no log or exp per draw.
// With t = e^{-|x|}, sigma(K x) = 1/(1 + t^K) (x > 0) or t^K/(1 + t^K), slope t^K/(1 + t^K)^2;
// e^{-|z|} = n/d with (n, d) = ((1-u) e^-a, u) for b = 1 and (e^a u, 1-u) for b = 0 (n <= d <= 1
// up to rounding, so n^K + d^K neither overflows nor vanishes). Fresh noise: e^{-|z~|} = (1-v)/(1+y)
// (b = 1) or v/(1+y) (b = 0), y as in logistic_one; dz~/dalpha = y/(1+y). Coupled noise: z~ = z,
// dz~/dalpha = 1 - (1-theta)/u = 1 - 1/(u (1 + e^a)) (b = 1), 1 - 1/((1-u)(1 + e^-a)) (b = 0).
// b is decided by u e^a > 1 - u. That agrees with z = a + log(u/(1-u)) > 0 (the general path and
// draw_noise) except within rounding of the boundary; each piece counts its draws within a
// relative 1e-9 of it and, where there are any, redoes them with b taken from z (o.z is not
// written).
template <int K>
MIXGRAD_INLINE double ipow(double t) {
  static_assert(K == 1 || K == 2, "K must be 1 or 2");
  return K == 1 ? t : t * t;
}

MIXGRAD_INLINE double logistic_z(double a, double u) {
  return a + elem::log(u / (1.0 - u));
}

template <int K, bool Coupled>
MIXGRAD_INLINE void logistic_relax_given_b(double u, double v, bool b, double th, double ea, double ena, double inv_lam,
                                           std::size_t j, const BernoulliOut& o) {
  const double n1 = b ? (1.0 - u) * ena : ea * u;
  const double d1 = b ? u : 1.0 - u;
  const double nk = ipow<K>(n1), dk = ipow<K>(d1), sk = nk + dk;
  o.hard[j] = b ? 1.0 : 0.0;
  o.score[j] = (b ? 1.0 : 0.0) - th;
  // One division per draw: the reciprocals of the two denominators from that of their product.
  if (Coupled) {
    const double den = b ? u + u * ea : d1 + d1 * ena;  // <= 1 + e^700, so den * sk stays finite
    const double t = 1.0 / (sk * den);
    const double r1 = den * t;
    const double sz = (b ? dk : nk) * r1, jz = nk * dk * r1 * r1 * inv_lam;
    o.sz[j] = sz;
    o.jz[j] = jz;
    o.szt[j] = sz;
    o.jzt[j] = jz * (1.0 - sk * t);
  } else {
    // sigma(K z~) = Y^K/P or a^K/P with a = 1-v (b = 1) or v (b = 0), Y = 1 + y, P = Y^K + a^K;
    // slope * dz~/dalpha = a^K Y^(K-1) y / P^2. y is capped at 1e100 (beyond, q < 1e-200 and
    // the slope is as good as 0) so that P stays finite.
    const double y = b ? ea * v : (1.0 - v) * ena;
    const double yc = y < 1e100 ? y : 1e100;
    // a = 1 - v (b = 1) or v, exactly, written without a select: with one, GCC computed a^K, P
    // and the division for both values of b and selected after them (two divisions per draw).
    const double a = std::fabs((b ? 1.0 : 0.0) - v);
    const double Y = 1.0 + yc, ak = ipow<K>(a), yk = ipow<K>(Y), pk = yk + ak;
    const double t = 1.0 / (sk * pk);
    const double r1 = pk * t, r2 = sk * t;
    o.sz[j] = (b ? dk : nk) * r1;
    o.jz[j] = nk * dk * r1 * r1 * inv_lam;
    o.szt[j] = (b ? yk : ak) * r2;
    o.jzt[j] = ak * (K == 1 ? 1.0 : Y) * yc * (r2 * r2) * inv_lam;
  }
}

// u e^a within a relative 1e-9 of 1 - u. Written with products only, so that no multiply-add
// contraction can decide it differently in a vectorized loop and in the scalar redo.
MIXGRAD_INLINE bool logistic_near_boundary(double lhs, double rhs) {
  return lhs > rhs * (1.0 - 1e-9) && lhs < rhs * (1.0 + 1e-9);
}

// One draw from its uniforms u and v (from the halves of its Philox block), b by u e^a > 1 - u;
// true when that is within rounding of the boundary (see above).
template <int K, bool Coupled>
MIXGRAD_INLINE bool logistic_fast_uv(double u, double v, double th, double ea, double ena, double inv_lam,
                                     std::size_t j, const BernoulliOut& o) {
  const double lhs = u * ea, rhs = 1.0 - u;
  logistic_relax_given_b<K, Coupled>(u, v, lhs > rhs, th, ea, ena, inv_lam, j, o);
  return logistic_near_boundary(lhs, rhs);
}

// Draws p < pn of a piece (philox_fill_piece's words) into o at j0 + p * stride; the constants
// at index p (ByCoordinate) or 0. The draws near the boundary are redone with b = 1[z > 0]
// (counted in the vectorized loop and found again in a scalar one where there are any, instead
// of a flag written for every draw and a pass that scans the flags).
template <int K, bool Coupled, bool ByCoordinate>
MIXGRAD_INLINE void logistic_fast_piece(std::size_t pn, const std::uint32_t (*w)[kPhiloxPiece], const double* alpha,
                                        const double* th, const double* ea, const double* ena, double inv_lam,
                                        std::size_t j0, std::size_t stride, const BernoulliOut& o) {
  alignas(64) double u[kPhiloxPiece], v[kPhiloxPiece];
  piece_uniforms(pn, w, u, v);
  double near = 0.0;
#pragma omp simd reduction(+ : near)
  for (std::size_t p = 0; p < pn; ++p)
    near += logistic_fast_uv<K, Coupled>(u[p], v[p], th[ByCoordinate ? p : 0], ea[ByCoordinate ? p : 0],
                                         ena[ByCoordinate ? p : 0], inv_lam, j0 + p * stride, o)
                ? 1.0
                : 0.0;
  if (near == 0.0) return;
  for (std::size_t p = 0; p < pn; ++p) {
    const std::size_t i = ByCoordinate ? p : 0;
    if (!logistic_near_boundary(u[p] * ea[i], 1.0 - u[p])) continue;
    logistic_relax_given_b<K, Coupled>(u[p], v[p], logistic_z(alpha[i], u[p]) > 0.0, th[i], ea[i], ena[i], inv_lam,
                                       j0 + p * stride, o);
  }
}

// m samples from s0 of the nq coordinates from c0 (logistic_rect_walk).
template <int K, bool Coupled>
MIXGRAD_INLINE void logistic_fast_rect(std::size_t m, std::size_t nq, std::uint64_t s0, std::size_t c0, std::size_t g0,
                                       bool by_sample, philox::Key key, std::uint32_t stream, double inv_lam,
                                       const double* alpha, const double* th, const double* ea, const double* ena,
                                       const BernoulliOut& o) {
  logistic_rect_walk(m, nq, s0, c0, g0, by_sample, key, stream,
                     [&](auto by_coordinate, std::size_t pn, const std::uint32_t (*w)[kPhiloxPiece], std::size_t i,
                         std::size_t j0, std::size_t stride) __attribute__((always_inline)) {
                       logistic_fast_piece<K, Coupled, decltype(by_coordinate)::value>(pn, w, alpha + i, th + i, ea + i,
                                                                                       ena + i, inv_lam, j0, stride, o);
                     });
}

MIXGRAD_SIMD_KERNEL void noise_logistic_fast_kernel(int K, std::size_t m, std::size_t nq, std::uint64_t s0,
                                                    std::size_t c0, std::size_t g0, bool by_sample, philox::Key key,
                                                    std::uint32_t stream, bool coupled, double inv_lam,
                                                    const double* alpha, const double* th, const double* ea,
                                                    const double* ena, BernoulliOut o) {
  if (K == 1 && coupled)
    logistic_fast_rect<1, true>(m, nq, s0, c0, g0, by_sample, key, stream, inv_lam, alpha, th, ea, ena, o);
  else if (K == 1)
    logistic_fast_rect<1, false>(m, nq, s0, c0, g0, by_sample, key, stream, inv_lam, alpha, th, ea, ena, o);
  else if (coupled)
    logistic_fast_rect<2, true>(m, nq, s0, c0, g0, by_sample, key, stream, inv_lam, alpha, th, ea, ena, o);
  else
    logistic_fast_rect<2, false>(m, nq, s0, c0, g0, by_sample, key, stream, inv_lam, alpha, th, ea, ena, o);
}

MIXGRAD_SIMD_DISPATCH(noise_logistic_fast)

}  // namespace mixgrad::rebar
