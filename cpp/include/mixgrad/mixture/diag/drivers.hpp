// Diagonal mixtures: the drivers of the per-row operations (jvp, cdf_transform, log_prob) and of
// the vjp: rows gathered into units, units handed to threads, deterministic reductions.
#pragma once

#include <algorithm>
#include <cstddef>
#include <type_traits>
#include <vector>

#include "mixgrad/config.hpp"
#include "mixgrad/mixture/diag/args.hpp"
#include "mixgrad/mixture/diag/dispatch.hpp"
#include "mixgrad/mixture/diag/params.hpp"
#include "mixgrad/mixture/diag/scratch.hpp"
#include "mixgrad/mixture/lanes.hpp"
#include "mixgrad/mixture/schedule.hpp"

namespace mixgrad::mixture {

// Copy rows into the lane buffers; lanes beyond `count` get component 0's means (finite, so
// that a zero upstream gradient contributes exactly zero) and a zero upstream gradient. A whole
// unit is copied coordinate by coordinate: each coordinate's lanes are one contiguous store.
template <bool PL, class T>
inline void gather_rows(const Args<T>& a, const Prepared& p, Scratch& s, const std::size_t* rows, std::size_t count) {
  const std::size_t D = a.dm.D, K = a.dm.K;
  if (count == L && a.gx) {
    const T* xr[L];
    const T* gr[L];
    for (std::size_t l = 0; l < L; ++l) {
      xr[l] = a.x + rows[l] * D;
      gr[l] = a.gx + rows[l] * D;
    }
    for (std::size_t d = 0; d < D; ++d) {
#pragma GCC unroll 8
      for (std::size_t l = 0; l < L; ++l) {
        s.x[d * L + l] = static_cast<double>(xr[l][d]);
        s.gx[d * L + l] = static_cast<double>(gr[l][d]);
      }
    }
    return;
  }
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

// Asks for rows rows[l] + step (those of the next unit; rows past the end skipped) of x and gx
// to be brought into the cache while this unit computes. Rows come in bursts a unit's arithmetic
// apart, and the hardware prefetcher did not fetch them in time: their misses took 1-2% of the W1
// vjp on Zen 3 (AVX2).
template <class T>
MIXGRAD_INLINE void prefetch_rows(const Args<T>& a, const std::size_t* rows, std::size_t count, std::size_t step) {
  const std::size_t D = a.dm.D, N = a.dm.B * a.S;
  constexpr std::size_t kLine = 64 / sizeof(T);  // values per cache line
  for (std::size_t l = 0; l < count; ++l) {
    const std::size_t i = rows[l] + step;
    if (i >= N) continue;
    for (std::size_t o = 0; o < D; o += kLine) {
      if (a.x) __builtin_prefetch(a.x + i * D + o);
      if (a.gx) __builtin_prefetch(a.gx + i * D + o);
    }
  }
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
  if (use_lanes(whole_dims(a), whole_samples(a))) {
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
              prefetch_rows(a, rows, nb, B);
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
          prefetch_rows(a, rows, ns, L * B);
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
// reduced in a fixed order. Extra memory: O(threads*K*D) scratch plus the chunk partials of one
// round, at most max(4, 2^22 / (K + 2KD)) of them (32 MB) and never more than there are chunks.
// fill(layout, p, s, rows, count) puts rows `rows[0 .. count)` and their upstream gradients into
// the lane buffers s.x and s.gx (layout: std::true_type for per-lane parameters).
template <class T, class Fill>
void vjp_rows(const Args<T>& a, T* ga, T* gmu, T* gs, int nthreads, Fill&& fill) {
  const Dims dm = a.dm;
  const std::size_t B = dm.B, S = a.S, K = dm.K, D = dm.D;
  if (use_lanes(whole_dims(a), whole_samples(a))) {
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
                                 prefetch_rows(a, rows, nb, B);
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
  const std::size_t P = K + 2 * K * D;     // partial: [a (K)][mu (D*K)][sigma (D*K)], [d][k] layout
  // Chunks reduced together: the partials are added to the total in chunk order whatever the
  // round size, so it bounds memory without changing a bit of the result.
  const std::size_t kRound = std::clamp<std::size_t>((std::size_t{1} << 22) / P, 4, 128);
  const std::size_t units_max = (S + L - 1) / L;
  const std::size_t chunks_max = (units_max + kChunkUnits - 1) / kChunkUnits;
  std::vector<double> partial(std::min(kRound, chunks_max) * P), total(P);
  for (std::size_t b = 0; b < B; ++b) {
    Prepared p;
    prepare_shared(dm, a.logits, a.means, a.scales, b, p);
    const std::size_t units = (S + L - 1) / L;
    const std::size_t chunks = (units + kChunkUnits - 1) / kChunkUnits;
    std::fill(total.begin(), total.end(), 0.0);
    for (std::size_t c0 = 0; c0 < chunks; c0 += kRound) {
      const std::size_t nc = std::min(kRound, chunks - c0);
      // Blocks of up to nc / 16 chunks: a block sets up its own Scratch (about 50 kB zeroed on
      // W1), which once per chunk took 2-3% of the W1 vjp on Zen 3 (AVX2). The partials are per
      // chunk, so the block size changes no bit of the result.
      const std::size_t block = detail::scratch_block(nc, 16, kChunkUnits * L * K * D, 1);
      detail::dynamic_blocks(nc, block, nthreads, 2, [&](std::size_t cb, std::size_t ce) {
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
            prefetch_rows(a, rows, ns, L * B);
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

}  // namespace mixgrad::mixture
