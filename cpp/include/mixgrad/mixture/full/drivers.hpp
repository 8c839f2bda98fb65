// Full-covariance mixtures: the drivers of the per-row operations (jvp, cdf_transform, log_tail,
// log_prob) and of the vjp, scheduled as the diagonal drivers are: rows gathered into units,
// units handed to threads, deterministic reductions.
#pragma once

#include <algorithm>
#include <cstddef>
#include <type_traits>
#include <vector>

#include "mixgrad/mixture/diag/params.hpp"
#include "mixgrad/mixture/diag/scratch.hpp"
#include "mixgrad/mixture/full/dispatch.hpp"
#include "mixgrad/mixture/full/params.hpp"
#include "mixgrad/mixture/full/scratch.hpp"
#include "mixgrad/mixture/lanes.hpp"
#include "mixgrad/mixture/schedule.hpp"

namespace mixgrad::mixture {

// One mixture per lane (many mixtures, or one row each) unless a lane group's copies of the
// lower triangles would be large; depends on the shapes only.
inline bool tril_use_lanes(const Dims& dm, std::size_t S) {
  return use_lanes(dm, S) && dm.K * dm.D * dm.D <= (std::size_t{1} << 16);
}

// Everything one thread needs for a unit. Per-lane Prepared (its means are overwritten by the
// locations of each unit), the lower triangles (`own`, or a shared read-only `tril`).
template <class T>
struct TrilWork {
  Prepared p;
  TrilParams own;
  Scratch s;
  TrilScratch ts;
  std::vector<T> diag, tdiag;
  TrilWork(const Dims& dm, bool vjp) {
    s.init(dm, vjp, vjp);
    ts.init(dm, vjp);
  }
};

// Rows into the lane buffers; lanes beyond `count` get component 0's means (finite, so that a
// zero upstream gradient contributes exactly zero) and a zero upstream gradient.
template <class T>
inline void gather_tril_rows(const TrilArgs<T>& a, const TrilParams& t, Scratch& s, const std::size_t* rows,
                             std::size_t count) {
  const std::size_t D = a.dm.D, K = a.dm.K;
  for (std::size_t l = 0; l < L; ++l)
    for (std::size_t d = 0; d < D; ++d) {
      if (l < count) {
        s.x[d * L + l] = static_cast<double>(a.x[rows[l] * D + d]);
        if (a.gx) s.gx[d * L + l] = static_cast<double>(a.gx[rows[l] * D + d]);
      } else {
        s.x[d * L + l] = t.mu0[d * K * L + l];
        s.gx[d * L + l] = 0.0;
      }
    }
}

// Per-row operations: out has `width` values per row.
template <Op OP, class T>
void tril_per_row(const TrilArgs<T>& a, T* out, std::size_t width, int nthreads) {
  const Dims dm = a.dm;
  const std::size_t B = dm.B, S = a.S;
  auto write = [&](const double* buf, const std::size_t* rows, std::size_t count) {
    for (std::size_t l = 0; l < count; ++l)
      for (std::size_t c = 0; c < width; ++c) out[rows[l] * width + c] = static_cast<T>(buf[c * L + l]);
  };
  if (tril_use_lanes(dm, S)) {
    const std::size_t groups = (B + L - 1) / L;
    detail::dynamic_blocks(groups, std::max<std::size_t>(1, groups / 64), nthreads, 2,
                           [&](std::size_t g0, std::size_t g1) {
                             TrilWork<T> w(dm, false);
                             std::vector<double> buf(width * L);
                             std::size_t rows[L];
                             for (std::size_t gi = g0; gi < g1; ++gi) {
                               const std::size_t b0 = gi * L, nb = std::min(L, B - b0);
                               prepare_tril<true>(a, b0, nb, w.p, w.own, w.diag, w.tdiag);
                               for (std::size_t si = 0; si < S; ++si) {
                                 for (std::size_t l = 0; l < nb; ++l) rows[l] = si * B + b0 + l;
                                 gather_tril_rows(a, w.own, w.s, rows, nb);
                                 run_tril_unit<OP, true>(dm, w.p, w.own, w.s, w.ts, buf.data());
                                 write(buf.data(), rows, nb);
                               }
                             }
                           });
    return;
  }
  for (std::size_t b = 0; b < B; ++b) {
    Prepared p0;
    TrilParams t0;
    std::vector<T> diag, tdiag;
    prepare_tril<false>(a, b, 1, p0, t0, diag, tdiag);
    const std::size_t units = (S + L - 1) / L;
    detail::dynamic_blocks(units, 16, nthreads, 32, [&](std::size_t u0, std::size_t u1) {
      TrilWork<T> w(dm, false);
      w.p = p0;
      std::vector<double> buf(width * L);
      std::size_t rows[L];
      for (std::size_t u = u0; u < u1; ++u) {
        const std::size_t s0 = u * L, ns = std::min(L, S - s0);
        for (std::size_t l = 0; l < ns; ++l) rows[l] = (s0 + l) * B + b;
        gather_tril_rows(a, t0, w.s, rows, ns);
        run_tril_unit<OP, false>(dm, w.p, t0, w.s, w.ts, buf.data());
        write(buf.data(), rows, ns);
      }
    });
  }
}

// The vector-Jacobian product summed over the S rows of each mixture: ga [B][K], gmu [B][K][D],
// gl [B][K][D][D] (lower triangular). Deterministic as the diagonal vjp_rows: per-lane sums in row
// order, lanes and fixed-size chunks reduced in a fixed order, a bounded number of chunk partials
// alive at once. fill(layout, t, s, rows, count) puts the rows and their upstream gradients into
// s.x and s.gx.
template <class T, class Fill>
void tril_vjp_rows(const TrilArgs<T>& a, T* ga, T* gmu, T* gl, int nthreads, Fill&& fill) {
  const Dims dm = a.dm;
  const std::size_t B = dm.B, S = a.S, K = dm.K, D = dm.D;
  auto zero = [](TrilWork<T>& w) {
    std::fill(w.s.amu.begin(), w.s.amu.end(), 0.0);
    std::fill(w.s.aa.begin(), w.s.aa.end(), 0.0);
    std::fill(w.ts.lbar.begin(), w.ts.lbar.end(), 0.0);
  };
  if (tril_use_lanes(dm, S)) {
    const std::size_t groups = (B + L - 1) / L;
    detail::dynamic_blocks(groups, std::max<std::size_t>(1, groups / 64), nthreads, 2,
                           [&](std::size_t g0, std::size_t g1) {
                             TrilWork<T> w(dm, true);
                             std::size_t rows[L];
                             for (std::size_t gi = g0; gi < g1; ++gi) {
                               const std::size_t b0 = gi * L, nb = std::min(L, B - b0);
                               prepare_tril<true>(a, b0, nb, w.p, w.own, w.diag, w.tdiag);
                               zero(w);
                               for (std::size_t si = 0; si < S; ++si) {
                                 for (std::size_t l = 0; l < nb; ++l) rows[l] = si * B + b0 + l;
                                 fill(std::true_type{}, w.own, w.s, rows, nb);
                                 run_tril_unit<Op::Vjp, true>(dm, w.p, w.own, w.s, w.ts, nullptr);
                               }
                               for (std::size_t l = 0; l < nb; ++l) {
                                 const std::size_t b = b0 + l;
                                 for (std::size_t k = 0; k < K; ++k) {
                                   ga[b * K + k] = static_cast<T>(w.s.aa[k * L + l]);
                                   for (std::size_t d = 0; d < D; ++d) {
                                     gmu[(b * K + k) * D + d] = static_cast<T>(w.s.amu[(d * K + k) * L + l]);
                                     for (std::size_t j = 0; j < D; ++j)
                                       gl[((b * K + k) * D + d) * D + j] =
                                           j <= d ? static_cast<T>(w.ts.lbar[((d * D + j) * K + k) * L + l]) : T(0);
                                   }
                                 }
                               }
                             }
                           });
    return;
  }
  constexpr std::size_t kChunkUnits = 32;       // rows per chunk: 32 * L = 256
  const std::size_t P = K + D * K + D * D * K;  // partial: [a (K)][mu [d][k]][L [d][j][k]]
  const std::size_t kRound = std::clamp<std::size_t>((std::size_t{1} << 22) / P, 4, 128);
  const std::size_t units = (S + L - 1) / L;
  const std::size_t chunks = (units + kChunkUnits - 1) / kChunkUnits;
  std::vector<double> partial(std::min(kRound, std::max<std::size_t>(chunks, 1)) * P), total(P);
  for (std::size_t b = 0; b < B; ++b) {
    Prepared p0;
    TrilParams t0;
    std::vector<T> diag, tdiag;
    prepare_tril<false>(a, b, 1, p0, t0, diag, tdiag);
    std::fill(total.begin(), total.end(), 0.0);
    for (std::size_t c0 = 0; c0 < chunks; c0 += kRound) {
      const std::size_t nc = std::min(kRound, chunks - c0);
      // Blocks of up to nc / 16 chunks, as in the diagonal vjp: a block sets up its own TrilWork.
      const std::size_t block = detail::scratch_block(nc, 16, kChunkUnits * L * K * D * D, 1);
      detail::dynamic_blocks(nc, block, nthreads, 2, [&](std::size_t cb, std::size_t ce) {
        TrilWork<T> w(dm, true);
        w.p = p0;
        std::size_t rows[L];
        for (std::size_t c = cb; c < ce; ++c) {
          zero(w);
          const std::size_t ub = (c0 + c) * kChunkUnits, ue = std::min(units, ub + kChunkUnits);
          for (std::size_t u = ub; u < ue; ++u) {
            const std::size_t s0 = u * L, ns = std::min(L, S - s0);
            for (std::size_t l = 0; l < ns; ++l) rows[l] = (s0 + l) * B + b;
            fill(std::false_type{}, t0, w.s, rows, ns);
            run_tril_unit<Op::Vjp, false>(dm, w.p, t0, w.s, w.ts, nullptr);
          }
          double* o = partial.data() + c * P;
          auto lane_sum = [](const double* v) {
            double r = 0.0;
            for (std::size_t l = 0; l < L; ++l) r += v[l];
            return r;
          };
          for (std::size_t k = 0; k < K; ++k) o[k] = lane_sum(&w.s.aa[k * L]);
          for (std::size_t j = 0; j < D * K; ++j) o[K + j] = lane_sum(&w.s.amu[j * L]);
          for (std::size_t j = 0; j < D * D * K; ++j) o[K + D * K + j] = lane_sum(&w.ts.lbar[j * L]);
        }
      });
      for (std::size_t c = 0; c < nc; ++c)
        for (std::size_t j = 0; j < P; ++j) total[j] += partial[c * P + j];
    }
    for (std::size_t k = 0; k < K; ++k) {
      ga[b * K + k] = static_cast<T>(total[k]);
      for (std::size_t d = 0; d < D; ++d) {
        gmu[(b * K + k) * D + d] = static_cast<T>(total[K + d * K + k]);
        for (std::size_t j = 0; j < D; ++j)
          gl[((b * K + k) * D + d) * D + j] = j <= d ? static_cast<T>(total[K + D * K + (d * D + j) * K + k]) : T(0);
      }
    }
  }
}

template <class T>
void tril_vjp(const TrilArgs<T>& a, T* ga, T* gmu, T* gl, int nthreads) {
  tril_vjp_rows(a, ga, gmu, gl, nthreads,
                [&](auto, const TrilParams& t, Scratch& s, const std::size_t* rows, std::size_t count) {
                  gather_tril_rows(a, t, s, rows, count);
                });
}

}  // namespace mixgrad::mixture
