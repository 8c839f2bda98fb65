// Diagonal mixtures: the forward recurrence of the distributional transform over one unit, for
// the vjp (storing z, r, term), the jvp (the tangent of x) and cdf_transform (u = F(x)).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "mixgrad/config.hpp"
#include "mixgrad/elementary.hpp"
#include "mixgrad/mixture/diag/params.hpp"
#include "mixgrad/mixture/diag/scratch.hpp"
#include "mixgrad/mixture/lanes.hpp"
#include "mixgrad/mixture/relative_exp.hpp"
#include "mixgrad/mixture/scaled_tail_block.hpp"
#include "mixgrad/special.hpp"

namespace mixgrad::mixture {

// Which per-coordinate results the forward pass writes. LogTail writes the smaller tail in log
// space, signed: log F_d where F_d <= S_d (a value <= -log 2), else -log S_d (>= log 2); the
// quantile solver takes it as is, so transport never rounds u to 0 or 1 in the tails.
enum class Fwd { Vjp, Jvp, Cdf, LogTail };

// The gap s = -log(f_d sqrt(2 pi) / sum_k e_k), in nats, above which a lane takes the scaled
// form of forward_unit: there W_k = w_k / f_d = e_k e^s sqrt(2 pi) / sumg may overflow and the
// e_k that underflowed may matter. Below it, W_k <= e^30 sqrt(2 pi) and an e_k that underflowed
// contributes less than e^-678 to sums of size >= ~1e-3 (section 3.1 in log space).
inline constexpr double kScaledFormGap = 30.0;

namespace detail {

// The scaled form of A_k and B_k for lanes far from every component (gap above
// kScaledFormGap), in the manner of the quantile solver: with lw_k = log w_k and
// a_k = lw_k - z_k^2/2, each side gets its own scale e^{M_A}, e^{M_B} (M_A the largest of a_k
// over z_k < 0 and of lw_k over z_k >= 0; M_B the mirror image), so that
//   X_k = w_k Phi(z_k) e^{-M_A},  Y_k = w_k Phi(-z_k) e^{-M_B}
// are at most 1: F_d = e^{M_A} sum X, A_k = X_k e^{M_A - log f_d} (and B, S_d likewise). Writes
// X, Y and, per lane, their sums and M_A, M_B. ell holds log e_k (re-centred), q holds Q(|z_k|).
MIXGRAD_INLINE void scaled_sides(std::size_t K, const double* ell, const double* zd, const double* q,
                                 const double* logsume, double* X, double* Y, double* SX, double* SY, double* MA,
                                 double* MB) {
#pragma omp simd
  for (std::size_t l = 0; l < L; ++l) {
    MA[l] = kNegInf;
    MB[l] = kNegInf;
    SX[l] = 0.0;
    SY[l] = 0.0;
  }
  for (std::size_t k = 0; k < K; ++k) {
#pragma omp simd
    for (std::size_t l = 0; l < L; ++l) {
      const double z = zd[k * L + l];
      const double lw = ell[k * L + l] - logsume[l];
      const double a = lw - 0.5 * (z * z);
      const double bA = z < 0.0 ? a : lw;
      const double bB = z < 0.0 ? lw : a;
      MA[l] = bA > MA[l] ? bA : MA[l];
      MB[l] = bB > MB[l] ? bB : MB[l];
    }
  }
  for (std::size_t k = 0; k < K; ++k) {
#pragma omp simd
    for (std::size_t l = 0; l < L; ++l) {
      const double z = zd[k * L + l];
      const double lw = ell[k * L + l] - logsume[l];
      const double a = lw - 0.5 * (z * z);
      const double mA = MA[l] == kNegInf ? 0.0 : MA[l];
      const double mB = MB[l] == kNegInf ? 0.0 : MB[l];
      const double tailA = elem::exp(a - mA) * q[k * L + l];  // w_k Phi(-|z_k|) e^{-M_A}
      const double tailB = elem::exp(a - mB) * q[k * L + l];
      const double x = z < 0.0 ? tailA : elem::exp(lw - mA) - tailA;
      const double y = z < 0.0 ? elem::exp(lw - mB) - tailB : tailB;
      X[k * L + l] = x;
      Y[k * L + l] = y;
      SX[l] += x;
      SY[l] += y;
    }
  }
#pragma omp simd
  for (std::size_t l = 0; l < L; ++l) {
    MA[l] = MA[l] == kNegInf ? 0.0 : MA[l];
    MB[l] = MB[l] == kNegInf ? 0.0 : MB[l];
  }
}

// Pass 2 for the lanes where every live component's z^2 overflowed (Mp = -inf, x_d finite):
// ell^(d+1) as ell_k - log sigma_k - (|z_k| - z_min)(|z_k| + z_min)/2 with z_min the smallest
// live |z_k|, which differs from the true one by a constant, re-centred on its maximum (into Mp),
// with g and sumg. Sets farl to which lanes those are and returns whether there are any. idx(k, l)
// gives the parameter index of component k in lane l.
template <class Idx>
inline bool far_coordinate_weights(std::size_t K, const double* ell, const double* zd, const double* xd,
                                   const double* logs, Idx idx, double* ellp, double* g, double* Mp, double* sumg,
                                   std::int64_t* farl) {
  bool any = false;
  for (std::size_t l = 0; l < L; ++l) {
    farl[l] = Mp[l] == kNegInf && std::fabs(xd[l]) < elem::kInf;
    if (!farl[l]) continue;
    any = true;
    double zmin = elem::kInf;
    for (std::size_t k = 0; k < K; ++k)
      if (ell[k * L + l] != kNegInf) zmin = std::min(zmin, std::fabs(zd[k * L + l]));
    for (std::size_t k = 0; k < K; ++k) {
      const double az = std::fabs(zd[k * L + l]);
      const double lp = (ell[k * L + l] - logs[idx(k, l)]) - 0.5 * (az - zmin) * (az + zmin);
      ellp[k * L + l] = lp;
      Mp[l] = lp > Mp[l] ? lp : Mp[l];
    }
    sumg[l] = 0.0;
    for (std::size_t k = 0; k < K; ++k) {
      const double c = ellp[k * L + l] - Mp[l];
      ellp[k * L + l] = c;
      g[k * L + l] = relative_exp(c);
      sumg[l] += g[k * L + l];
    }
  }
  return any;
}

// term_k <- term_k e^{lnT} in the scaled lanes, as sign * exp(lnT + log|term_k|): finite
// whenever the product is, and 0 for a zero term even where e^{lnT} overflows.
MIXGRAD_INLINE void scale_terms(std::size_t K, const std::int64_t* scaled, const double* lnT, double* t) {
  for (std::size_t k = 0; k < K; ++k) {
#pragma omp simd
    for (std::size_t l = 0; l < L; ++l) {
      const double v = t[k * L + l];
      const double r = std::copysign(elem::exp(lnT[l] + elem::log(std::fabs(v))), v);
      t[k * L + l] = scaled[l] ? (v == 0.0 ? 0.0 : r) : v;
    }
  }
}

}  // namespace detail

// The forward recurrence of section 3.1 over one unit. For every coordinate d it computes
// z_kd, the responsibilities r_kd = softmax(ell^(d+1)) and
// term_kd = w_k^(d) (Phi(z_kd) - F_d) / f_d (the derivative of x_d with respect to ell_k^(d),
// up to sign), all without forming f_d, which can underflow. With W_k = w_k/f_d and
// V_k = w_k (1 - Phi or Phi in the far tail)/f_d = r_k sigma_k sqrt(2 pi) Q(|z_k|):
//   A_k = w_k Phi_k / f_d,  B_k = w_k S_k / f_d,  term_k = A_k - w_k sum A = w_k sum B - B_k,
// evaluated in the form whose sum is smaller (no cancellation in either tail). The running
// log-weights are re-centred after every coordinate (their largest is 0), so a coordinate far
// out leaves later ones exact; lanes whose gap exceeds kScaledFormGap take detail::scaled_sides
// (selected per lane, so the other lanes of the unit keep their bits).
// Mode Vjp stores z, r, term for the reverse pass (r and term up to per-lane factors, in s.igr
// and s.igt); Jvp computes the tangent of x (into out, [D][L]); Cdf writes u_d = F_d (into
// out). hook(d) runs first in coordinate d (it may rewrite coordinate d's means and mean
// tangents in p: full covariance's conditional locations).
template <bool PL, Fwd MODE, class Hook = NoCoordinateHook>
MIXGRAD_INLINE void forward_unit(const Dims& dm, const Prepared& p, Scratch& s, double* out, const Hook& hook = {}) {
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
  const double* sig2pi = p.sig2pi.data();  // sigma sqrt(2 pi)
  const double* logs = p.logs.data();
  alignas(64) double Mp[L], sume[L], sumg[L], c1[L], ig[L], ie[L], SA[L], SB[L], xd[L], xdot[L];
  alignas(64) double logsume[L], SX[L], SY[L], MA[L], MB[L], lnT[L], lnC[L];
  alignas(64) std::int64_t lowr[L], scaled[L], farl[L];  // 64-bit: no packing between lane widths
  for (std::size_t k = 0; k < K; ++k) {
#pragma omp simd
    for (std::size_t l = 0; l < L; ++l) {
      ell[k * L + l] = p.logw[detail::at<PL>(k, l)];
      e[k * L + l] = p.w[detail::at<PL>(k, l)];
      if constexpr (MODE == Fwd::Jvp) lam[k * L + l] = p.ta[detail::at<PL>(k, l)];
    }
  }
  for (std::size_t l = 0; l < L; ++l) {
    sume[l] = 1.0;  // e_k = w_k: log-weights centred on 0
    ie[l] = 1.0;    // 1 / sume, carried from the previous coordinate's ig
    farl[l] = 0;
  }
  // The vjp without a coordinate hook: z and Q(|z|) of every coordinate first, as they depend on
  // x and the parameters only. Q's loops then run back to back, not as one short loop between
  // the recurrence's passes in each coordinate. Q of coordinate d goes into its rows of term,
  // which pass 4 overwrites once pass 3 has read them.
  constexpr bool kZFirst = MODE == Fwd::Vjp && std::is_same_v<Hook, NoCoordinateHook>;
  if constexpr (kZFirst) {
    for (std::size_t d = 0; d < D; ++d)
      for (std::size_t k = 0; k < K; ++k) {
        const std::size_t dk = d * K + k;
#pragma omp simd
        for (std::size_t l = 0; l < L; ++l) {
          const std::size_t j = detail::at<PL>(dk, l);
          s.z[dk * L + l] = (s.x[d * L + l] - mu[j]) * invs[j];
        }
      }
    for (std::size_t d = 0; d < D; ++d) scaled_tail_block(s.z.data() + d * K * L, s.term.data() + d * K * L, K * L);
  }
  for (std::size_t d = 0; d < D; ++d) {
    hook(d);
#pragma omp simd
    for (std::size_t l = 0; l < L; ++l) {
      xd[l] = s.x[d * L + l];
      Mp[l] = kNegInf;
    }
    // z and r of this coordinate: stored for the reverse pass (Vjp) or kept for one step.
    double* zd = MODE == Fwd::Vjp ? s.z.data() + d * K * L : s.zk.data();
    double* rd = MODE == Fwd::Vjp ? s.r.data() + d * K * L : s.rk.data();
    // Vjp stores g itself as r (r = g / sumg: the reverse pass applies 1 / sumg per lane), and the
    // next coordinate reads its weights e from there.
    double* gd = MODE == Fwd::Vjp ? rd : g;
    double* td = MODE == Fwd::Vjp ? s.term.data() + d * K * L : nullptr;
    // Pass 1: z, ell^(d+1) and its maximum. (Passes 1, 3 and 4 unrolled by two components:
    // the W1 vjp 2-3% faster on Zen 3, AVX2; pass 2 too: 1% on Zen 4, AVX2; same bits.)
#pragma GCC unroll 2
    for (std::size_t k = 0; k < K; ++k) {
      const std::size_t dk = d * K + k;
#pragma omp simd
      for (std::size_t l = 0; l < L; ++l) {
        const std::size_t j = detail::at<PL>(dk, l);
        const double zz = kZFirst ? zd[k * L + l] : (xd[l] - mu[j]) * invs[j];
        if constexpr (!kZFirst) zd[k * L + l] = zz;
        const double lp = (ell[k * L + l] - logs[j]) - 0.5 * zz * zz;
        ellp[k * L + l] = lp;
        Mp[l] = lp > Mp[l] ? lp : Mp[l];
      }
    }
    // Q(|z|) in a loop of its own: elementwise, no per-component parameters, few registers.
    if constexpr (!kZFirst) scaled_tail_block(zd, q, K * L);
    const double* qz = kZFirst ? td : q;
    // Pass 2: g = exp(ell^(d+1) - max) (the unnormalized next weights).
#pragma omp simd
    for (std::size_t l = 0; l < L; ++l) sumg[l] = 0.0;
#pragma GCC unroll 2
    for (std::size_t k = 0; k < K; ++k) {
#pragma omp simd
      for (std::size_t l = 0; l < L; ++l) {
        const double c = ellp[k * L + l] - Mp[l];  // ell^(d+1) re-centred: the next ell
        const double gg = relative_exp(c);
        ellp[k * L + l] = c;
        gd[k * L + l] = gg;
        sumg[l] += gg;
      }
    }
    // Per lane: the form (scaled where the gap exceeds kScaledFormGap, +inf where Mp = -inf) and
    // c1 = W_k sumg / e_k, clamped for the scaled lanes, whose A_k, B_k are replaced below. Pass 3
    // forms sumg A_k and sumg B_k, so that it need not wait for the division by sumg (that wait
    // cost 4% of the W1 vjp on Zen 3, AVX2); pass 4 divides (Jvp) or the reverse pass (Vjp).
    std::int64_t any_scaled = 0;
#pragma omp simd reduction(| : any_scaled)
    for (std::size_t l = 0; l < L; ++l) {
      const double gap = -Mp[l];  // the log-weights are centred on 0
      const std::int64_t sc = gap > kScaledFormGap;
      scaled[l] = sc;
      any_scaled |= sc;
      c1[l] = special::kSqrt2Pi * elem::exp_below_138(sc ? kScaledFormGap : gap);
      ig[l] = 1.0 / sumg[l];
      SA[l] = 0.0;
      SB[l] = 0.0;
    }
    if (any_scaled) {
      // A finite x_d so far out (|z| > ~1.3e154) that z^2 overflows for every live component
      // (pass 2 gave NaN there): the next weights still follow from the differences
      // z_k^2 - z_min^2, and the density of the coordinate is 0 (the lane is scaled).
      const bool any_far = detail::far_coordinate_weights(
          K, ell, zd, xd, logs, [&](std::size_t k, std::size_t l) { return detail::at<PL>(d * K + k, l); }, ellp, gd,
          Mp, sumg, farl);
      if (any_far)
        for (std::size_t l = 0; l < L; ++l) ig[l] = 1.0 / sumg[l];
      // X into s.wx, Y into s.wy, before pass 3 writes A over q (which holds Q unless kZFirst).
#pragma omp simd
      for (std::size_t l = 0; l < L; ++l) logsume[l] = elem::log(sume[l]);
      detail::scaled_sides(K, ell, zd, qz, logsume, s.wx.data(), s.wy.data(), SX, SY, MA, MB);
    }
    // Pass 3: sumg A_k (into q), sumg B_k (into bb), and their sums (sumg SA, sumg SB).
#pragma GCC unroll 2
    for (std::size_t k = 0; k < K; ++k) {
      const std::size_t dk = d * K + k;
#pragma omp simd
      for (std::size_t l = 0; l < L; ++l) {
        const std::size_t j = detail::at<PL>(dk, l);
        const double zz = zd[k * L + l];
        const double V = gd[k * L + l] * sig2pi[j] * qz[k * L + l];
        const double Wk = e[k * L + l] * c1[l];
        const double A = zz < 0.0 ? V : Wk - V;
        const double Bv = zz < 0.0 ? Wk - V : V;
        q[k * L + l] = A;
        bb[k * L + l] = Bv;
        SA[l] += A;
        SB[l] += Bv;
      }
    }
    // Which form term_k takes, the log of its scale (0 for unscaled lanes) and lnC, the log of
    // the factor that turns the sums of pass 3 into F_d or S_d: log(f_d / sumg), or M_A, M_B
    // when scaled. Both are written only where they are read (the vjp needs them in scaled lanes
    // only): lnT in the scaled branch, lnC there and for Cdf and LogTail.
    constexpr bool kWantsC = MODE == Fwd::Cdf || MODE == Fwd::LogTail;
#pragma omp simd
    for (std::size_t l = 0; l < L; ++l) lowr[l] = SA[l] <= SB[l];
    if (kWantsC || any_scaled) {
#pragma omp simd
      for (std::size_t l = 0; l < L; ++l)
        lnC[l] = any_scaled && farl[l] ? kNegInf : Mp[l] - elem::log(sume[l]) - special::kHalfLog2Pi;
    }
    if (any_scaled) {
      for (std::size_t k = 0; k < K; ++k) {
#pragma omp simd
        for (std::size_t l = 0; l < L; ++l) {
          q[k * L + l] = scaled[l] ? s.wx[k * L + l] : q[k * L + l];
          bb[k * L + l] = scaled[l] ? s.wy[k * L + l] : bb[k * L + l];
        }
      }
#pragma omp simd
      for (std::size_t l = 0; l < L; ++l) {
        // F_d = e^{M_A} sum X, S_d = e^{M_B} sum Y: the smaller gives the form.
        const std::int64_t lw = elem::log(SX[l]) + MA[l] <= elem::log(SY[l]) + MB[l];
        const double m = lw ? MA[l] : MB[l];
        lowr[l] = scaled[l] ? lw : lowr[l];
        SA[l] = scaled[l] ? SX[l] : SA[l];
        SB[l] = scaled[l] ? SY[l] : SB[l];
        // Vjp leaves the division by sumg to the reverse pass, but not in these lanes (igt = 1):
        // their e^{lnT} takes it.
        const double div = MODE == Fwd::Vjp ? elem::log(sumg[l]) : 0.0;
        lnT[l] = scaled[l] ? (m - lnC[l]) - div : 0.0;
        lnC[l] = scaled[l] ? m : lnC[l];
      }
    }
    if constexpr (MODE == Fwd::Cdf || MODE == Fwd::LogTail) {
      // F_d = f_d sum A = (f_d / sumg) SA, S_d = (f_d / sumg) SB, f_d / sumg = exp(Mp) /
      // (sume sqrt(2 pi)); in the scaled lanes F_d = e^{M_A} sum X (lnC holds log(f_d / sumg)
      // or M). LogTail keeps the log.
#pragma omp simd
      for (std::size_t l = 0; l < L; ++l) {
        const bool lower = lowr[l];
        const double lt = lnC[l] + elem::log(lower ? SA[l] : SB[l]);
        if constexpr (MODE == Fwd::LogTail) {
          out[d * L + l] = lower ? lt : -lt;
        } else {
          const double v = elem::exp(lt);
          out[d * L + l] = lower ? v : 1.0 - v;
        }
      }
    }
    // Pass 4: term_k (stored for the reverse pass by Vjp; one coordinate's worth for Jvp, with r),
    // then the tangent of x (Jvp). The sums of pass 3 carry a factor sumg. Jvp divides every
    // lane's term by it here; the scaled lanes' X, Y carry no such factor, and their e^{lnT}
    // (lnC = log(f_d / sumg)) undoes the division. Vjp stores sumg term_k and g (sumg r) as they
    // are, and per lane the factors igr = 1 / sumg of r and igt of term (1 in the scaled lanes,
    // whose e^{lnT} divides), which the reverse pass applies to x-bar once per coordinate.
    double* tk = MODE == Fwd::Vjp ? td : s.wx.data();
    if constexpr (MODE == Fwd::Vjp || MODE == Fwd::Jvp) {
#pragma GCC unroll 2
      for (std::size_t k = 0; k < K; ++k) {
#pragma omp simd
        for (std::size_t l = 0; l < L; ++l) {
          const double w = e[k * L + l] * ie[l];
          // Both forms, then a blend: a conditional load of q or bb becomes a masked load.
          const double lower = q[k * L + l] - w * SA[l];
          const double upper = w * SB[l] - bb[k * L + l];
          const double t = lowr[l] ? lower : upper;
          if constexpr (MODE == Fwd::Vjp) {
            tk[k * L + l] = t;
          } else {
            rd[k * L + l] = g[k * L + l] * ig[l];
            tk[k * L + l] = t * ig[l];
          }
        }
      }
      if (any_scaled) detail::scale_terms(K, scaled, lnT, tk);
      if constexpr (MODE == Fwd::Vjp) {
#pragma omp simd
        for (std::size_t l = 0; l < L; ++l) {
          s.igr[d * L + l] = ig[l];
          s.igt[d * L + l] = scaled[l] ? 1.0 : ig[l];
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
          xdot[l] += rd[k * L + l] * (p.tmu[j] + zd[k * L + l] * p.ts[j]) - tk[k * L + l] * lam[k * L + l];
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
    // Advance: ell <- ell^(d+1) - max (left in ellp by pass 2), e <- exp(ell) (in g, or for Vjp
    // in this coordinate's rows of r).
    std::swap(ell, ellp);
    if constexpr (MODE == Fwd::Vjp)
      e = gd;
    else
      std::swap(e, g);
#pragma omp simd
    for (std::size_t l = 0; l < L; ++l) {
      sume[l] = sumg[l];
      ie[l] = ig[l];
    }
  }
}

}  // namespace mixgrad::mixture
