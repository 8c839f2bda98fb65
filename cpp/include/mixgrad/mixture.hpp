// Diagonal Gaussian mixtures: log density, the distributional transform (ancestral
// factorization), its inverse, exact sampling, and the implicit-reparameterization gradient
// (reverse recurrence, O(K*D) per sample) and its forward-mode product. DESIGN.md section 3.
//
// Shapes (row-major): logits [B][K], means and scales [B][K][D]; rows of x are [N][D] with
// N = S*B and row i belonging to mixture i % B (x has shape (S, B, D) in Python).
//
// Work is done in units of L rows held in "lanes": every per-(d, k) array has layout
// [d][k][lane], so each inner loop runs over L lanes with no horizontal reduction and
// vectorizes whatever K is. The parameters of a unit are either shared by all lanes (one
// mixture, layout [d][k]) or gathered per lane (a batch of mixtures, layout [d][k][lane]).
// All arithmetic is in double; float32 inputs are widened and outputs rounded once.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <utility>
#include <vector>

#include "mixgrad/config.hpp"
#include "mixgrad/elementary.hpp"
#include "mixgrad/parallel.hpp"
#include "mixgrad/philox.hpp"
#include "mixgrad/special.hpp"

// The mixture kernels work on L = 8 lanes of doubles, one AVX-512 register.

namespace mixgrad::mixture {

inline constexpr std::size_t L = 8;  // lanes per unit
inline constexpr double kNegInf = -std::numeric_limits<double>::infinity();
inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct Dims {
  std::size_t B = 1, K = 1, D = 1;
};

// Parameters of one unit in double, with 1/sigma and log sigma precomputed.
// Shared (PL = false): mu[d*K + k], logw[k]. Per lane (PL = true): mu[(d*K + k)*L + l], logw[k*L + l].
struct Prepared {
  std::vector<double> mu, invs, sig, logs, logw, w;
  // Tangents (forward mode), same layouts; empty unless used.
  std::vector<double> ta, tmu, ts;
};

namespace detail {

template <bool PL>
MIXGRAD_INLINE std::size_t at(std::size_t j, std::size_t l) {
  if constexpr (PL)
    return j * L + l;
  else
    return j;
}

// Blocks handed out on demand: per-block results never depend on the thread that runs them.
template <class Body>
void dynamic_blocks(std::size_t n, std::size_t block, int nthreads, std::size_t min_parallel, Body&& body) {
  parallel::for_blocks<parallel::Schedule::Dynamic>(n, block, nthreads, min_parallel, std::forward<Body>(body));
}

}  // namespace detail

namespace detail {

// Per-lane log-sum-exp over k of v[k*W + l], into out[l] (-inf where every term is -inf).
template <std::size_t W>
MIXGRAD_INLINE void lse_lanes(const double* v, std::size_t K, double* out) {
  alignas(64) double M[W], S[W];
#pragma omp simd
  for (std::size_t l = 0; l < W; ++l) {
    M[l] = kNegInf;
    S[l] = 0.0;
  }
  for (std::size_t k = 0; k < K; ++k) {
#pragma omp simd
    for (std::size_t l = 0; l < W; ++l) M[l] = v[k * W + l] > M[l] ? v[k * W + l] : M[l];
  }
  for (std::size_t k = 0; k < K; ++k) {
#pragma omp simd
    for (std::size_t l = 0; l < W; ++l) S[l] += elem::exp(M[l] == kNegInf ? 0.0 : v[k * W + l] - M[l]);
  }
#pragma omp simd
  for (std::size_t l = 0; l < W; ++l) out[l] = M[l] == kNegInf ? kNegInf : M[l] + elem::log(S[l]);
}

// From the raw values that load_one left in p (logits in logw, scales in sig) compute
// 1/sigma, log sigma, the log-softmax of the logits and the weights, for W lanes at once
// (W = 1: shared layout; W = L: one mixture per lane).
template <std::size_t W>
MIXGRAD_INLINE void finish_impl(std::size_t K, std::size_t D, Prepared& p) {
  const double* sig = p.sig.data();
  double* invs = p.invs.data();
  double* logs = p.logs.data();
  double* lw = p.logw.data();
  double* w = p.w.data();
  const std::size_t n = D * K * W;
#pragma omp simd
  for (std::size_t i = 0; i < n; ++i) {
    invs[i] = 1.0 / sig[i];
    logs[i] = elem::log(sig[i]);
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

MIXGRAD_SIMD_CLONES inline void finish_shared(std::size_t K, std::size_t D, Prepared& p) {
  finish_impl<1>(K, D, p);
}
MIXGRAD_SIMD_CLONES inline void finish_lanes(std::size_t K, std::size_t D, Prepared& p) {
  finish_impl<L>(K, D, p);
}

// Copy mixture b's raw parameters into lane l of p (or the shared slot when PL is false).
template <bool PL, class T>
void load_one(const Dims& dm, const T* logits, const T* means, const T* scales, std::size_t b, std::size_t l,
              Prepared& p, const T* ta, const T* tmu, const T* ts) {
  const std::size_t K = dm.K, D = dm.D, W = PL ? L : 1;
  if (p.mu.size() != D * K * W || (ta && p.ta.size() != K * W)) {
    for (auto* v : {&p.mu, &p.invs, &p.sig, &p.logs}) v->assign(D * K * W, 0.0);
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

// Per-thread scratch for one unit.
struct Scratch {
  std::vector<double> x, gx;                        // [D][L]
  std::vector<double> z, r, term;                   // [D][K][L]
  std::vector<double> ell, e, ellp, g, q, bb, lam;  // [K][L]
  std::vector<double> zk, rk;                       // [K][L], modes that do not store z, r
  std::vector<double> amu, as, aa;                  // accumulators [D][K][L], [K][L]
  void init(const Dims& dm, bool need_store, bool need_acc) {
    const std::size_t K = dm.K, D = dm.D;
    x.assign(D * L, 0.0);
    gx.assign(D * L, 0.0);
    for (auto* v : {&ell, &e, &ellp, &g, &q, &bb, &lam, &zk, &rk}) v->assign(K * L, 0.0);
    if (need_store)
      for (auto* v : {&z, &r, &term}) v->assign(D * K * L, 0.0);
    if (need_acc) {
      amu.assign(D * K * L, 0.0);
      as.assign(D * K * L, 0.0);
      aa.assign(K * L, 0.0);
    }
  }
};

// Which per-coordinate results the forward pass writes.
enum class Fwd { Vjp, Jvp, Cdf };

// The forward recurrence of section 3.1 over one unit. For every coordinate d it computes
// z_kd, the responsibilities r_kd = softmax(ell^(d+1)) and
// term_kd = w_k^(d) (Phi(z_kd) - F_d) / f_d (the derivative of x_d with respect to ell_k^(d),
// up to sign), all without forming f_d, which can underflow. With W_k = w_k/f_d and
// V_k = w_k (1 - Phi or Phi in the far tail)/f_d = r_k sigma_k sqrt(2 pi) Q(|z_k|):
//   A_k = w_k Phi_k / f_d,  B_k = w_k S_k / f_d,  term_k = A_k - w_k sum A = w_k sum B - B_k,
// evaluated in the form whose sum is smaller (no cancellation in either tail).
// Mode Vjp stores z, r, term for the reverse pass; Jvp computes the tangent of x (into out,
// [D][L]); Cdf writes u_d = F_d (into out).
template <bool PL, Fwd MODE>
MIXGRAD_INLINE void forward_unit(const Dims& dm, const Prepared& p, Scratch& s, double* out) {
  const std::size_t K = dm.K, D = dm.D;
  double* ell = s.ell.data();
  double* e = s.e.data();
  double* ellp = s.ellp.data();
  double* g = s.g.data();
  double* q = s.q.data();
  double* bb = s.bb.data();
  double* lam = s.lam.data();  // Jvp: tangent of ell
  const double* mu = p.mu.data();
  const double* invs = p.invs.data();
  const double* sig = p.sig.data();
  const double* logs = p.logs.data();
  alignas(64) double M[L], Mp[L], sume[L], sumg[L], c1[L], ig[L], ie[L], SA[L], SB[L], xd[L], xdot[L];
  for (std::size_t k = 0; k < K; ++k) {
#pragma omp simd
    for (std::size_t l = 0; l < L; ++l) {
      ell[k * L + l] = p.logw[detail::at<PL>(k, l)];
      e[k * L + l] = p.w[detail::at<PL>(k, l)];
      if constexpr (MODE == Fwd::Jvp) lam[k * L + l] = p.ta[detail::at<PL>(k, l)];
    }
  }
  for (std::size_t l = 0; l < L; ++l) {
    M[l] = 0.0;
    sume[l] = 1.0;
  }
  for (std::size_t d = 0; d < D; ++d) {
#pragma omp simd
    for (std::size_t l = 0; l < L; ++l) {
      xd[l] = s.x[d * L + l];
      Mp[l] = kNegInf;
    }
    // z and r of this coordinate: stored for the reverse pass (Vjp) or kept for one step.
    double* zd = MODE == Fwd::Vjp ? s.z.data() + d * K * L : s.zk.data();
    double* rd = MODE == Fwd::Vjp ? s.r.data() + d * K * L : s.rk.data();
    double* td = MODE == Fwd::Vjp ? s.term.data() + d * K * L : nullptr;
    // Pass 1: z, Q(|z|), ell^(d+1) and its maximum.
    for (std::size_t k = 0; k < K; ++k) {
      const std::size_t dk = d * K + k;
#pragma omp simd
      for (std::size_t l = 0; l < L; ++l) {
        const std::size_t j = detail::at<PL>(dk, l);
        const double zz = (xd[l] - mu[j]) * invs[j];
        zd[k * L + l] = zz;
        q[k * L + l] = special::scaled_lower_tail(std::fabs(zz));
        const double lp = (ell[k * L + l] - logs[j]) - 0.5 * zz * zz;
        ellp[k * L + l] = lp;
        Mp[l] = lp > Mp[l] ? lp : Mp[l];
      }
    }
    // Pass 2: g = exp(ell^(d+1) - max) (the unnormalized next weights).
#pragma omp simd
    for (std::size_t l = 0; l < L; ++l) sumg[l] = 0.0;
    for (std::size_t k = 0; k < K; ++k) {
#pragma omp simd
      for (std::size_t l = 0; l < L; ++l) {
        const double gg = elem::exp(ellp[k * L + l] - Mp[l]);
        g[k * L + l] = gg;
        sumg[l] += gg;
      }
    }
#pragma omp simd
    for (std::size_t l = 0; l < L; ++l) {
      const double dm_ = M[l] - Mp[l];
      c1[l] = special::kSqrt2Pi * elem::exp(dm_ < 700.0 ? dm_ : 700.0) / sumg[l];
      ig[l] = 1.0 / sumg[l];
      ie[l] = 1.0 / sume[l];
      SA[l] = 0.0;
      SB[l] = 0.0;
    }
    // Pass 3: r, A_k (into q), B_k (into bb), and their sums.
    for (std::size_t k = 0; k < K; ++k) {
      const std::size_t dk = d * K + k;
#pragma omp simd
      for (std::size_t l = 0; l < L; ++l) {
        const std::size_t j = detail::at<PL>(dk, l);
        const double zz = zd[k * L + l];
        const double rr = g[k * L + l] * ig[l];
        const double V = rr * sig[j] * special::kSqrt2Pi * q[k * L + l];
        const double Wk = e[k * L + l] * c1[l];
        const double A = zz < 0.0 ? V : Wk - V;
        const double Bv = zz < 0.0 ? Wk - V : V;
        rd[k * L + l] = rr;
        q[k * L + l] = A;
        bb[k * L + l] = Bv;
        SA[l] += A;
        SB[l] += Bv;
      }
    }
    if constexpr (MODE == Fwd::Cdf) {
      // F_d = f_d * sum A, S_d = f_d * sum B, f_d = exp(Mp - M) sumg / (sume sqrt(2 pi)).
#pragma omp simd
      for (std::size_t l = 0; l < L; ++l) {
        const double logf = (Mp[l] - M[l]) + elem::log(sumg[l]) - elem::log(sume[l]) - special::kHalfLog2Pi;
        const bool lower = SA[l] <= SB[l];
        const double v = elem::exp(logf + elem::log(lower ? SA[l] : SB[l]));
        out[d * L + l] = lower ? v : 1.0 - v;
      }
    }
    // Pass 4: term (Vjp) or the tangent of x (Jvp).
    if constexpr (MODE == Fwd::Vjp) {
      for (std::size_t k = 0; k < K; ++k) {
#pragma omp simd
        for (std::size_t l = 0; l < L; ++l) {
          const double w = e[k * L + l] * ie[l];
          const bool lower = SA[l] <= SB[l];
          td[k * L + l] = lower ? q[k * L + l] - w * SA[l] : w * SB[l] - bb[k * L + l];
        }
      }
    }
    if constexpr (MODE == Fwd::Jvp) {
      // x_dot_d = sum_k r_k (mu_dot + z sigma_dot) - term_k ell_dot_k; then ell_dot advances.
#pragma omp simd
      for (std::size_t l = 0; l < L; ++l) xdot[l] = 0.0;
      for (std::size_t k = 0; k < K; ++k) {
        const std::size_t dk = d * K + k;
#pragma omp simd
        for (std::size_t l = 0; l < L; ++l) {
          const std::size_t j = detail::at<PL>(dk, l);
          const double w = e[k * L + l] * ie[l];
          const bool lower = SA[l] <= SB[l];
          const double t = lower ? q[k * L + l] - w * SA[l] : w * SB[l] - bb[k * L + l];
          xdot[l] += rd[k * L + l] * (p.tmu[j] + zd[k * L + l] * p.ts[j]) - t * lam[k * L + l];
        }
      }
      for (std::size_t k = 0; k < K; ++k) {
        const std::size_t dk = d * K + k;
#pragma omp simd
        for (std::size_t l = 0; l < L; ++l) {
          const std::size_t j = detail::at<PL>(dk, l);
          const double zz = zd[k * L + l];
          lam[k * L + l] += zz * invs[j] * (p.tmu[j] - xdot[l]) + (zz * zz - 1.0) * invs[j] * p.ts[j];
        }
      }
#pragma omp simd
      for (std::size_t l = 0; l < L; ++l) out[d * L + l] = xdot[l];
    }
    // Advance: ell <- ell^(d+1), e <- exp(ell^(d+1) - max).
    for (std::size_t k = 0; k < K; ++k) {
#pragma omp simd
      for (std::size_t l = 0; l < L; ++l) {
        ell[k * L + l] = ellp[k * L + l];
        e[k * L + l] = g[k * L + l];
      }
    }
#pragma omp simd
    for (std::size_t l = 0; l < L; ++l) {
      M[l] = Mp[l];
      sume[l] = sumg[l];
    }
  }
}

// The reverse recurrence of section 3.3 over one unit (after forward_unit<PL, Vjp>): adds each
// lane's gradient into the accumulators s.amu, s.as ([D][K][L]) and s.aa ([K][L]).
template <bool PL>
MIXGRAD_INLINE void reverse_unit(const Dims& dm, const Prepared& p, Scratch& s) {
  const std::size_t K = dm.K, D = dm.D;
  double* lam = s.lam.data();
  const double* invs = p.invs.data();
  alignas(64) double xbar[L];
  std::fill(s.lam.begin(), s.lam.end(), 0.0);
  for (std::size_t d = D; d-- > 0;) {
    const double* zd = s.z.data() + d * K * L;
    const double* rd = s.r.data() + d * K * L;
    const double* td = s.term.data() + d * K * L;
    double* amu = s.amu.data() + d * K * L;
    double* as = s.as.data() + d * K * L;
#pragma omp simd
    for (std::size_t l = 0; l < L; ++l) xbar[l] = s.gx[d * L + l];
    for (std::size_t k = 0; k < K; ++k) {
#pragma omp simd
      for (std::size_t l = 0; l < L; ++l)
        xbar[l] -= lam[k * L + l] * zd[k * L + l] * invs[detail::at<PL>(d * K + k, l)];
    }
    for (std::size_t k = 0; k < K; ++k) {
#pragma omp simd
      for (std::size_t l = 0; l < L; ++l) {
        const std::size_t i = k * L + l;
        const double is = invs[detail::at<PL>(d * K + k, l)];
        const double zz = zd[i];
        const double lm = lam[i];
        const double xr = xbar[l] * rd[i];
        amu[i] += lm * zz * is + xr;
        as[i] += lm * (zz * zz - 1.0) * is + xr * zz;
        lam[i] = lm - xbar[l] * td[i];
      }
    }
  }
  for (std::size_t i = 0; i < K * L; ++i) s.aa[i] += lam[i];
}

// log f(x) per lane: lse_k(log w_k + sum_d log N(x_d; mu_kd, sigma_kd)).
template <bool PL>
MIXGRAD_INLINE void logprob_unit(const Dims& dm, const Prepared& p, Scratch& s, double* out) {
  const std::size_t K = dm.K, D = dm.D;
  double* ell = s.ell.data();
  for (std::size_t k = 0; k < K; ++k) {
#pragma omp simd
    for (std::size_t l = 0; l < L; ++l) ell[k * L + l] = p.logw[detail::at<PL>(k, l)];
  }
  for (std::size_t d = 0; d < D; ++d)
    for (std::size_t k = 0; k < K; ++k) {
#pragma omp simd
      for (std::size_t l = 0; l < L; ++l) {
        const std::size_t j = detail::at<PL>(d * K + k, l);
        const double zz = (s.x[d * L + l] - p.mu[j]) * p.invs[j];
        ell[k * L + l] -= p.logs[j] + 0.5 * zz * zz;
      }
    }
  // All components at -inf (x at infinity) give log f = -inf rather than NaN.
  alignas(64) double lse[L];
  detail::lse_lanes<L>(ell, K, lse);
  const double c = static_cast<double>(D) * special::kHalfLog2Pi;
  for (std::size_t l = 0; l < L; ++l) {
    bool any_nan = false;
    for (std::size_t d = 0; d < D; ++d) any_nan |= std::isnan(s.x[d * L + l]);
    out[l] = any_nan ? kNaN : lse[l] - c;
  }
}

// ---- ISA-dispatched entry points (one per mode and parameter layout) ----
#define MIXGRAD_MIX_UNIT(NAME, BODY)                                                                          \
  MIXGRAD_SIMD_CLONES inline void NAME##_shared(const Dims& dm, const Prepared& p, Scratch& s, double* out) { \
    BODY(false);                                                                                              \
  }                                                                                                           \
  MIXGRAD_SIMD_CLONES inline void NAME##_lanes(const Dims& dm, const Prepared& p, Scratch& s, double* out) {  \
    BODY(true);                                                                                               \
  }

#define MIXGRAD_VJP_BODY(PLV)                     \
  (void)out;                                      \
  forward_unit<PLV, Fwd::Vjp>(dm, p, s, nullptr); \
  reverse_unit<PLV>(dm, p, s)
#define MIXGRAD_JVP_BODY(PLV) forward_unit<PLV, Fwd::Jvp>(dm, p, s, out)
#define MIXGRAD_CDF_BODY(PLV) forward_unit<PLV, Fwd::Cdf>(dm, p, s, out)
#define MIXGRAD_LOGPROB_BODY(PLV) logprob_unit<PLV>(dm, p, s, out)

MIXGRAD_MIX_UNIT(vjp_unit, MIXGRAD_VJP_BODY)
MIXGRAD_MIX_UNIT(jvp_unit, MIXGRAD_JVP_BODY)
MIXGRAD_MIX_UNIT(cdf_unit, MIXGRAD_CDF_BODY)
MIXGRAD_MIX_UNIT(logprob_unit, MIXGRAD_LOGPROB_BODY)

#undef MIXGRAD_MIX_UNIT
#undef MIXGRAD_VJP_BODY
#undef MIXGRAD_JVP_BODY
#undef MIXGRAD_CDF_BODY
#undef MIXGRAD_LOGPROB_BODY

enum class Op { Vjp, Jvp, Cdf, LogProb };

template <Op OP, bool PL>
inline void run_unit(const Dims& dm, const Prepared& p, Scratch& s, double* out) {
  if constexpr (OP == Op::Vjp) PL ? vjp_unit_lanes(dm, p, s, out) : vjp_unit_shared(dm, p, s, out);
  if constexpr (OP == Op::Jvp) PL ? jvp_unit_lanes(dm, p, s, out) : jvp_unit_shared(dm, p, s, out);
  if constexpr (OP == Op::Cdf) PL ? cdf_unit_lanes(dm, p, s, out) : cdf_unit_shared(dm, p, s, out);
  if constexpr (OP == Op::LogProb) PL ? logprob_unit_lanes(dm, p, s, out) : logprob_unit_shared(dm, p, s, out);
}

// ---- Drivers ----

// Inputs of one call. x and gx are [N][D] with N = S*B; tangents as the parameters.
template <class T>
struct Args {
  Dims dm;
  std::size_t S = 1;
  const T* logits = nullptr;
  const T* means = nullptr;
  const T* scales = nullptr;
  const T* x = nullptr;
  const T* gx = nullptr;
  const T *ta = nullptr, *tmu = nullptr, *ts = nullptr;
};

// Copy rows into the lane buffers; lanes beyond `count` get component 0's means (finite, so
// that a zero upstream gradient contributes exactly zero) and a zero upstream gradient.
template <bool PL, class T>
inline void gather_rows(const Args<T>& a, const Prepared& p, Scratch& s, const std::size_t* rows, std::size_t count) {
  const std::size_t D = a.dm.D, K = a.dm.K;
  for (std::size_t l = 0; l < L; ++l) {
    for (std::size_t d = 0; d < D; ++d) {
      if (l < count) {
        s.x[d * L + l] = static_cast<double>(a.x[rows[l] * D + d]);
        if (a.gx) s.gx[d * L + l] = static_cast<double>(a.gx[rows[l] * D + d]);
      } else {
        s.x[d * L + l] = p.mu[detail::at<PL>(d * K, l)];
        s.gx[d * L + l] = 0.0;
      }
    }
  }
}

// Rule for the parameter layout: gather per lane when there are many mixtures or one row per
// mixture; otherwise loop over mixtures and share each one's parameters across lanes. Depends
// on the shapes only (never on the thread count), so results are reproducible.
inline bool use_lanes(std::size_t B, std::size_t S) {
  return S == 1 || B >= 4 * L;
}

// Per-row operations (Jvp, Cdf, LogProb): out has `width` values per row.
template <Op OP, class T>
void per_row(const Args<T>& a, T* out, std::size_t width, int nthreads) {
  const Dims dm = a.dm;
  const std::size_t B = dm.B, S = a.S, N = B * S;
  const bool jvp = OP == Op::Jvp;
  auto write = [&](const double* buf, const std::size_t* rows, std::size_t count) {
    for (std::size_t l = 0; l < count; ++l)
      for (std::size_t c = 0; c < width; ++c) out[rows[l] * width + c] = static_cast<T>(buf[c * L + l]);
  };
  if (use_lanes(B, S)) {
    const std::size_t groups = (B + L - 1) / L;
    detail::dynamic_blocks(
        groups, std::max<std::size_t>(1, groups / 64), nthreads, 2, [&](std::size_t g0, std::size_t g1) {
          Prepared p;
          Scratch s;
          s.init(dm, false, false);
          std::vector<double> buf(width * L);
          for (std::size_t gi = g0; gi < g1; ++gi) {
            const std::size_t b0 = gi * L, nb = std::min(L, B - b0);
            prepare_group(dm, a.logits, a.means, a.scales, b0, nb, p, jvp ? a.ta : nullptr, a.tmu, a.ts);
            std::size_t rows[L];
            for (std::size_t si = 0; si < S; ++si) {
              for (std::size_t l = 0; l < nb; ++l) rows[l] = si * B + b0 + l;
              gather_rows<true>(a, p, s, rows, nb);
              run_unit<OP, true>(dm, p, s, buf.data());
              write(buf.data(), rows, nb);
            }
          }
        });
  } else {
    for (std::size_t b = 0; b < B; ++b) {
      Prepared p;
      prepare_shared(dm, a.logits, a.means, a.scales, b, p, jvp ? a.ta : nullptr, a.tmu, a.ts);
      const std::size_t units = (S + L - 1) / L;
      detail::dynamic_blocks(units, 16, nthreads, 32, [&](std::size_t u0, std::size_t u1) {
        Scratch s;
        s.init(dm, false, false);
        std::vector<double> buf(width * L);
        std::size_t rows[L];
        for (std::size_t u = u0; u < u1; ++u) {
          const std::size_t s0 = u * L, ns = std::min(L, S - s0);
          for (std::size_t l = 0; l < ns; ++l) rows[l] = (s0 + l) * B + b;
          gather_rows<false>(a, p, s, rows, ns);
          run_unit<OP, false>(dm, p, s, buf.data());
          write(buf.data(), rows, ns);
        }
      });
    }
  }
  (void)N;
}

// The vector-Jacobian product, summed over the S rows of each mixture: outputs ga [B][K],
// gmu and gs [B][K][D]. Deterministic: per-lane sums in row order, lanes and fixed-size chunks
// reduced in a fixed order. Extra memory: O(threads*K*D) scratch plus kRound chunk partials.
// fill(layout, p, s, rows, count) puts rows `rows[0 .. count)` and their upstream gradients into
// the lane buffers s.x and s.gx (layout: std::true_type for per-lane parameters).
template <class T, class Fill>
void vjp_rows(const Args<T>& a, T* ga, T* gmu, T* gs, int nthreads, Fill&& fill) {
  const Dims dm = a.dm;
  const std::size_t B = dm.B, S = a.S, K = dm.K, D = dm.D;
  if (use_lanes(B, S)) {
    const std::size_t groups = (B + L - 1) / L;
    detail::dynamic_blocks(groups, std::max<std::size_t>(1, groups / 64), nthreads, 2,
                           [&](std::size_t g0, std::size_t g1) {
                             Prepared p;
                             Scratch s;
                             s.init(dm, true, true);
                             for (std::size_t gi = g0; gi < g1; ++gi) {
                               const std::size_t b0 = gi * L, nb = std::min(L, B - b0);
                               prepare_group(dm, a.logits, a.means, a.scales, b0, nb, p);
                               std::fill(s.amu.begin(), s.amu.end(), 0.0);
                               std::fill(s.as.begin(), s.as.end(), 0.0);
                               std::fill(s.aa.begin(), s.aa.end(), 0.0);
                               std::size_t rows[L];
                               for (std::size_t si = 0; si < S; ++si) {
                                 for (std::size_t l = 0; l < nb; ++l) rows[l] = si * B + b0 + l;
                                 fill(std::true_type{}, p, s, rows, nb);
                                 run_unit<Op::Vjp, true>(dm, p, s, nullptr);
                               }
                               for (std::size_t l = 0; l < nb; ++l) {
                                 const std::size_t b = b0 + l;
                                 for (std::size_t k = 0; k < K; ++k) {
                                   ga[b * K + k] = static_cast<T>(s.aa[k * L + l]);
                                   for (std::size_t d = 0; d < D; ++d) {
                                     gmu[(b * K + k) * D + d] = static_cast<T>(s.amu[(d * K + k) * L + l]);
                                     gs[(b * K + k) * D + d] = static_cast<T>(s.as[(d * K + k) * L + l]);
                                   }
                                 }
                               }
                             }
                           });
    return;
  }
  constexpr std::size_t kChunkUnits = 32;  // rows per chunk: 32 * L = 256
  constexpr std::size_t kRound = 128;      // chunks reduced together
  const std::size_t P = K + 2 * K * D;     // partial: [a (K)][mu (D*K)][sigma (D*K)], [d][k] layout
  std::vector<double> partial(kRound * P), total(P);
  for (std::size_t b = 0; b < B; ++b) {
    Prepared p;
    prepare_shared(dm, a.logits, a.means, a.scales, b, p);
    const std::size_t units = (S + L - 1) / L;
    const std::size_t chunks = (units + kChunkUnits - 1) / kChunkUnits;
    std::fill(total.begin(), total.end(), 0.0);
    for (std::size_t c0 = 0; c0 < chunks; c0 += kRound) {
      const std::size_t nc = std::min(kRound, chunks - c0);
      detail::dynamic_blocks(nc, 1, nthreads, 2, [&](std::size_t cb, std::size_t ce) {
        Scratch s;
        s.init(dm, true, true);
        std::size_t rows[L];
        for (std::size_t c = cb; c < ce; ++c) {
          std::fill(s.amu.begin(), s.amu.end(), 0.0);
          std::fill(s.as.begin(), s.as.end(), 0.0);
          std::fill(s.aa.begin(), s.aa.end(), 0.0);
          const std::size_t ub = (c0 + c) * kChunkUnits, ue = std::min(units, ub + kChunkUnits);
          for (std::size_t u = ub; u < ue; ++u) {
            const std::size_t s0 = u * L, ns = std::min(L, S - s0);
            for (std::size_t l = 0; l < ns; ++l) rows[l] = (s0 + l) * B + b;
            fill(std::false_type{}, p, s, rows, ns);
            run_unit<Op::Vjp, false>(dm, p, s, nullptr);
          }
          double* out = partial.data() + c * P;
          for (std::size_t k = 0; k < K; ++k) {
            double v = 0.0;
            for (std::size_t l = 0; l < L; ++l) v += s.aa[k * L + l];
            out[k] = v;
          }
          for (std::size_t j = 0; j < D * K; ++j) {
            double vm = 0.0, vs = 0.0;
            for (std::size_t l = 0; l < L; ++l) {
              vm += s.amu[j * L + l];
              vs += s.as[j * L + l];
            }
            out[K + j] = vm;
            out[K + D * K + j] = vs;
          }
        }
      });
      for (std::size_t c = 0; c < nc; ++c)
        for (std::size_t j = 0; j < P; ++j) total[j] += partial[c * P + j];
    }
    for (std::size_t k = 0; k < K; ++k) {
      ga[b * K + k] = static_cast<T>(total[k]);
      for (std::size_t d = 0; d < D; ++d) {
        gmu[(b * K + k) * D + d] = static_cast<T>(total[K + d * K + k]);
        gs[(b * K + k) * D + d] = static_cast<T>(total[K + D * K + d * K + k]);
      }
    }
  }
}

template <class T>
void vjp(const Args<T>& a, T* ga, T* gmu, T* gs, int nthreads) {
  vjp_rows(a, ga, gmu, gs, nthreads,
           [&](auto layout, const Prepared& p, Scratch& s, const std::size_t* rows, std::size_t count) {
             gather_rows<decltype(layout)::value>(a, p, s, rows, count);
           });
}

// ---- Sampling: component k ~ Cat(w), then x = mu_k + sigma_k * eps. Row i uses Philox counter
// (i, 0) for the component; counter (i, 1 + j) gives two normals from its two 64-bit halves:
// eps_j (low half) and eps_{P+j} (high half), P = ceil(D/2). ----

// Philox4x32-10 of counter (c0, c1, c2, 0) as two 64-bit words (low: outputs 1:0, high: 3:2),
// the same numbers as philox::philox4x32_10, written with scalars so that loops over counters
// vectorize (a std::array temporary is not kept in registers by GCC's vectorizer).
MIXGRAD_INLINE void philox_words(std::uint32_t c0, std::uint32_t c1, std::uint32_t c2, philox::Key key,
                                 std::uint64_t& w0, std::uint64_t& w1) {
  constexpr std::uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u;
  constexpr std::uint32_t W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
  std::uint32_t x0 = c0, x1 = c1, x2 = c2, x3 = 0u, k0 = key.k0, k1 = key.k1;
  for (int round = 0; round < 10; ++round) {
    const std::uint64_t p0 = static_cast<std::uint64_t>(M0) * x0;
    const std::uint64_t p1 = static_cast<std::uint64_t>(M1) * x2;
    const std::uint32_t y0 = static_cast<std::uint32_t>(p1 >> 32) ^ x1 ^ k0;
    const std::uint32_t y2 = static_cast<std::uint32_t>(p0 >> 32) ^ x3 ^ k1;
    x1 = static_cast<std::uint32_t>(p1);
    x3 = static_cast<std::uint32_t>(p0);
    x0 = y0;
    x2 = y2;
    k0 += W0;
    k1 += W1;
  }
  w0 = (static_cast<std::uint64_t>(x1) << 32) | x0;
  w1 = (static_cast<std::uint64_t>(x3) << 32) | x2;
}

// Standard normals of rows rows[0 .. count) (count <= L) into eps[r * W + c], W = 2*ceil(D/2)
// (the last of a row unused when D is odd): counter (i, 1 + j) of row i gives c = j from its low
// and c = P + j from its high 64 bits, P = ceil(D/2). The counters of all rows go through one
// vectorized loop, so that rows with few coordinates still fill the vector registers.
MIXGRAD_SIMD_CLONES inline void normals_rows(philox::Key key, const std::size_t* rows, std::size_t count, std::size_t D,
                                             double* eps, double* work, std::uint32_t* iwork) {
  const std::size_t P = (D + 1) / 2, W = 2 * P, n = count * P;
  double* e0 = work;
  double* e1 = work + n;
  std::uint32_t* ctr = iwork;  // [3][n]: lo, hi, draw
  for (std::size_t r = 0; r < count; ++r)
    for (std::size_t j = 0; j < P; ++j) {
      ctr[r * P + j] = static_cast<std::uint32_t>(rows[r]);
      ctr[n + r * P + j] = static_cast<std::uint32_t>(rows[r] >> 32);
      ctr[2 * n + r * P + j] = static_cast<std::uint32_t>(1 + j);
    }
  // As philox::bits_to_normal: sign bit and a probability p in (0, 1/2); the central region of
  // the quantile (|p - 1/2| <= 0.425, 85% of the draws) for all, the tail formula (a log and a
  // square root) afterwards for the draws that need it only.
  double* sp = work + 2 * n;  // signed p, [2n]: e0's then e1's
#pragma omp simd
  for (std::size_t c = 0; c < n; ++c) {
    std::uint64_t w0, w1;
    philox_words(ctr[c], ctr[n + c], ctr[2 * n + c], key, w0, w1);
    const double p0 = (elem::from_bits(((w0 << 1) >> 12) | 0x3ff0000000000000ULL) - 1.0) * 0.5 + 0x1p-54;
    const double p1 = (elem::from_bits(((w1 << 1) >> 12) | 0x3ff0000000000000ULL) - 1.0) * 0.5 + 0x1p-54;
    const double z0 = special::detail::as241_central(p0 - 0.5);
    const double z1 = special::detail::as241_central(p1 - 0.5);
    e0[c] = (w0 >> 63) ? -z0 : z0;
    e1[c] = (w1 >> 63) ? -z1 : z1;
    sp[c] = (w0 >> 63) ? -p0 : p0;
    sp[n + c] = (w1 >> 63) ? -p1 : p1;
  }
  double* tp = sp + 2 * n;
  std::uint32_t* idx = iwork + 3 * n;
  std::size_t m = 0;
  for (std::size_t c = 0; c < 2 * n; ++c) {
    const double pa = std::fabs(sp[c]);
    idx[m] = static_cast<std::uint32_t>(c);  // branch-free compaction
    tp[m] = pa;
    m += std::fabs(pa - 0.5) > 0.425 ? 1 : 0;
  }
#pragma omp simd
  for (std::size_t c = 0; c < m; ++c) tp[c] = special::detail::as241_tail(std::sqrt(-elem::log(tp[c])));
  for (std::size_t c = 0; c < m; ++c) e0[idx[c]] = sp[idx[c]] < 0.0 ? tp[c] : -tp[c];  // e1 follows e0
  for (std::size_t r = 0; r < count; ++r)
    for (std::size_t j = 0; j < P; ++j) {
      eps[r * W + j] = e0[r * P + j];
      eps[r * W + P + j] = e1[r * P + j];
    }
}

// Buffers of normals_rows for up to L rows of D coordinates.
struct NormalsBuffer {
  std::vector<double> eps, work;
  std::vector<std::uint32_t> iwork;
  void reserve_for(std::size_t D) {
    const std::size_t n = L * ((D + 1) / 2);  // counters
    if (eps.size() < 2 * n) {
      eps.assign(2 * n, 0.0);
      work.assign(6 * n, 0.0);
      iwork.assign(5 * n, 0u);
    }
  }
  void draw(philox::Key key, const std::size_t* rows, std::size_t count, std::size_t D) {
    normals_rows(key, rows, count, D, eps.data(), work.data(), iwork.data());
  }
};

// Cumulative mixing weights of n <= kWeightBlock mixtures: on entry cw[k*n + b] holds logit k of
// mixture b; on exit the cumulative weight, with exactly 1 from the last positive weight on.
inline constexpr std::size_t kWeightBlock = 64;
MIXGRAD_SIMD_CLONES inline void cumulative_weights(std::size_t n, std::size_t K, double* cw) {
  alignas(64) double M[kWeightBlock], S[kWeightBlock], C[kWeightBlock], last[kWeightBlock];
#pragma omp simd
  for (std::size_t b = 0; b < n; ++b) {
    M[b] = kNegInf;
    S[b] = 0.0;
    C[b] = 0.0;
    last[b] = 0.0;
  }
  for (std::size_t k = 0; k < K; ++k) {
#pragma omp simd
    for (std::size_t b = 0; b < n; ++b) M[b] = cw[k * n + b] > M[b] ? cw[k * n + b] : M[b];
  }
  for (std::size_t k = 0; k < K; ++k) {
    const double kd = static_cast<double>(k);
#pragma omp simd
    for (std::size_t b = 0; b < n; ++b) {
      const double v = elem::exp(cw[k * n + b] - M[b]);
      cw[k * n + b] = v;
      S[b] += v;
      last[b] = v > 0.0 ? kd : last[b];
    }
  }
#pragma omp simd
  for (std::size_t b = 0; b < n; ++b) S[b] = 1.0 / S[b];
  for (std::size_t k = 0; k < K; ++k) {
    const double kd = static_cast<double>(k);
#pragma omp simd
    for (std::size_t b = 0; b < n; ++b) {
      C[b] += cw[k * n + b] * S[b];
      cw[k * n + b] = kd >= last[b] ? 1.0 : C[b];
    }
  }
}

// First k with u < c[k] (c non-decreasing, c[K-1] = 1 > u).
MIXGRAD_INLINE std::size_t pick_component(const double* c, std::size_t K, double u) {
  std::size_t lo = 0, hi = K - 1;
  while (lo < hi) {
    const std::size_t mid = (lo + hi) / 2;
    if (u < c[mid])
      hi = mid;
    else
      lo = mid + 1;
  }
  return lo;
}

// Cumulative weights of every mixture, [B][K].
template <class T>
std::vector<double> weight_table(const Args<T>& a, int nthreads) {
  const std::size_t B = a.dm.B, K = a.dm.K;
  std::vector<double> cw(B * K);
  parallel::for_blocks(B, kWeightBlock * 4, nthreads, 1024, [&](std::size_t b0, std::size_t b1) {
    double buf[kWeightBlock * 16];
    std::vector<double> big;
    double* t = buf;
    if (K > 16) {
      big.resize(kWeightBlock * K);
      t = big.data();
    }
    for (std::size_t c0 = b0; c0 < b1; c0 += kWeightBlock) {
      const std::size_t n = std::min(kWeightBlock, b1 - c0);
      for (std::size_t b = 0; b < n; ++b)
        for (std::size_t k = 0; k < K; ++k) t[k * n + b] = static_cast<double>(a.logits[(c0 + b) * K + k]);
      cumulative_weights(n, K, t);
      for (std::size_t b = 0; b < n; ++b)
        for (std::size_t k = 0; k < K; ++k) cw[(c0 + b) * K + k] = t[k * n + b];
    }
  });
  return cw;
}

// Draws rows rows[0 .. count) (exactly as sample() does) into out and the lane buffer s.x, with
// their upstream gradients in s.gx; lanes beyond count as gather_rows leaves them.
template <bool PL, class T>
inline void sample_rows(const Args<T>& a, philox::Key key, const double* cw, const Prepared& p, Scratch& s,
                        const std::size_t* rows, std::size_t count, NormalsBuffer& nb, T* out) {
  const std::size_t B = a.dm.B, K = a.dm.K, D = a.dm.D, W = 2 * ((D + 1) / 2);
  nb.draw(key, rows, count, D);
  const double* eps = nb.eps.data();
  for (std::size_t l = 0; l < L; ++l) {
    if (l < count) {
      const std::size_t i = rows[l], b = i % B;
      const std::size_t k = pick_component(cw + b * K, K, philox::uniform(key, i, 0));
      const double* e = eps + l * W;
      const T* m = a.means + (b * K + k) * D;
      const T* sc = a.scales + (b * K + k) * D;
      for (std::size_t d = 0; d < D; ++d) {
        const T v = static_cast<T>(static_cast<double>(m[d]) + static_cast<double>(sc[d]) * e[d]);
        out[i * D + d] = v;
        s.x[d * L + l] = static_cast<double>(v);
        s.gx[d * L + l] = static_cast<double>(a.gx[i * D + d]);
      }
    } else {
      for (std::size_t d = 0; d < D; ++d) {
        s.x[d * L + l] = p.mu[detail::at<PL>(d * K, l)];
        s.gx[d * L + l] = 0.0;
      }
    }
  }
}

// sample() followed by vjp() on the same rows while they are in cache: out gets the samples
// (bit-identical to sample()), ga, gmu, gs the gradient (bit-identical to vjp() on them).
template <class T>
void sample_vjp(const Args<T>& a, philox::Key key, T* out, T* ga, T* gmu, T* gs, int nthreads) {
  const std::vector<double> cw = weight_table(a, nthreads);
  vjp_rows(a, ga, gmu, gs, nthreads,
           [&](auto layout, const Prepared& p, Scratch& s, const std::size_t* rows, std::size_t count) {
             thread_local NormalsBuffer nb;
             nb.reserve_for(a.dm.D);
             sample_rows<decltype(layout)::value>(a, key, cw.data(), p, s, rows, count, nb, out);
           });
}

template <class T>
void sample(const Args<T>& a, philox::Key key, T* out, int nthreads) {
  const Dims dm = a.dm;
  const std::size_t B = dm.B, K = dm.K, D = dm.D, N = B * a.S;
  const std::vector<double> cw = weight_table(a, nthreads);
  detail::dynamic_blocks(N, 1024, nthreads, 2048, [&](std::size_t i0, std::size_t i1) {
    const std::size_t W = 2 * ((D + 1) / 2);
    NormalsBuffer nb;
    nb.reserve_for(D);
    std::size_t rows[L];
    for (std::size_t r0 = i0; r0 < i1; r0 += L) {
      const std::size_t count = std::min(L, i1 - r0);
      for (std::size_t r = 0; r < count; ++r) rows[r] = r0 + r;
      nb.draw(key, rows, count, D);
      for (std::size_t r = 0; r < count; ++r) {
        const std::size_t i = r0 + r, b = i % B;
        const std::size_t k = pick_component(cw.data() + b * K, K, philox::uniform(key, i, 0));
        const T* m = a.means + (b * K + k) * D;
        const T* sc = a.scales + (b * K + k) * D;
        const double* e = nb.eps.data() + r * W;
        for (std::size_t d = 0; d < D; ++d)
          out[i * D + d] = static_cast<T>(static_cast<double>(m[d]) + static_cast<double>(sc[d]) * e[d]);
      }
    }
  });
}

// ---- Quantile transform: solve F_d(x_d) = u_d coordinate by coordinate (section 3.4). ----

// Per-thread scratch of the quantile solver: lane buffers [D][L] for u and x, [K][L] for the
// running log weights and two work arrays.
struct QuantileScratch {
  std::vector<double> u, x, ell, v1, v2;
  void init(const Dims& dm) {
    u.assign(dm.D * L, 0.5);
    x.assign(dm.D * L, 0.0);
    for (auto* v : {&ell, &v1, &v2}) v->assign(dm.K * L, 0.0);
  }
};

namespace detail {

// Solve F_d(x_d | x_<d) = u_d for L rows at once (s.u -> s.x, both [D][L]). Every lane runs
// the same safeguarded Newton iteration in log space inside the bracket of the component
// quantiles; a lane stops at its own convergence test and is then left untouched, so its
// result never depends on the other lanes (hence not on how rows are grouped or threaded).
template <bool PL>
MIXGRAD_INLINE void quantile_unit(const Dims& dm, const Prepared& p, QuantileScratch& s) {
  const std::size_t K = dm.K, D = dm.D;
  double* ell = s.ell.data();  // running log weights, normalized each coordinate
  double* v1 = s.v1.data();
  double* v2 = s.v2.data();
  const double* mu = p.mu.data();
  const double* sig = p.sig.data();
  const double* invs = p.invs.data();
  const double* logs = p.logs.data();
  constexpr double eps = std::numeric_limits<double>::epsilon();
  alignas(64) double Lw[L], target[L], zq[L], lo[L], hi[L], x0[L], xd[L], logc[L],
      logf[L];  // logf: S2 / S1 (f / C up to 1 / sqrt(2 pi))
  alignas(64) double sprev[L];
  alignas(64) int lower[L], active[L], loE[L], hiE[L];
  for (std::size_t k = 0; k < K; ++k) {
#pragma omp simd
    for (std::size_t l = 0; l < L; ++l) ell[k * L + l] = p.logw[at<PL>(k, l)];
  }
  for (std::size_t d = 0; d < D; ++d) {
    lse_lanes<L>(ell, K, Lw);
    for (std::size_t k = 0; k < K; ++k) {
#pragma omp simd
      for (std::size_t l = 0; l < L; ++l) ell[k * L + l] -= Lw[l];  // log w_k^(d)
    }
    int any = 0;
#pragma omp simd reduction(| : any)
    for (std::size_t l = 0; l < L; ++l) {
      const double uu = s.u[d * L + l];
      const bool bad = !(uu >= 0.0 && uu <= 1.0) || std::isnan(Lw[l]);
      xd[l] = bad ? kNaN : (uu == 0.0 ? -elem::kInf : (uu == 1.0 ? elem::kInf : 0.0));
      const int act = !bad && uu > 0.0 && uu < 1.0;
      active[l] = act;
      any |= act;
      const bool lw = uu < 0.5;
      lower[l] = lw;
      const double uc = act ? uu : 0.5;
      target[l] = elem::log(lw ? uc : 1.0 - uc);  // 1 - u exact for u >= 1/2
      zq[l] = special::ndtri(uc);
      lo[l] = elem::kInf;
      hi[l] = -elem::kInf;
      loE[l] = 0;
      hiE[l] = 0;
      sprev[l] = elem::kInf;
      x0[l] = 0.0;
    }
    if (any) {
      for (std::size_t k = 0; k < K; ++k) {
        const std::size_t dk = d * K + k;
#pragma omp simd
        for (std::size_t l = 0; l < L; ++l) {
          const std::size_t j = at<PL>(dk, l);
          const double e = ell[k * L + l];
          const double qk = mu[j] + sig[j] * zq[l];
          const bool live = e != kNegInf;
          lo[l] = live ? std::min(lo[l], qk) : lo[l];
          hi[l] = live ? std::max(hi[l], qk) : hi[l];
          x0[l] += live ? elem::exp(e) * qk : 0.0;
        }
      }
      any = 0;
#pragma omp simd reduction(| : any)
      for (std::size_t l = 0; l < L; ++l) {
        if (active[l]) xd[l] = std::min(std::max(x0[l], lo[l]), hi[l]);
        const int act = active[l] && lo[l] < hi[l];
        active[l] = act;
        any |= act;
      }
      // h(x) = log F(x) - log u (lower) or log(1 - u) - log S(x) (upper): increasing in x.
      for (int it = 0; it < 400 && any; ++it) {
        // With t_k = z_k (lower) or -z_k (upper) and Q(y) = Phi(-y) e^{y^2/2}:
        //   w_k Phi(t_k) = e^{a_k} Q(|t_k|) (t_k < 0),  w_k - e^{a_k} Q(t_k) (t_k >= 0),
        //   w_k phi(z_k) / sigma_k = e^{a_k} / (sigma_k sqrt(2 pi)),  a_k = ell_k - t_k^2 / 2,
        // all scaled by e^{-M}, M = max_k of a_k (t_k < 0) or ell_k (t_k >= 0), which bounds
        // every term by 1: C = e^M S1 (F or S), f = e^M S2 / sqrt(2 pi).
        alignas(64) double M1[L], S1[L], S2[L];
#pragma omp simd
        for (std::size_t l = 0; l < L; ++l) {
          M1[l] = kNegInf;
          S1[l] = 0.0;
          S2[l] = 0.0;
        }
        for (std::size_t k = 0; k < K; ++k) {
          const std::size_t dk = d * K + k;
#pragma omp simd
          for (std::size_t l = 0; l < L; ++l) {
            const std::size_t j = at<PL>(dk, l);
            const double xx = active[l] ? xd[l] : mu[j];  // finite for lanes that are done
            const double zz = (xx - mu[j]) * invs[j];
            const double t = lower[l] ? zz : -zz;
            const double e = ell[k * L + l];
            const double a = e - 0.5 * (t * t);
            v1[k * L + l] = t;
            v2[k * L + l] = a;
            const double b = t < 0.0 ? a : e;
            M1[l] = b > M1[l] ? b : M1[l];
          }
        }
        for (std::size_t k = 0; k < K; ++k) {
          const std::size_t dk = d * K + k;
#pragma omp simd
          for (std::size_t l = 0; l < L; ++l) {
            const std::size_t j = at<PL>(dk, l);
            const double m = M1[l] == kNegInf ? 0.0 : M1[l];
            const double t = v1[k * L + l];
            const double P = elem::exp(v2[k * L + l] - m);
            const double E = elem::exp(ell[k * L + l] - m);
            const double q = special::scaled_lower_tail(std::fabs(t));
            S1[l] += t < 0.0 ? P * q : E - P * q;
            S2[l] += P * invs[j];
          }
        }
#pragma omp simd
        for (std::size_t l = 0; l < L; ++l) {
          logc[l] = M1[l] == kNegInf ? kNegInf : M1[l] + elem::log(S1[l]);
          logf[l] = S2[l] / S1[l];  // ratio of the sums
        }
        any = 0;
#pragma omp simd reduction(| : any)
        for (std::size_t l = 0; l < L; ++l) {
          const double h = lower[l] ? logc[l] - target[l] : target[l] - logc[l];
          const double x = xd[l];
          const double nlo = h < 0.0 ? x : lo[l];
          const double nhi = h < 0.0 ? hi[l] : x;
          const double slope = logf[l] * special::kInvSqrt2Pi;
          const int nloE = h < 0.0 ? 1 : loE[l];
          const int nhiE = h < 0.0 ? hiE[l] : 1;
          const double xt = x - h / slope;
          const bool newton = xt > nlo && xt < nhi;
          // Newton past an end of the bracket: try that end itself if h was never evaluated
          // there (the initial component quantile; the root is often within rounding of it
          // when one component dominates), else bisect.
          // |h| at the rounding level of h (about eps |log u|): x is a root to working accuracy
          // (kept, or refined by the Newton step when that stays inside the bracket). Without
          // this test a zero Newton step from x == lo or hi fell back to bisection.
          const bool conv = std::fabs(h) <= 4.0 * eps * (1.0 + std::fabs(target[l])) || xt == x;
          const double xn = newton                 ? xt
                            : conv                 ? x
                            : (xt >= nhi && !nhiE) ? nhi
                            : (xt <= nlo && !nloE) ? nlo
                                                   : 0.5 * (nlo + nhi);
          const double step = std::fabs(xn - x);
          const bool upd = active[l] && h != 0.0;
          // Quadratic convergence: the error left after a Newton step s is about s^3 / s_prev^2
          // (s_prev the Newton step before); stop when that is far below an ulp of x.
          const double s3 = step * step * step;
          const bool quad = newton && sprev[l] < elem::kInf && s3 <= 0.01 * eps * std::fabs(xn) * (sprev[l] * sprev[l]);
          const bool stop = h == 0.0 || quad || step <= 2.0 * eps * std::fabs(xn) || !(nlo < nhi) ||
                            nhi - nlo <= 2.0 * eps * std::fabs(xn) || step == 0.0 || conv;
          lo[l] = upd ? nlo : lo[l];
          hi[l] = upd ? nhi : hi[l];
          loE[l] = upd ? nloE : loE[l];
          hiE[l] = upd ? nhiE : hiE[l];
          sprev[l] = upd ? (newton ? step : elem::kInf) : sprev[l];
          xd[l] = upd ? xn : x;
          const int act = active[l] && !stop;
          active[l] = act;
          any |= act;
        }
      }
    }
    // ell^(d+1) = ell^(d) + log N(x_d; mu_kd, sigma_kd) (constant dropped: renormalized above).
    for (std::size_t k = 0; k < K; ++k) {
      const std::size_t dk = d * K + k;
#pragma omp simd
      for (std::size_t l = 0; l < L; ++l) {
        const std::size_t j = at<PL>(dk, l);
        const double zz = (xd[l] - mu[j]) * invs[j];
        ell[k * L + l] = ell[k * L + l] - logs[j] - 0.5 * zz * zz;
      }
    }
#pragma omp simd
    for (std::size_t l = 0; l < L; ++l) s.x[d * L + l] = xd[l];
  }
}

MIXGRAD_SIMD_CLONES inline void quantile_shared(const Dims& dm, const Prepared& p, QuantileScratch& s) {
  quantile_unit<false>(dm, p, s);
}
MIXGRAD_SIMD_CLONES inline void quantile_lanes(const Dims& dm, const Prepared& p, QuantileScratch& s) {
  quantile_unit<true>(dm, p, s);
}

}  // namespace detail

// Rows are solved L at a time, grouped as in per_row (use_lanes); padding lanes solve u = 1/2.
template <class T>
void quantile(const Args<T>& a, const T* u, T* out, int nthreads) {
  const Dims dm = a.dm;
  const std::size_t B = dm.B, S = a.S, D = dm.D;
  auto load = [&](QuantileScratch& s, const std::size_t* rows, std::size_t count) {
    for (std::size_t l = 0; l < L; ++l)
      for (std::size_t d = 0; d < D; ++d) s.u[d * L + l] = l < count ? static_cast<double>(u[rows[l] * D + d]) : 0.5;
  };
  auto write = [&](const QuantileScratch& s, const std::size_t* rows, std::size_t count) {
    for (std::size_t l = 0; l < count; ++l)
      for (std::size_t d = 0; d < D; ++d) out[rows[l] * D + d] = static_cast<T>(s.x[d * L + l]);
  };
  if (use_lanes(B, S)) {
    const std::size_t groups = (B + L - 1) / L;
    detail::dynamic_blocks(groups, std::max<std::size_t>(1, groups / 64), nthreads, 2,
                           [&](std::size_t g0, std::size_t g1) {
                             Prepared p;
                             QuantileScratch s;
                             s.init(dm);
                             std::size_t rows[L];
                             for (std::size_t gi = g0; gi < g1; ++gi) {
                               const std::size_t b0 = gi * L, nb = std::min(L, B - b0);
                               prepare_group(dm, a.logits, a.means, a.scales, b0, nb, p);
                               for (std::size_t si = 0; si < S; ++si) {
                                 for (std::size_t l = 0; l < nb; ++l) rows[l] = si * B + b0 + l;
                                 load(s, rows, nb);
                                 detail::quantile_lanes(dm, p, s);
                                 write(s, rows, nb);
                               }
                             }
                           });
  } else {
    for (std::size_t b = 0; b < B; ++b) {
      Prepared p;
      prepare_shared(dm, a.logits, a.means, a.scales, b, p);
      const std::size_t units = (S + L - 1) / L;
      detail::dynamic_blocks(units, 8, nthreads, 16, [&](std::size_t u0, std::size_t u1) {
        QuantileScratch s;
        s.init(dm);
        std::size_t rows[L];
        for (std::size_t un = u0; un < u1; ++un) {
          const std::size_t s0 = un * L, ns = std::min(L, S - s0);
          for (std::size_t l = 0; l < ns; ++l) rows[l] = (s0 + l) * B + b;
          load(s, rows, ns);
          detail::quantile_shared(dm, p, s);
          write(s, rows, ns);
        }
      });
    }
  }
}

}  // namespace mixgrad::mixture
