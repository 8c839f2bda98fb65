// Diagonal mixtures: the quantile transform, solving F_d(x_d) = u_d coordinate by coordinate
// (DESIGN.md section 3.4), and its driver.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "mixgrad/aligned_vector.hpp"
#include "mixgrad/config.hpp"
#include "mixgrad/elementary.hpp"
#include "mixgrad/flagged.hpp"
#include "mixgrad/mixture/diag/args.hpp"
#include "mixgrad/mixture/diag/params.hpp"
#include "mixgrad/mixture/lanes.hpp"
#include "mixgrad/mixture/relative_exp.hpp"
#include "mixgrad/mixture/scaled_tail_block.hpp"
#include "mixgrad/mixture/schedule.hpp"
#include "mixgrad/special.hpp"

namespace mixgrad::mixture {

// Per-thread scratch of the quantile solver for a batch of W rows: lane buffers [D][W] for u and
// x; [K][W] for the running log weights and the weights; and, for the compact copies of the
// lanes the solver iterates, [K][W] for their log weights, weights, per-lane parameters and three
// work arrays.
struct QuantileScratch {
  aligned_vector<double> u, x, ell, ew, v1, v2, qv, ell2, ew2, mu2, invs2;
  bool log_tail = false;  // u holds signed log tails (Fwd::LogTail) instead of probabilities
  void init(const Dims& dm, std::size_t W = L) {
    u.assign(dm.D * W, 0.5);
    x.assign(dm.D * W, 0.0);
    for (auto* v : {&ell, &ew, &v1, &v2, &qv, &ell2, &ew2, &mu2, &invs2}) v->assign(dm.K * W, 0.0);
  }
};

// Rows per batch of the solver where all rows share the parameters: sixteen units, so that the
// per-lane steps (weights, starting points, Newton steps) have sixteen times the independent
// work, and the few lanes that need a third evaluation share registers instead of taking their
// units'. (W1, AVX2 copy on a Zen 5, interleaved minima: 32 rows 146-148 ms, 64 rows 141-146,
// 128 rows 137-145, 1-3% below 64 in each of six pairs; W1's shape with means 4x wider 1-2%;
// 8 rows and no compaction 163-168. On W1, K = 8 and D = 16, a batch's QuantileScratch holds
// about 106 kB and its lane arrays on the stack about 37 kB.)
inline constexpr std::size_t kQuantileBatch = 16 * L;

namespace detail {

// Per-lane flags (0 or 1), as wide as the doubles they select between: with int flags GCC
// converts between 8- and 4-lane vectors.
using Mask = std::int64_t;

// e^-299: the solver's sums are unscaled for a lane whose S1 is at least this times K. Each term
// of S1 is at most e^M (Phi <= 1, Q <= 1/2), M the largest term in log space, so then M > -300
// (rounding aside): the largest term is at least 0.016 e^M, and one that underflowed (below
// e^-708) weighs below e^-400 against the sum. Below it, e^{-M} would pass e^300 and the terms
// that underflowed could matter: far_sums scales them.
inline constexpr double kDirectSumFloor = 1.3994259113851392e-130;

// ell_k -= M per lane, M the largest ell_k, and w_k = e^{ell_k} (into w), one exponential per
// component; into S: sum_k w_k (NaN where no component is live, M = -inf). The weights stay
// unnormalized: the solver's sums and its starting point are scaled by 1 / S per lane instead
// (normalizing every w_k and ell_k took 3% of the W1 quantile on Zen 3, AVX2). Into bad: whether
// a weight is NaN while a component is live. Into gap: the second largest ell_k minus M (0 for a
// tie, -inf for a single live component), so that the other components weigh at most (K - 1)
// e^gap in total, against at least 1 for all.
template <std::size_t W>
MIXGRAD_INLINE void shift_log_weights(double* ell, std::size_t K, double* w, double* S, Mask* bad, double* gap) {
  alignas(64) double M[W], M2[W];
#pragma omp simd
  for (std::size_t l = 0; l < W; ++l) {
    M[l] = kNegInf;
    M2[l] = kNegInf;
    S[l] = 0.0;
  }
  for (std::size_t k = 0; k < K; ++k) {
#pragma omp simd
    for (std::size_t l = 0; l < W; ++l) {
      // Selects between locals, stored unconditionally: written as selects on M[l] and M2[l], GCC
      // compiled them to masked stores (microcoded on AMD).
      const double e = ell[k * W + l], m = M[l], m2 = M2[l];
      const double lesser = e > m ? m : e;
      const double larger = e > m ? e : m;
      M2[l] = lesser > m2 ? lesser : m2;
      M[l] = larger;
    }
  }
  for (std::size_t k = 0; k < K; ++k) {
#pragma omp simd
    for (std::size_t l = 0; l < W; ++l) {
      // NaN where no component is live (M = -inf).
      const double c = ell[k * W + l] - M[l];
      const double g = relative_exp(c);
      ell[k * W + l] = c;
      w[k * W + l] = g;
      S[l] += g;
    }
  }
#pragma omp simd
  for (std::size_t l = 0; l < W; ++l) {
    bad[l] = Mask(M[l] != kNegInf) & Mask(std::isnan(S[l]));
    gap[l] = M2[l] - M[l];  // NaN where M = -inf
  }
}

// A lane whose other components weigh r <= 2^-54 min(u, 1 - u) in total solves to the dominant
// component's own quantile q: F(q) lies between (1 - r) u and (1 - r) u + r, so |h(q)| <= 2^-53
// (plus r), below the rounding error of h itself. It takes q without an evaluation. (No lane of
// W1, whose components overlap; 58% of the lanes of W1's shape with means spread 4 times wider,
// where after a few coordinates the earlier ones have singled out a component.) The test
// bounds r by (K - 1) e^gap (shift_log_weights): gap <= log min(u, 1 - u) - log(K - 1) - 54 ln 2.
MIXGRAD_INLINE double dominance_margin(std::size_t K) {
  return 54.0 * special::kLn2 + std::log(static_cast<double>(K > 1 ? K - 1 : 1));
}

inline constexpr int kMaxIterations = 400;

// The lanes' state within one coordinate (W lanes): the target, the inverse of the weights' sum
// (shift_log_weights), the bracket and whether each end was evaluated, the iterate, the last step,
// the side (lower) and whether the lane iterates.
template <std::size_t W>
struct SolverLanes {
  alignas(64) double target[W], iw[W], lo[W], hi[W], xd[W], sprev[W];
  alignas(64) Mask lower[W], active[W], loE[W], hiE[W];
};

// What the iterations of one coordinate read: its locations and inverse scales (indexed
// at<PL>(k, l)) and, for lanes [0, w) of arrays of stride w, the log weights, the weights and
// three work arrays ([K][w]).
struct SolverInputs {
  const double *mu, *invs, *ell, *ew;
  double *v1, *v2, *qv;
  std::size_t w;
};

// One component's terms added to a lane's sums (see solve_iterations): P = e^{a - sh},
// E = w e^{-sh}, q = Q(|t|), is = 1 / sigma.
MIXGRAD_INLINE void add_solver_terms(double P, double E, double q, double t, double is, double& S1, double& S2,
                                     double& S3, double& S4) {
  const double Pq = P * q;
  const double Pi = P * is;
  S1 += t < 0.0 ? Pq : E - Pq;
  S2 += Pi;
  const double Pii = Pi * is;
  S3 += Pii * t;
  S4 += Pii * is * (t * t - 1.0);
}

// The sums of solve_iterations again, for the lanes flagged far (unscaled S1 below
// kDirectSumFloor K: the far tails): scaled by e^{-M}, M the largest of a_k (t_k < 0) and ell_k
// (t_k >= 0), or 0 where no component is live. Every term is then at most 1 and the largest
// at least Q(sqrt(-2M)), which is about 1 / sqrt(-4 pi M): nothing that matters underflows. The
// lane's sh becomes M. Reads t, Q(|t|) and the log weights as solve_iterations left them (a_k
// again from t_k and ell_k: solve_iterations overwrote a with e^a).
template <bool PL, std::size_t W>
MIXGRAD_INLINE void far_sums(std::size_t K, const SolverInputs& in, const Mask* far, double* S1, double* S2, double* S3,
                             double* S4, double* sh) {
  const std::size_t w = in.w;
  const double *invs = in.invs, *ell = in.ell, *v1 = in.v1, *qv = in.qv;
  alignas(64) double M[W], T1[W], T2[W], T3[W], T4[W];
#pragma omp simd
  for (std::size_t l = 0; l < w; ++l) {
    M[l] = kNegInf;
    T1[l] = 0.0;
    T2[l] = 0.0;
    T3[l] = 0.0;
    T4[l] = 0.0;
  }
  for (std::size_t k = 0; k < K; ++k) {
#pragma omp simd
    for (std::size_t l = 0; l < w; ++l) {
      const double t = v1[k * w + l], e = ell[k * w + l];
      const double b = t < 0.0 ? e - 0.5 * (t * t) : e;
      M[l] = b > M[l] ? b : M[l];
    }
  }
#pragma omp simd
  for (std::size_t l = 0; l < w; ++l) M[l] = M[l] == kNegInf ? 0.0 : M[l];
  for (std::size_t k = 0; k < K; ++k) {
#pragma omp simd
    for (std::size_t l = 0; l < w; ++l) {
      const std::size_t j = at<PL>(k, l);
      const double m = M[l];
      const double t = v1[k * w + l], e = ell[k * w + l];
      const double P = relative_exp((e - 0.5 * (t * t)) - m);
      const double E = elem::exp(e - m);  // overflows only where t < 0: not taken
      add_solver_terms(P, E, qv[k * w + l], t, invs[j], T1[l], T2[l], T3[l], T4[l]);
    }
  }
#pragma omp simd
  for (std::size_t l = 0; l < w; ++l) {
    const bool f = far[l] != 0;
    S1[l] = f ? T1[l] : S1[l];
    S2[l] = f ? T2[l] : S2[l];
    S3[l] = f ? T3[l] : S3[l];
    S4[l] = f ? T4[l] : S4[l];
    sh[l] = f ? M[l] : sh[l];
  }
}

// The first evaluation of a coordinate is rough: Q and the exponentials to a relative error of
// about 5e-12 (special::scaled_lower_tail_rough, exp_mantissa_rough), so h to within about 1e-11
// (and its rounding, as exact). It only aims the next evaluation: from the starting point (the
// component quantiles weighted, often a tenth of a scale off) its step leaves an error near 5e-12
// of the scale, which the next, exact evaluation's step reduces to its fourth power. It stops no
// lane, and acts only where |h| exceeds kRoughHError (the sign of h is then sure): elsewhere the
// start is already within about 1e-9 / h' of the root, and the lane stays there for the exact
// evaluation, as if the rough one had not been made. Rougher forms (1e-8, five multiply-adds
// fewer) left the error of the rough step above that of the starts already within 2e-7, whose
// exact step then failed the stopping test (the quad test below): a third evaluation for 2.5% of
// W1's lanes. (On Zen 3, AVX2: W1's quantile 4% faster, 12% with means 10 times closer; with
// means 4 times wider, where a third of the evaluated lanes start within 1e-9 of the root, the
// lanes' evaluations count 3% more, each rough one as 3/4 of an exact one.)
inline constexpr double kRoughHError = 0x1p-30;  // about 9e-10, 100 times what Q and e^a allow

// Iterations it0 .. it1 - 1 of the safeguarded solver of one coordinate (see quantile_unit) over
// lanes [0, in.w) of s, rough ones (see kRoughHError) if Rough; returns whether a lane is still
// active. Each lane's arithmetic is its own: its result does not depend on the lanes beside it.
template <bool PL, std::size_t W, bool Rough = false>
MIXGRAD_INLINE Mask solve_iterations(std::size_t K, int it0, int it1, const SolverInputs& in, SolverLanes<W>& s) {
  constexpr double eps = std::numeric_limits<double>::epsilon();
  constexpr bool Exact = !Rough;
  const std::size_t w = in.w;
  const double *mu = in.mu, *invs = in.invs, *ell = in.ell, *ew = in.ew;
  double *v1 = in.v1, *v2 = in.v2, *qv = in.qv;
  // Local pointers: read through s inside the loops, the lane arrays keep GCC from vectorizing.
  double *target = s.target, *iw = s.iw, *lo = s.lo, *hi = s.hi, *xd = s.xd, *sprev = s.sprev;
  Mask *lower = s.lower, *active = s.active, *loE = s.loE, *hiE = s.hiE;
  Mask any = 0;
#pragma omp simd reduction(| : any)
  for (std::size_t l = 0; l < w; ++l) any |= active[l];
  // h(x) = log F(x) - log u (lower) or log(1 - u) - log S(x) (upper): increasing in x.
  for (int it = it0; it < it1 && any; ++it) {
    // With t_k = z_k (lower) or -z_k (upper), Q(y) = Phi(-y) e^{y^2/2} and the unnormalized
    // weights w_k = e^{ell_k} (their sum 1 / iw):
    //   w_k Phi(t_k) = e^{a_k} Q(|t_k|) (t_k < 0),  w_k - e^{a_k} Q(t_k) (t_k >= 0),
    //   w_k phi(z_k) / sigma_k = e^{a_k} / (sigma_k sqrt(2 pi)),  a_k = ell_k - t_k^2 / 2,
    // scaled by e^{-sh}: C = e^sh S1 iw (F or S), f = e^sh S2 iw / sqrt(2 pi). sh = 0, except in the
    // far tails (see far_sums), where sh = M, the largest of a_k (t_k < 0) and ell_k (t_k >= 0).
    alignas(64) double S1[W], S2[W], S3[W], S4[W], sh[W];
    alignas(64) Mask far[W];
#pragma omp simd
    for (std::size_t l = 0; l < w; ++l) {
      S1[l] = 0.0;
      S2[l] = 0.0;
      S3[l] = 0.0;
      S4[l] = 0.0;
    }
    // Per lane, once: the point (a finite one for the lanes that are done: their root, or 0
    // where that is infinite or NaN) and the side's sign, so that the loop over k selects nothing.
    alignas(64) double xs[W], sg[W];
#pragma omp simd
    for (std::size_t l = 0; l < w; ++l) {
      xs[l] = active[l] | Mask(std::fabs(xd[l]) < elem::kInf) ? xd[l] : 0.0;
      sg[l] = lower[l] ? 1.0 : -1.0;
    }
    for (std::size_t k = 0; k < K; ++k) {
      const double* __restrict muk = mu + at<PL>(k, 0);  // restrict: loaded once, not per register
      const double* __restrict invsk = invs + at<PL>(k, 0);
#pragma omp simd
      for (std::size_t l = 0; l < w; ++l) {
        const std::size_t j = at<PL>(0, l);
        const double t = sg[l] * ((xs[l] - muk[j]) * invsk[j]);
        v1[k * w + l] = t;
        v2[k * w + l] = ell[k * w + l] - 0.5 * (t * t);
      }
    }
    // Q(|t|), then P = e^a over a, each in a loop of its own: elementwise, no per-component
    // loads, and without the other's constants no registers spilled (in one loop with the sums,
    // the exponential's constants were reloaded from the stack: W1, AVX2 copy, 3-5% slower).
    scaled_tail_block<Rough>(v1, qv, K * w);
    {
      double* __restrict pv = v2;
      const std::size_t nkw = K * w;
#pragma omp simd
      for (std::size_t i = 0; i < nkw; ++i) pv[i] = relative_exp<Rough>(pv[i]);
    }
    for (std::size_t k = 0; k < K; ++k) {
      const double* __restrict invsk = invs + at<PL>(k, 0);
#pragma omp simd
      for (std::size_t l = 0; l < w; ++l) {
        const std::size_t j = at<PL>(0, l);
        add_solver_terms(v2[k * w + l], ew[k * w + l], qv[k * w + l], v1[k * w + l], invsk[j], S1[l], S2[l], S3[l],
                         S4[l]);
      }
    }
    // The sums above are exact to rounding where S1 >= kDirectSumFloor K; the other lanes' sums
    // are computed again, scaled.
    Mask any_far = 0;
#pragma omp simd reduction(| : any_far)
    for (std::size_t l = 0; l < w; ++l) {
      const Mask f = S1[l] < kDirectSumFloor * static_cast<double>(K);
      far[l] = f;
      sh[l] = 0.0;
      any_far |= f;
    }
    if (any_far) far_sums<PL, W>(K, in, far, S1, S2, S3, S4, sh);
    // h = log C - log u (lower) or log(1 - u) - log C (upper), C = F or S = e^sh S1 iw, and
    // its derivatives: with t = z (lower) or -z (upper), c = 1 (lower) or -1 (upper),
    // g1 = S2 / (S1 sqrt(2 pi)) = f / C = h', B = S3 / (S1 sqrt(2 pi)) = -c f' / C,
    // G = S4 / (S1 sqrt(2 pi)) = f'' / C:  h'' = -c (B + h'^2),  h''' = G + B h' - 2 c h' h''.
    // The step solves h + h' s + h'' s^2 / 2 + h''' s^3 / 6 = 0 by two fixed-point passes of
    // s = s_N / (1 + a2 s + a3 s^2) from Newton's s_N = -h / h' (fourth order), or takes s_N
    // where a factor is far from 1.
    alignas(64) double hv[W], xtv[W];
    // log C in a pass of its own: two shorter dependency chains per lane (the log, then the
    // divisions of the step), which the out-of-order core overlaps across lanes.
#pragma omp simd
    for (std::size_t l = 0; l < w; ++l) hv[l] = sh[l] + elem::log(S1[l] * iw[l]);
#pragma omp simd
    for (std::size_t l = 0; l < w; ++l) {
      const double logc = hv[l];
      const double h = lower[l] ? logc - target[l] : target[l] - logc;
      const double iS1 = special::kInvSqrt2Pi / S1[l];
      const double g1 = S2[l] * iS1;
      const double Bv = S3[l] * iS1;
      const double c = lower[l] ? 1.0 : -1.0;
      const double h2 = -c * (Bv + g1 * g1);
      const double h3 = S4[l] * iS1 + Bv * g1 - 2.0 * c * g1 * h2;
      const double ig = 1.0 / g1;
      const double a2 = 0.5 * h2 * ig;
      const double a3 = h3 * ig * (1.0 / 6.0);
      const double sN = -h * ig;
      const double d1 = 1.0 + a2 * sN;
      const double s1 = sN / d1;
      const double d2 = 1.0 + s1 * (a2 + a3 * s1);
      const bool ok = d1 > 0.5 && d1 < 2.0 && d2 > 0.5 && d2 < 2.0;
      hv[l] = h;
      xtv[l] = xd[l] + (ok ? sN / d2 : sN);
    }
    any = 0;
#pragma omp simd reduction(| : any)
    for (std::size_t l = 0; l < w; ++l) {
      const double h = hv[l];
      const double x = xd[l];
      const double xt = xtv[l];
      // Bitwise & and | (no short-circuit), one select per statement, 64-bit masks: GCC
      // vectorizes this loop (with && and || and nested selects it compiled to scalar code
      // with branches, a fifth of the solver's instructions).
      // A rough h narrows the bracket only where its sign is sure (kRoughHError).
      const bool sure = Exact | (std::fabs(h) > kRoughHError);
      const bool below = sure & (h < 0.0), above = sure & !(h < 0.0);  // NaN h: above (exact)
      const double nlo = below ? x : lo[l];
      const double nhi = above ? x : hi[l];
      const Mask nloE = loE[l] | Mask(below);  // not below ? 1 : loE[l], which does not vectorize
      const Mask nhiE = hiE[l] | Mask(above);
      const bool newton = (xt > nlo) & (xt < nhi);
      // Newton past an end of the bracket: try that end itself if h was never evaluated
      // there (the initial component quantile; the root is often within rounding of it
      // when one component dominates), else bisect.
      // |h| at the rounding level of h (about eps |log u|): x is a root to working accuracy
      // (kept, or refined by the Newton step when that stays inside the bracket). Without
      // this test a zero Newton step from x == lo or hi fell back to bisection.
      const bool conv = Exact & ((std::fabs(h) <= 4.0 * eps * (1.0 + std::fabs(target[l]))) | (xt == x));
      const bool to_hi = (xt >= nhi) & (nhiE == 0);
      const bool to_lo = (xt <= nlo) & (nloE == 0);
      const double bisect_or_lo = to_lo ? nlo : 0.5 * (nlo + nhi);
      const double fallback = to_hi ? nhi : bisect_or_lo;
      const double xmove = newton ? xt : (conv ? x : fallback);
      // A lane whose rough h is unsure (the start within about 1e-9 / h' of the root) stays at
      // its start, which the exact evaluation then takes as its first.
      const double xn = sure ? xmove : x;
      const double step = std::fabs(xn - x);
      const bool upd = (active[l] != 0) & (Rough | (h != 0.0));
      // Fourth-order convergence: the error left after a step s is about s^5 / s_prev^4
      // (s_prev the step before); stop when that is far below an ulp of x.
      const double sp2 = sprev[l] * sprev[l];
      const double s5 = (step * step) * (step * step) * step;
      const double ulps = 2.0 * eps * std::fabs(xn);
      const bool quad = newton & (sprev[l] < elem::kInf) & (s5 <= 0.005 * ulps * (sp2 * sp2));
      // A rough evaluation stops a lane only where the bracket has closed.
      const bool closed = !(nlo < nhi) | (nhi - nlo <= ulps);
      const bool stop = closed | (Exact & ((h == 0.0) | quad | (step <= ulps) | (step == 0.0) | conv));
      // The bracket and the last step are stored whether or not the lane is updated: they
      // serve only while it is active, and a lane that is not updated stops (h == 0) or has
      // stopped. Selecting on upd made GCC emit masked stores (microcoded on AMD).
      lo[l] = nlo;
      hi[l] = nhi;
      loE[l] = nloE;
      hiE[l] = nhiE;
      sprev[l] = newton & sure ? step : elem::kInf;
      xd[l] = upd ? xn : x;
      const Mask act = active[l] & !stop;
      active[l] = act;
      any |= act;
    }
  }
  return any;
}

// The number of active lanes of s.
template <std::size_t W>
MIXGRAD_INLINE std::size_t active_count(const SolverLanes<W>& s) {
  Mask n = 0;
#pragma omp simd reduction(+ : n)
  for (std::size_t l = 0; l < W; ++l) n += s.active[l] != 0;
  return static_cast<std::size_t>(n);
}

// The positions i < n of the active lanes of s, in order, into pos; returns their number.
template <std::size_t W>
MIXGRAD_INLINE std::size_t active_positions(const SolverLanes<W>& s, std::size_t n, std::size_t* pos) {
  std::size_t m = 0;
  for_each_flagged(n, [&](std::size_t i) { return s.active[i] != 0; }, [&](std::size_t i) { pos[m++] = i; });
  return m;
}

// Lanes pos[0 .. m) of `from` (its log weights and weights of stride ws, and, PL, its
// parameters) copied into lanes 0 .. m of `to` (stride wt, m rounded up to whole 4-lane
// registers); the extra lanes repeat the last one, inactive. `to` may be `from` (then wt <= ws and
// pos increasing: each value moves down, never onto one still to be read).
template <bool PL, std::size_t W>
MIXGRAD_INLINE void copy_lanes(std::size_t K, const std::size_t* pos, std::size_t m, std::size_t wt,
                               const SolverLanes<W>& from, const double* ell, const double* ew, const double* mu,
                               const double* invs, std::size_t ws, SolverLanes<W>& to, double* ell2, double* ew2,
                               double* mu2, double* invs2) {
  for (std::size_t i = 0; i < wt; ++i) {
    const std::size_t l = pos[i < m ? i : m - 1];
    to.target[i] = from.target[l];
    to.iw[i] = from.iw[l];
    to.lo[i] = from.lo[l];
    to.hi[i] = from.hi[l];
    to.xd[i] = from.xd[l];
    to.sprev[i] = from.sprev[l];
    to.lower[i] = from.lower[l];
    to.active[i] = i < m ? from.active[l] : 0;
    to.loE[i] = from.loE[l];
    to.hiE[i] = from.hiE[l];
  }
  for (std::size_t k = 0; k < K; ++k) {
    for (std::size_t i = 0; i < wt; ++i) {
      const std::size_t l = pos[i < m ? i : m - 1];
      ell2[k * wt + i] = ell[k * ws + l];
      ew2[k * wt + i] = ew[k * ws + l];
      if constexpr (PL) {
        mu2[at<PL>(k, i)] = mu[at<PL>(k, l)];
        invs2[at<PL>(k, i)] = invs[at<PL>(k, l)];
      }
    }
  }
}

MIXGRAD_INLINE std::size_t whole_registers(std::size_t lanes) {
  return (lanes + 3) / 4 * 4;
}

// Iteration it of the solver (rough for the first: see kRoughHError).
template <bool PL, std::size_t W>
MIXGRAD_INLINE Mask solve_iteration(std::size_t K, int it, const SolverInputs& in, SolverLanes<W>& s) {
  return it == 0 ? solve_iterations<PL, W, true>(K, it, it + 1, in, s) : solve_iterations<PL, W>(K, it, it + 1, in, s);
}

// Iterates the active lanes of st to the end: in place while more than half of them are active,
// then in compact copies (sg and s's arrays, a whole number of 4-lane registers wide) that are
// compacted again whenever that at least halves their width (a copy moves each lane's log
// weights, weights and state, work comparable to one evaluation of the lane).
// (W1, where every lane needs two evaluations and 10% a third: two full-width iterations, then
// compact ones. With means spread 4 times wider, 58% of the lanes take a dominant component's
// quantile and 93% of the others need a second evaluation: compact copies from the start.)
// Each lane's iterate ends in st.
template <bool PL, std::size_t W>
MIXGRAD_INLINE void solve_lanes(std::size_t K, const double* mu, const double* invs, const double* ell,
                                const double* ew, QuantileScratch& s, SolverLanes<W>& st, SolverLanes<W>& sg) {
  std::size_t n = active_count(st);
  int it = 0;
  for (; n > 0 && whole_registers(n) > W / 2 && it < kMaxIterations; ++it) {
    const SolverInputs in{mu, invs, ell, ew, s.v1.data(), s.v2.data(), s.qv.data(), W};
    n = solve_iteration<PL, W>(K, it, in, st) ? active_count(st) : 0;
  }
  if (n == 0 || it == kMaxIterations) return;
  std::size_t lane[W], pos[W];  // lane[i]: the lane of st in compact slot i
  n = active_positions(st, W, lane);
  std::size_t w = whole_registers(n);
  double *ell2 = s.ell2.data(), *ew2 = s.ew2.data(), *mu2 = s.mu2.data(), *invs2 = s.invs2.data();
  copy_lanes<PL, W>(K, lane, n, w, st, ell, ew, mu, invs, W, sg, ell2, ew2, mu2, invs2);
  for (; it < kMaxIterations; ++it) {
    const SolverInputs in{PL ? mu2 : mu, PL ? invs2 : invs, ell2, ew2, s.v1.data(), s.v2.data(), s.qv.data(), w};
    if (!solve_iteration<PL, W>(K, it, in, sg)) break;
    const std::size_t m = active_positions(sg, n, pos);
    const std::size_t wm = whole_registers(m);
    if (2 * wm > w) continue;
    for (std::size_t i = 0; i < n; ++i) st.xd[lane[i]] = sg.xd[i];
    for (std::size_t i = 0; i < m; ++i) lane[i] = lane[pos[i]];
    copy_lanes<PL, W>(K, pos, m, wm, sg, ell2, ew2, mu2, invs2, w, sg, ell2, ew2, mu2, invs2);
    n = m;
    w = wm;
  }
  for (std::size_t i = 0; i < n; ++i) st.xd[lane[i]] = sg.xd[i];
}

// Solve F_d(x_d | x_<d) = u_d for W rows at once (s.u -> s.x, both [D][W]; per-lane parameters,
// PL, come in units of W = L). Every lane runs the same safeguarded iteration in log space (a
// fourth-order step from h and its first three derivatives, Newton's where that is unreliable,
// bisection outside the bracket of the component quantiles) from the weighted mean of those
// quantiles (solve_lanes: in place, then in compact copies of the lanes that need more); a lane with a
// dominant component takes that component's quantile instead (dominance_margin). A lane stops at
// its own convergence test and is then left untouched, so its result never depends on the other
// lanes (hence not on how rows are grouped or threaded).
// hook(d) runs first in coordinate d (full covariance sets coordinate d's locations there).
template <bool PL, std::size_t W, class Hook = NoCoordinateHook>
MIXGRAD_INLINE void quantile_unit(const Dims& dm, const Prepared& p, QuantileScratch& s, const Hook& hook = {}) {
  static_assert(!PL || W == L, "per-lane parameters come in units of L lanes");
  const std::size_t K = dm.K, D = dm.D;
  double* ell = s.ell.data();  // running log weights, the largest shifted to 0 each coordinate
  double* ew = s.ew.data();    // w_k^(d) = e^{ell_k}, unnormalized
  alignas(64) double wsum[W], zq[W], uclip[W], x0[W], gap[W], xdom[W];
  alignas(64) Mask wbad[W];
  const double margin = dominance_margin(K);
  SolverLanes<W> st, sg;  // the batch's lanes, and the compact copies of the active ones
  double *target = st.target, *iw = st.iw, *lo = st.lo, *hi = st.hi, *xd = st.xd, *sprev = st.sprev;
  Mask *lower = st.lower, *active = st.active, *loE = st.loE, *hiE = st.hiE;
  for (std::size_t k = 0; k < K; ++k) {
#pragma omp simd
    for (std::size_t l = 0; l < W; ++l) ell[k * W + l] = p.logw[at<PL>(k, l)];
  }
  for (std::size_t d = 0; d < D; ++d) {
    hook(d);
    const double* mu = p.mu.data() + at<PL>(d * K, 0);  // coordinate d, indexed at<PL>(k, l)
    const double* invs = p.invs.data() + at<PL>(d * K, 0);
    const double* sig = p.sig.data() + at<PL>(d * K, 0);
    const double* logs = p.logs.data() + at<PL>(d * K, 0);
    shift_log_weights<W>(ell, K, ew, wsum, wbad, gap);
#pragma omp simd
    for (std::size_t l = 0; l < W; ++l) {  // bracket and Newton state of this coordinate
      iw[l] = 1.0 / wsum[l];
      lo[l] = elem::kInf;
      hi[l] = -elem::kInf;
      loE[l] = 0;
      hiE[l] = 0;
      sprev[l] = elem::kInf;
      x0[l] = 0.0;
      xdom[l] = 0.0;
    }
    Mask any = 0;
    if (s.log_tail) {
      // v = log F (v < 0, lower tail) or -log S (v > 0): the target and bracket come from v.
      for (std::size_t l = 0; l < W; ++l) {
        const double v = s.u[d * W + l];
        const bool bad = std::isnan(v) || wbad[l] != 0;
        const Mask act = !bad && std::fabs(v) < elem::kInf;
        xd[l] = bad ? kNaN : (act ? 0.0 : (v < 0.0 ? -elem::kInf : elem::kInf));
        active[l] = act;
        any |= act;
        const bool lw = v < 0.0;
        lower[l] = lw;
        target[l] = act ? (lw ? v : -v) : -special::kLn2;
        const double zt = special::ndtri_exp(target[l]);
        zq[l] = lw ? zt : -zt;
      }
    } else {
      alignas(64) Mask tail[W];
#pragma omp simd reduction(| : any)
      for (std::size_t l = 0; l < W; ++l) {
        const double uu = s.u[d * W + l];
        const bool bad = !((uu >= 0.0) & (uu <= 1.0)) | (wbad[l] != 0);
        const double at_zero = uu == 0.0 ? -elem::kInf : 0.0;  // one select per statement, as below
        const double at_ends = uu == 1.0 ? elem::kInf : at_zero;
        xd[l] = bad ? kNaN : at_ends;
        const Mask act = !bad & (uu > 0.0) & (uu < 1.0);
        active[l] = act;
        any |= act;
        const bool lw = uu < 0.5;
        lower[l] = lw;
        const double uc = act ? uu : 0.5;
        target[l] = elem::log(lw ? uc : 1.0 - uc);  // 1 - u exact for u >= 1/2
        // z_u = ndtri(u): its central rational here, its tails (a log and a square root) below
        // only where a lane needs them (6% of uniform u): the values of special::ndtri.
        uclip[l] = uc;
        zq[l] = special::ndtri_central(uc - 0.5);
        tail[l] = Mask(std::fabs(uc - 0.5) > special::kNdtriCentral);
      }
      // By registers of 4 lanes: a batch of 64 lanes nearly always has a lane that needs them.
      for (std::size_t r = 0; r < W; r += 4) {
        if (!(tail[r] | tail[r + 1] | tail[r + 2] | tail[r + 3])) continue;
#pragma omp simd
        for (std::size_t l = r; l < r + 4; ++l) {
          const double t = special::ndtri_tail(uclip[l], special::ndtri_tail_root(uclip[l]));
          zq[l] = std::fabs(uclip[l] - 0.5) <= special::kNdtriCentral ? zq[l] : t;
        }
      }
    }
    if (any) {
      for (std::size_t k = 0; k < K; ++k) {
#pragma omp simd
        for (std::size_t l = 0; l < W; ++l) {
          const std::size_t j = at<PL>(k, l);
          const double e = ell[k * W + l];
          const double qk = mu[j] + sig[j] * zq[l];
          const bool live = e != kNegInf;
          // Unconditional stores and loads: masked stores are slow (microcoded on AMD).
          const double qlo = live ? qk : elem::kInf;
          const double qhi = live ? qk : -elem::kInf;
          const double wq = ew[k * W + l] * qk;
          lo[l] = qlo < lo[l] ? qlo : lo[l];
          hi[l] = qhi > hi[l] ? qhi : hi[l];
          x0[l] += live ? wq : 0.0;
          xdom[l] = ew[k * W + l] > 0.5 * wsum[l] ? qk : xdom[l];
        }
      }
      any = 0;
#pragma omp simd reduction(| : any)
      for (std::size_t l = 0; l < W; ++l) {
        const double start = std::min(std::max(x0[l] * iw[l], lo[l]), hi[l]);
        const bool dominant = gap[l] <= target[l] - margin;
        const double x = dominant ? xdom[l] : start;
        xd[l] = active[l] ? x : xd[l];
        const Mask act = active[l] & (lo[l] < hi[l]) & !dominant;
        active[l] = act;
        any |= act;
      }
      if (any) solve_lanes<PL, W>(K, mu, invs, ell, ew, s, st, sg);
    }
    // ell^(d+1) = ell^(d) + log N(x_d; mu_kd, sigma_kd) (constant dropped: shifted above).
    for (std::size_t k = 0; k < K; ++k) {
#pragma omp simd
      for (std::size_t l = 0; l < W; ++l) {
        const std::size_t j = at<PL>(k, l);
        const double zz = (xd[l] - mu[j]) * invs[j];
        ell[k * W + l] = ell[k * W + l] - logs[j] - 0.5 * zz * zz;
      }
    }
#pragma omp simd
    for (std::size_t l = 0; l < W; ++l) s.x[d * W + l] = xd[l];
  }
}

MIXGRAD_SIMD_KERNEL void quantile_shared_kernel(const Dims& dm, const Prepared& p, QuantileScratch& s) {
  quantile_unit<false, kQuantileBatch>(dm, p, s);
}

MIXGRAD_SIMD_DISPATCH(quantile_shared)
MIXGRAD_SIMD_KERNEL void quantile_lanes_kernel(const Dims& dm, const Prepared& p, QuantileScratch& s) {
  quantile_unit<true, L>(dm, p, s);
}
MIXGRAD_SIMD_DISPATCH(quantile_lanes)

}  // namespace detail

// Rows are solved L at a time, grouped as in per_row (use_lanes); padding lanes solve u = 1/2.
// With log_tail, u holds the signed log tails of forward_unit<Fwd::LogTail> (any type U).
template <class T, class U>
void quantile(const Args<T>& a, const U* u, T* out, int nthreads, bool log_tail = false) {
  const Dims dm = a.dm;
  const std::size_t B = dm.B, S = a.S, D = dm.D;
  // A batch of W lanes; rows[l] for l < count.
  auto load = [&](QuantileScratch& s, std::size_t W, const std::size_t* rows, std::size_t count) {
    double* su = s.u.data();
    for (std::size_t l = 0; l < count; ++l) {
      const U* row = u + rows[l] * D;
      for (std::size_t d = 0; d < D; ++d) su[d * W + l] = static_cast<double>(row[d]);
    }
    const double pad = log_tail ? -special::kLn2 : 0.5;
    for (std::size_t l = count; l < W; ++l)
      for (std::size_t d = 0; d < D; ++d) su[d * W + l] = pad;
  };
  auto write = [&](const QuantileScratch& s, std::size_t W, const std::size_t* rows, std::size_t count) {
    const double* sx = s.x.data();
    for (std::size_t l = 0; l < count; ++l) {
      T* row = out + rows[l] * D;
      for (std::size_t d = 0; d < D; ++d) row[d] = static_cast<T>(sx[d * W + l]);
    }
  };
  if (use_lanes(dm, S)) {
    const std::size_t groups = (B + L - 1) / L;
    detail::dynamic_blocks(groups, std::max<std::size_t>(1, groups / 64), nthreads, 2,
                           [&](std::size_t g0, std::size_t g1) {
                             Prepared p;
                             QuantileScratch s;
                             s.init(dm);
                             s.log_tail = log_tail;
                             std::size_t rows[L];
                             for (std::size_t gi = g0; gi < g1; ++gi) {
                               const std::size_t b0 = gi * L, nb = std::min(L, B - b0);
                               prepare_group(dm, a.logits, a.means, a.scales, b0, nb, p);
                               for (std::size_t si = 0; si < S; ++si) {
                                 for (std::size_t l = 0; l < nb; ++l) rows[l] = si * B + b0 + l;
                                 load(s, L, rows, nb);
                                 detail::quantile_lanes(dm, p, s);
                                 write(s, L, rows, nb);
                               }
                             }
                           });
  } else {
    for (std::size_t b = 0; b < B; ++b) {
      Prepared p;
      prepare_shared(dm, a.logits, a.means, a.scales, b, p);
      constexpr std::size_t W = kQuantileBatch;
      const std::size_t batches = (S + W - 1) / W;
      // Blocks of up to batches / 64 (at least 2): a block sets up its own QuantileScratch (about
      // 106 kB zeroed on W1), which every 2 batches took 1% of the W1 quantile on Zen 3 (AVX2).
      // Each lane's result is its own, so the block size changes no bit.
      const std::size_t block = detail::scratch_block(batches, 64, W * dm.K * D, 2);
      detail::dynamic_blocks(batches, block, nthreads, 4, [&](std::size_t b0, std::size_t b1) {
        QuantileScratch s;
        s.init(dm, W);
        s.log_tail = log_tail;
        std::size_t rows[W];
        for (std::size_t bi = b0; bi < b1; ++bi) {
          const std::size_t s0 = bi * W, ns = std::min(W, S - s0);
          for (std::size_t l = 0; l < ns; ++l) rows[l] = (s0 + l) * B + b;
          load(s, W, rows, ns);
          detail::quantile_shared(dm, p, s);
          write(s, W, rows, ns);
        }
      });
    }
  }
}

}  // namespace mixgrad::mixture
