// Diagonal mixtures: parameters of one unit in double (Prepared), loaded from the inputs either
// shared by all lanes (one mixture) or one mixture per lane, with the derived quantities.
#pragma once

#include <cstddef>

#include "mixgrad/aligned_vector.hpp"
#include "mixgrad/config.hpp"
#include "mixgrad/elementary.hpp"
#include "mixgrad/mixture/lanes.hpp"
#include "mixgrad/special.hpp"

namespace mixgrad::mixture {

// Parameters of one unit in double, with 1/sigma, log sigma and sigma sqrt(2 pi) precomputed.
// Shared (PL = false): mu[d*K + k], logw[k]. Per lane (PL = true): mu[(d*K + k)*L + l], logw[k*L + l].
struct Prepared {
  aligned_vector<double> mu, invs, sig, logs, sig2pi, logw, w;
  // Tangents (forward mode), same layouts; empty unless used.
  aligned_vector<double> ta, tmu, ts;
};

namespace detail {

// From the raw values that load_one left in p (logits in logw, scales in sig) compute
// 1/sigma, log sigma, sigma sqrt(2 pi), the log-softmax of the logits and the weights, for W lanes at once
// (W = 1: shared layout; W = L: one mixture per lane).
template <std::size_t W>
MIXGRAD_INLINE void finish_impl(std::size_t K, std::size_t D, Prepared& p) {
  const double* sig = p.sig.data();
  double* invs = p.invs.data();
  double* logs = p.logs.data();
  double* sig2pi = p.sig2pi.data();
  double* lw = p.logw.data();
  double* w = p.w.data();
  const std::size_t n = D * K * W;
#pragma omp simd
  for (std::size_t i = 0; i < n; ++i) {
    invs[i] = 1.0 / sig[i];
    logs[i] = elem::log(sig[i]);
    sig2pi[i] = sig[i] * special::kSqrt2Pi;
  }
  alignas(64) double M[W];  // log sum_k e^{logit_k} per lane
  lse_lanes<W>(lw, K, M);
  for (std::size_t k = 0; k < K; ++k) {
#pragma omp simd
    for (std::size_t l = 0; l < W; ++l) {
      const double v = lw[k * W + l] - M[l];
      lw[k * W + l] = v;
      w[k * W + l] = elem::exp(v);
    }
  }
}

MIXGRAD_SIMD_KERNEL void finish_shared_kernel(std::size_t K, std::size_t D, Prepared& p) {
  finish_impl<1>(K, D, p);
}

MIXGRAD_SIMD_DISPATCH(finish_shared)
MIXGRAD_SIMD_KERNEL void finish_lanes_kernel(std::size_t K, std::size_t D, Prepared& p) {
  finish_impl<L>(K, D, p);
}
MIXGRAD_SIMD_DISPATCH(finish_lanes)

// Copy mixture b's raw parameters into lane l of p (or the shared slot when PL is false).
template <bool PL, class T>
void load_one(const Dims& dm, const T* logits, const T* means, const T* scales, std::size_t b, std::size_t l,
              Prepared& p, const T* ta, const T* tmu, const T* ts) {
  const std::size_t K = dm.K, D = dm.D, W = PL ? L : 1;
  if (p.mu.size() != D * K * W || (ta && p.ta.size() != K * W)) {
    for (auto* v : {&p.mu, &p.invs, &p.sig, &p.logs, &p.sig2pi}) v->assign(D * K * W, 0.0);
    p.logw.assign(K * W, 0.0);
    p.w.assign(K * W, 0.0);
    if (ta) {
      p.ta.assign(K * W, 0.0);
      p.tmu.assign(D * K * W, 0.0);
      p.ts.assign(D * K * W, 0.0);
    }
  }
  for (std::size_t k = 0; k < K; ++k) {
    p.logw[at<PL>(k, l)] = static_cast<double>(logits[b * K + k]);
    if (ta) p.ta[at<PL>(k, l)] = static_cast<double>(ta[b * K + k]);
  }
  const T* m = means + b * K * D;
  const T* s = scales + b * K * D;
  for (std::size_t k = 0; k < K; ++k)
    for (std::size_t d = 0; d < D; ++d) {
      const std::size_t j = at<PL>(d * K + k, l);
      p.mu[j] = static_cast<double>(m[k * D + d]);
      p.sig[j] = static_cast<double>(s[k * D + d]);
      if (ta) {
        p.tmu[j] = static_cast<double>(tmu[b * K * D + k * D + d]);
        p.ts[j] = static_cast<double>(ts[b * K * D + k * D + d]);
      }
    }
}

}  // namespace detail

// Prepare mixture b in the shared layout.
template <class T>
void prepare_shared(const Dims& dm, const T* logits, const T* means, const T* scales, std::size_t b, Prepared& p,
                    const T* ta = nullptr, const T* tmu = nullptr, const T* ts = nullptr) {
  detail::load_one<false>(dm, logits, means, scales, b, 0, p, ta, tmu, ts);
  detail::finish_shared(dm.K, dm.D, p);
}

// Prepare mixtures b0 .. b0 + nb - 1 in lanes 0 .. nb - 1; the remaining lanes repeat mixture b0.
template <class T>
void prepare_group(const Dims& dm, const T* logits, const T* means, const T* scales, std::size_t b0, std::size_t nb,
                   Prepared& p, const T* ta = nullptr, const T* tmu = nullptr, const T* ts = nullptr) {
  for (std::size_t l = 0; l < L; ++l)
    detail::load_one<true>(dm, logits, means, scales, b0 + (l < nb ? l : 0), l, p, ta, tmu, ts);
  detail::finish_lanes(dm.K, dm.D, p);
}

}  // namespace mixgrad::mixture
