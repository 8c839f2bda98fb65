// Diagonal mixtures: the forward recurrence of the distributional transform over one unit, for
// the vjp (storing z, r, term), the jvp (the tangent of x) and cdf_transform (u = F(x)).
#pragma once

#include <cmath>
#include <cstddef>

#include "mixgrad/config.hpp"
#include "mixgrad/elementary.hpp"
#include "mixgrad/mixture/diag/params.hpp"
#include "mixgrad/mixture/diag/scratch.hpp"
#include "mixgrad/mixture/lanes.hpp"
#include "mixgrad/special.hpp"

namespace mixgrad::mixture {

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

}  // namespace mixgrad::mixture
