// Bernoulli with Gaussian (probit) noise: the draws, z, b, the conditional z~, dz~/dalpha, the
// score and the relaxations (a scalar path for any layout, and vectorized rectangles).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "mixgrad/config.hpp"
#include "mixgrad/discrete/noise_logistic.hpp"
#include "mixgrad/discrete/philox_words.hpp"
#include "mixgrad/discrete/sigmoid.hpp"
#include "mixgrad/elementary.hpp"
#include "mixgrad/philox.hpp"
#include "mixgrad/special.hpp"

namespace mixgrad::rebar {

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

// One coordinate of the vectorized path: draws, z, b, z~, dz~/dalpha, score and the relaxations.
// Lanes where ndtri_exp's argument leaves [-700, 0) (|alpha| beyond ~37, or NaN) get
// dzt = NaN and are redone by probit_fix.
template <bool Coupled>
MIXGRAD_INLINE void probit_one(const VecKey& key, std::uint32_t stream, std::uint32_t s, std::uint32_t coord, double a,
                               double la, double lb, double aux, double inv_lam, std::size_t j, const BernoulliOut& o) {
  std::uint64_t w0, w1;
  philox_words(key, s, coord, 0u, stream, w0, w1);
  const double eps = philox::bits_to_normal(w0);
  const double zz = a + eps;
  const bool b = zz >= 0.0;
  double e, lv;
  bool ok = true;
  if (Coupled) {
    e = eps;
    lv = special::log_ndtr(b ? -eps : eps) - (b ? la : lb);
  } else {
    lv = elem::log(philox::bits_to_open_uniform(w1));
    const double lp = lv + (b ? la : lb);
    ok = lp >= special::kNdtriExpMin;  // lp < 0 always; below, probit_fix redoes the lane
    const double x = special::ndtri_exp_moderate(ok ? lp : -1.0);
    e = b ? -x : x;
  }
  const double zt = Coupled ? zz : a + e;
  const double dzt = 1.0 - elem::exp(lv + aux - special::normal_logpdf(e));
  o.z[j] = zz;
  o.hard[j] = b ? 1.0 : 0.0;
  o.zt[j] = zt;
  o.dzt[j] = ok ? dzt : elem::kNaN;
  o.score[j] = (b ? 1.0 : -1.0) * elem::exp(aux - (b ? la : lb));
  store_relaxations(zz, zt, dzt, inv_lam, j, o);
}

// Redo the lanes of an m x nq rectangle (j = c * nq + q) that probit_one left with dzt = NaN,
// by the scalar noise_probit.
MIXGRAD_INLINE void probit_fix(std::size_t m, std::size_t nq, std::uint64_t s0, std::size_t c0, std::size_t g0,
                               const VecKey& key, std::uint32_t stream, bool coupled, double inv_lam,
                               const double* alpha, const double* la, const double* lb, const double* aux,
                               const BernoulliOut& o) {
  bool any = false;
  for (std::size_t j = 0; j < m * nq; ++j) any |= o.dzt[j] != o.dzt[j];
  if (!any) return;
  for (std::size_t c = 0; c < m; ++c)
    for (std::size_t q = 0; q < nq; ++q) {
      const std::size_t j = c * nq + q, cq = c0 + q;
      if (o.dzt[j] == o.dzt[j]) continue;
      const std::uint64_t s = s0 + c;
      const std::uint32_t g = static_cast<std::uint32_t>(g0 + q);
      noise_probit(1, key.key, stream, coupled, &s, &g, alpha + cq, la + cq, lb + cq, aux + cq, o.z + j, o.hard + j,
                   o.zt + j, o.dzt + j, o.score + j);
      store_relaxations(o.z[j], o.zt[j], o.dzt[j], inv_lam, j, o);
    }
}

// m samples from s0 of the nq contiguous coordinates from c0 (constants indexed by coordinate,
// Philox counter of coordinate c0 + q is g0 + q); by_sample: vectorized over the samples (few
// coordinates), else over the coordinates.
template <bool Coupled>
MIXGRAD_INLINE void probit_rect(std::size_t m, std::size_t nq, std::uint64_t s0, std::size_t c0, std::size_t g0,
                                bool by_sample, const VecKey& key, std::uint32_t stream, double inv_lam,
                                const double* alpha, const double* la, const double* lb, const double* aux,
                                const BernoulliOut& o) {
  if (by_sample && nq == 1) {  // one coordinate: unit-stride stores
    const double a = alpha[c0], l1 = la[c0], l2 = lb[c0], x = aux[c0];
#pragma omp simd
    for (std::size_t c = 0; c < m; ++c)
      probit_one<Coupled>(key, stream, static_cast<std::uint32_t>(s0 + c), static_cast<std::uint32_t>(g0), a, l1, l2, x,
                          inv_lam, c, o);
  } else if (by_sample) {
    for (std::size_t q = 0; q < nq; ++q) {
      const std::size_t cq = c0 + q;
      const double a = alpha[cq], l1 = la[cq], l2 = lb[cq], x = aux[cq];
#pragma omp simd
      for (std::size_t c = 0; c < m; ++c)
        probit_one<Coupled>(key, stream, static_cast<std::uint32_t>(s0 + c), static_cast<std::uint32_t>(g0 + q), a, l1,
                            l2, x, inv_lam, c * nq + q, o);
    }
  } else {
    for (std::size_t c = 0; c < m; ++c) {
      const std::uint32_t s = static_cast<std::uint32_t>(s0 + c);
#pragma omp simd
      for (std::size_t q = 0; q < nq; ++q)
        probit_one<Coupled>(key, stream, s, static_cast<std::uint32_t>(g0 + q), alpha[c0 + q], la[c0 + q], lb[c0 + q],
                            aux[c0 + q], inv_lam, c * nq + q, o);
    }
  }
  probit_fix(m, nq, s0, c0, g0, key, stream, Coupled, inv_lam, alpha, la, lb, aux, o);
}

MIXGRAD_SIMD_KERNEL void noise_probit_rect_kernel(std::size_t m, std::size_t nq, std::uint64_t s0, std::size_t c0,
                                                  std::size_t g0, bool by_sample, philox::Key key, std::uint32_t stream,
                                                  bool coupled, double inv_lam, const double* alpha, const double* la,
                                                  const double* lb, const double* aux, BernoulliOut o) {
  if (coupled)
    probit_rect<true>(m, nq, s0, c0, g0, by_sample, vec_key(key), stream, inv_lam, alpha, la, lb, aux, o);
  else
    probit_rect<false>(m, nq, s0, c0, g0, by_sample, vec_key(key), stream, inv_lam, alpha, la, lb, aux, o);
}

MIXGRAD_SIMD_DISPATCH(noise_probit_rect)

}  // namespace mixgrad::rebar
