// Diagonal mixtures: the reverse recurrence of the implicit-reparameterization gradient over one
// unit (run after forward_unit<PL, Fwd::Vjp>), O(K*D) per sample.
#pragma once

#include <algorithm>
#include <cstddef>

#include "mixgrad/config.hpp"
#include "mixgrad/mixture/diag/params.hpp"
#include "mixgrad/mixture/diag/scratch.hpp"
#include "mixgrad/mixture/lanes.hpp"

namespace mixgrad::mixture {

namespace detail {

// The sum over k of lam_k z_kd / sigma_kd ([K][L], per lane) added into sum: the adjoint of x_d
// is its upstream gradient minus that sum.
template <bool PL>
MIXGRAD_INLINE void scaled_adjoint_sum(std::size_t K, std::size_t d, const double* invs, const double* zd,
                                       const double* lam, double* sum) {
  for (std::size_t k = 0; k < K; ++k) {
#pragma omp simd
    for (std::size_t l = 0; l < L; ++l) sum[l] += lam[k * L + l] * (zd[k * L + l] * invs[at<PL>(d * K + k, l)]);
  }
}

// The adjoint of x_d per lane, xbar = gxd - sum, times the factors of r and term: xr = xbar igr,
// xt = xbar igt.
MIXGRAD_INLINE void coordinate_adjoint(const double* gxd, const double* sum, const double* igr, const double* igt,
                                       double* xr, double* xt) {
#pragma omp simd
  for (std::size_t l = 0; l < L; ++l) {
    const double xb = gxd[l] - sum[l];
    xr[l] = xb * igr[l];
    xt[l] = xb * igt[l];
  }
}

// Adds the adjoints of mu_d, sigma_d into amu, as ([K][L]) and turns lam (the adjoint of
// ell^(d+1)) into that of ell^(d). With NEXT, also does scaled_adjoint_sum for coordinate d - 1
// (z in zn, into sumn) on the new lam as it is formed: one pass over lam instead of two.
// Unrolled by two components, as the forward passes (same bits, 1% on Zen 4, AVX2). z / sigma
// is formed where it is used, not stored: a store per value cost more than the multiply.
template <bool PL, bool NEXT>
MIXGRAD_INLINE void adjoint_update(std::size_t K, std::size_t d, const double* invs, const double* zd, const double* rd,
                                   const double* td, const double* xr, const double* xt, double* lam, double* amu,
                                   double* as, const double* zn, double* sumn) {
#pragma GCC unroll 2
  for (std::size_t k = 0; k < K; ++k) {
#pragma omp simd
    for (std::size_t l = 0; l < L; ++l) {
      const std::size_t i = k * L + l;
      const double is = invs[at<PL>(d * K + k, l)];
      const double zz = zd[i];
      const double lm = lam[i];
      // The adjoint of mu_k is a = lam z / sigma + xbar r; that of sigma_k is z a - lam / sigma.
      const double a = lm * (zz * is) + xr[l] * rd[i];
      amu[i] += a;
      as[i] += zz * a - lm * is;
      const double ln = lm - xt[l] * td[i];
      lam[i] = ln;
      if constexpr (NEXT) sumn[l] += ln * (zn[i] * invs[at<PL>((d - 1) * K + k, l)]);
    }
  }
}

// One coordinate of the reverse recurrence of section 3.3: with gxd the upstream gradient of x_d
// and lam the adjoint of ell^(d+1), adds the adjoints of mu_d, sigma_d into amu, as ([K][L]) and
// turns lam into the adjoint of ell^(d). zd, rd, td, igr, igt: coordinate d of
// forward_unit<PL, Vjp> (r_k = igr rd_k, term_k = igt td_k per lane).
template <bool PL>
MIXGRAD_INLINE void reverse_coordinate(std::size_t K, std::size_t d, const double* invs, const double* zd,
                                       const double* rd, const double* td, const double* igr, const double* igt,
                                       const double* gxd, double* lam, double* amu, double* as) {
  alignas(64) double sum[L] = {}, xr[L], xt[L];
  scaled_adjoint_sum<PL>(K, d, invs, zd, lam, sum);
  coordinate_adjoint(gxd, sum, igr, igt, xr, xt);
  adjoint_update<PL, false>(K, d, invs, zd, rd, td, xr, xt, lam, amu, as, nullptr, nullptr);
}

}  // namespace detail

// The reverse recurrence of section 3.3 over one unit (after forward_unit<PL, Vjp>): adds each
// lane's gradient into the accumulators s.amu, s.as ([D][K][L]) and s.aa ([K][L]).
template <bool PL>
MIXGRAD_INLINE void reverse_unit(const Dims& dm, const Prepared& p, Scratch& s) {
  const std::size_t K = dm.K, D = dm.D;
  if (D == 0) return;
  const double* invs = p.invs.data();
  double* lam = s.lam.data();
  // The sum of scaled_adjoint_sum of coordinate d, then that of d - 1 in sumn (swapped, not
  // copied: a copy made coordinate_adjoint wait on store forwarding).
  alignas(64) double sa[L] = {}, sb[L], xr[L], xt[L];
  double* sum = sa;
  double* sumn = sb;
  std::fill(s.lam.begin(), s.lam.end(), 0.0);
  detail::scaled_adjoint_sum<PL>(K, D - 1, invs, s.z.data() + (D - 1) * K * L, lam, sum);
  for (std::size_t d = D; d-- > 0;) {
    const std::size_t o = d * K * L;
    detail::coordinate_adjoint(s.gx.data() + d * L, sum, s.igr.data() + d * L, s.igt.data() + d * L, xr, xt);
    if (d > 0) {
      for (std::size_t l = 0; l < L; ++l) sumn[l] = 0.0;
      detail::adjoint_update<PL, true>(K, d, invs, s.z.data() + o, s.r.data() + o, s.term.data() + o, xr, xt, lam,
                                       s.amu.data() + o, s.as.data() + o, s.z.data() + o - K * L, sumn);
      std::swap(sum, sumn);
    } else {
      detail::adjoint_update<PL, false>(K, d, invs, s.z.data() + o, s.r.data() + o, s.term.data() + o, xr, xt, lam,
                                        s.amu.data() + o, s.as.data() + o, nullptr, nullptr);
    }
  }
  for (std::size_t i = 0; i < K * L; ++i) s.aa[i] += lam[i];
}

}  // namespace mixgrad::mixture
