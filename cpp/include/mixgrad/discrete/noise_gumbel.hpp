// Categorical with Gumbel noise: the draws, z, the argmax b, the conditional noise and the
// softmax relaxations with the weights w of dz~/dalpha.
#pragma once

#include <cstddef>
#include <cstdint>

#include "mixgrad/config.hpp"
#include "mixgrad/discrete/philox_words.hpp"
#include "mixgrad/discrete/sigmoid.hpp"
#include "mixgrad/elementary.hpp"
#include "mixgrad/philox.hpp"

namespace mixgrad::rebar {

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

inline constexpr double kRatioCap = 1e300;

// Pass 1 over the m samples (from s0) of the nq contiguous coordinates from c0: the Philox
// block of (s, coordinate) gives u (first 64 bits) and v (last 64 bits); writes z and F = -log v
// (F only for fresh conditional noise). The counter of coordinate c0 + q is g0 + q, its index in
// the whole call.
template <bool WithF>
MIXGRAD_INLINE void gumbel_rect(std::size_t m, std::size_t nq, std::uint64_t s0, std::size_t c0, std::size_t g0,
                                philox::Key key, std::uint32_t stream, const double* la, double* z, double* F) {
  for (std::size_t c = 0; c < m; ++c) {
    const std::uint32_t s = static_cast<std::uint32_t>(s0 + c);
    double* zc = z + c * nq;
    double* Fc = F + c * nq;
#pragma omp simd
    for (std::size_t q = 0; q < nq; ++q) {
      std::uint64_t lo, hi;
      philox_words(key, s, static_cast<std::uint32_t>(g0 + q), 0u, stream, lo, hi);
      const double e = -elem::log(philox::bits_to_open_uniform(lo));
      zc[q] = la[c0 + q] - elem::log(e);
      if (WithF) Fc[q] = -elem::log(philox::bits_to_open_uniform(hi));
    }
  }
}

MIXGRAD_SIMD_KERNEL void noise_gumbel_rect_kernel(std::size_t m, std::size_t nq, std::uint64_t s0, std::size_t c0,
                                                  std::size_t g0, philox::Key key, std::uint32_t stream, bool with_f,
                                                  const double* la, double* z, double* F) {
  if (with_f)
    gumbel_rect<true>(m, nq, s0, c0, g0, key, stream, la, z, F);
  else
    gumbel_rect<false>(m, nq, s0, c0, g0, key, stream, la, z, F);
}

MIXGRAD_SIMD_DISPATCH(noise_gumbel_rect)

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
        p.w[j] = -elem::expm1(d > -700.0 ? d : -700.0);  // below -700: -1 in double
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

MIXGRAD_SIMD_KERNEL void noise_categorical_relax_kernel(std::size_t m, std::size_t nq, std::size_t c0, double inv_lam,
                                                        bool coupled, bool tilde, CategoricalPass p) {
  if (coupled)
    categorical_relax<true, true>(m, nq, c0, inv_lam, p);
  else if (tilde)
    categorical_relax<false, true>(m, nq, c0, inv_lam, p);
  else
    categorical_relax<false, false>(m, nq, c0, inv_lam, p);
}

MIXGRAD_SIMD_DISPATCH(noise_categorical_relax)

// Pass 2, per event: b = argmax z (the first on ties), broadcast z_b, 1/F_b and 1[k = b] to the
// event's classes.
MIXGRAD_SIMD_KERNEL void categorical_argmax_kernel(std::size_t n_ev, std::size_t E, bool fresh, const double* z,
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
MIXGRAD_SIMD_DISPATCH(categorical_argmax)

// Pass 4, per event: normalize exp-weights e into softmax s.
MIXGRAD_SIMD_KERNEL void categorical_normalize_kernel(std::size_t n_ev, std::size_t E, const double* e, double* s) {
  for (std::size_t ev = 0; ev < n_ev; ++ev) {
    const double* ee = e + ev * E;
    double* se = s + ev * E;
    double t = 0.0;
    for (std::size_t k = 0; k < E; ++k) t += ee[k];
    const double inv = 1.0 / t;
    for (std::size_t k = 0; k < E; ++k) se[k] = ee[k] * inv;
  }
}
MIXGRAD_SIMD_DISPATCH(categorical_normalize)

}  // namespace mixgrad::rebar
