// estimate(): the REBAR family (rebar, reinforce, concrete, straight-through) in one driver:
// per-sample estimates, their mean and spread, and the per-event statistics for eta and baselines.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "mixgrad/discrete/buffers.hpp"
#include "mixgrad/discrete/chain.hpp"
#include "mixgrad/discrete/combine.hpp"
#include "mixgrad/discrete/constants.hpp"
#include "mixgrad/discrete/draw.hpp"
#include "mixgrad/discrete/moments.hpp"
#include "mixgrad/discrete/problem.hpp"
#include "mixgrad/discrete/rebar_quadratic.hpp"
#include "mixgrad/discrete/tiling.hpp"
#include "mixgrad/objectives.hpp"
#include "mixgrad/parallel.hpp"
#include "mixgrad/prefetch.hpp"

namespace mixgrad::rebar {

// The estimator: per-sample estimates and/or their per-coordinate mean and sum of squared
// deviations over samples, and/or the per-event statistics used for eta and baselines.
template <class Obj>
void estimate(const Problem& P, const Obj& obj) {
  check_problem(P);
  const std::size_t R = P.R, E = P.E, r0 = P.r0;
  const std::uint64_t S = P.S;
  const Constants C = make_constants(P);
  // The whole call's tiling, over the tiles that hold this call's rows (all of them when this
  // call is the whole): each row's chunks and sums are the whole call's.
  const Tiling T = make_tiling(S, rows_whole(P), E);
  const TileWindow W = tile_window(T, rows_whole(P), r0, r0 + R);
  const std::size_t n_tiles = T.n_sb * W.n_rb;
  const std::size_t tile_coords = T.rows_per_tile * E;
  const bool accumulate = P.mean != nullptr;
  const bool stats = P.stat_fb != nullptr;
  std::vector<double> tile_mean(accumulate ? n_tiles * tile_coords : 0);
  std::vector<double> tile_m2(accumulate ? n_tiles * tile_coords : 0);
  if (stats && P.mode != Rebar && P.mode != Reinforce)
    throw std::invalid_argument("per-event statistics exist for rebar and reinforce only");
  const bool need_value_hard = P.mode == Rebar || P.mode == Reinforce;
  const bool need_tilde = P.mode == Rebar;
  const bool need_relaxed_grad = P.mode == Rebar || P.mode == Concrete;

  // Small problems stay on the calling thread (waking a team costs more than the work).
  const int threads = static_cast<double>(S) * static_cast<double>(R * E) < 16384.0 ? 1 : P.nthreads;
  // Each thread's working arrays are kept from tile to tile and call to call, unless a chunk is
  // wider than kChunkCoords (then they are made per tile).
  const std::size_t max_nj = std::max(kChunkCoords, E);
  parallel::for_blocks(n_tiles, 1, threads, 2, [&](std::size_t t0, std::size_t t1) {
    const TileScratchLease lease(E <= kChunkCoords);
    TileScratch& ts = lease.get();
    ts.reserve(max_nj, tile_coords);
    Buffers& B = ts.B;
    std::vector<double>& cmean = ts.cmean;
    std::vector<double>& cm2 = ts.cm2;
    std::vector<double>& lmean = ts.lmean;
    std::vector<double>& lm2 = ts.lm2;
    for (std::size_t t = t0; t < t1; ++t) {
      const std::size_t sbi = t / W.n_rb, rbi = W.rb0 + t % W.n_rb;
      const std::size_t sa = sbi * T.samples_per_tile, sb = std::min<std::size_t>(S, sa + T.samples_per_tile);
      const std::size_t ra = rbi * T.rows_per_tile, rb = std::min(W.R, ra + T.rows_per_tile);  // whole-call rows
      // The tile's moments build up in this thread's own buffers, stored when the tile is done:
      // written per sample next to a neighbouring tile's (another thread's), they would share a
      // cache line at the tiles' edge.
      double* tmean = accumulate ? lmean.data() : nullptr;
      double* tm2 = accumulate ? lm2.data() : nullptr;
      if (accumulate) std::fill(lmean.begin(), lmean.end(), 0.0), std::fill(lm2.begin(), lm2.end(), 0.0);
      for_chunks(sa, sb, ra, rb, E, W.r0, W.r1,
                 [&](std::size_t s0, std::size_t m, std::size_t gi0, std::size_t gi1, std::size_t width) {
                   const std::size_t i0 = gi0 - r0, i1 = gi1 - r0;  // this call's rows
                   const std::size_t nr = i1 - i0, n_ev = m * nr;
                   // The fused quadratic pass with one target row needs no event ids (B.row, B.sample) when
                   // the noise comes from a rectangle kernel (width or m >= 8); everything else reads them.
                   bool fusable = false, ids = true;
                   if constexpr (std::is_same_v<Obj, objectives::Quadratic>) {
                     fusable = P.kind != Categorical && P.mode == Rebar && !stats && !P.eta && !P.baseline;
                     ids = !fusable || obj.target_row_stride != 0 || (width < 8 && m < 8);
                   }
                   if (ids)
                     for (std::size_t c = 0; c < m; ++c)
                       for (std::size_t i = i0; i < i1; ++i) {
                         B.row[c * nr + (i - i0)] = static_cast<std::uint32_t>(i);
                         B.sample[c * nr + (i - i0)] = s0 + c;
                       }
                   draw_chunk(P, C, B, n_ev, need_tilde, s0, m, i0, i1, width);
                   bool fused = false, merged = false;
                   // the estimates: B.g, or straight into the output when the chunk's m samples of rows
                   // [i0, i1) are one contiguous block of it (fused path only)
                   double* gout = B.g.data();
                   const std::size_t q0 = (gi0 - ra) * E, nq = nr * E;  // the chunk's place in the tile
                   if constexpr (std::is_same_v<Obj, objectives::Quadratic>) {
                     if (fusable) {
                       if (!accumulate && !P.samples) return;
                       if (P.samples && (m == 1 || (i0 == 0 && i1 == R))) {
                         gout = P.samples + (s0 * R + i0) * E;
                         // The same rows of the tile's next m samples (the next chunk when these are
                         // all the rows): asked for now, their lines are in the cache when written.
                         // With the moments below, REBAR at D = 200 6% faster (Zen 4, AVX2 copy).
                         if (s0 + m < sb)
                           prefetch_for_write(gout + m * R * E, std::min<std::size_t>(m, sb - s0 - m) * nq);
                       }
                       RunningMoments rm;
                       if (accumulate && m == 1) {
                         rm = {1.0 / (static_cast<double>(s0 - sa) + 1.0), tmean + q0, tm2 + q0};
                         merged = true;
                       }
                       rebar_quadratic_bernoulli(n_ev, E, obj.target, obj.target_row_stride, B.row.data(), P.eta_scalar,
                                                 B.hard.data(), B.score.data(), B.sz.data(), B.jz.data(), B.szt.data(),
                                                 B.jzt.data(), gout, rm);
                       fused = true;
                     }
                   }
                   if (!fused) {
                     objectives::Chunk ch{n_ev, E, B.row.data(), B.sample.data(), R};
                     using objectives::Point;
                     if (need_value_hard) obj.value(Point::Hard, ch, B.hard.data(), B.fb.data());
                     if (need_tilde) {
                       obj.value(Point::RelaxedTilde, ch, B.szt.data(), B.fzt.data());
                       obj.grad(Point::RelaxedTilde, ch, B.szt.data(), B.gzt.data());
                       chain(P, B, n_ev, true, B.gzt.data(), B.pzt.data());
                     }
                     if (need_relaxed_grad) {
                       obj.grad(Point::Relaxed, ch, B.sz.data(), B.gz.data());
                       chain(P, B, n_ev, false, B.gz.data(), B.pz.data());
                     }
                     if (P.mode == StraightThrough) {
                       obj.grad(Point::Hard, ch, B.hard.data(), B.gz.data());
                       chain(P, B, n_ev, false, B.gz.data(), B.pz.data());
                     }
                     if (!stats && !P.eta && !P.baseline) {
                       // the common case: one eta, no baseline
                       const double eta = P.eta_scalar;
                       double *w = B.wev.data(), *cz = B.cz.data(), *czt = B.czt.data();
                       const double *fb = B.fb.data(), *fzt = B.fzt.data();
                       if (P.mode == Rebar) {
#pragma omp simd
                         for (std::size_t ev = 0; ev < n_ev; ++ev)
                           w[ev] = fb[ev] - eta * fzt[ev], cz[ev] = eta, czt[ev] = eta;
                       } else if (P.mode == Reinforce) {
#pragma omp simd
                         for (std::size_t ev = 0; ev < n_ev; ++ev) w[ev] = fb[ev], cz[ev] = 0.0, czt[ev] = 0.0;
                       } else {
#pragma omp simd
                         for (std::size_t ev = 0; ev < n_ev; ++ev) w[ev] = 0.0, cz[ev] = 1.0, czt[ev] = 0.0;
                       }
                     } else
                       for (std::size_t ev = 0; ev < n_ev; ++ev) {
                         const std::size_t s = B.sample[ev];
                         const std::size_t idx = s * R + B.row[ev];
                         const double eta = P.eta ? P.eta[s] : P.eta_scalar;
                         const double base = P.baseline ? P.baseline[idx] : 0.0;
                         switch (P.mode) {
                           case Rebar:
                             B.wev[ev] = B.fb[ev] - eta * B.fzt[ev] - base, B.cz[ev] = eta, B.czt[ev] = eta;
                             break;
                           case Reinforce:
                             B.wev[ev] = B.fb[ev] - base, B.cz[ev] = 0.0, B.czt[ev] = 0.0;
                             break;
                           default:
                             B.wev[ev] = 0.0, B.cz[ev] = 1.0, B.czt[ev] = 0.0;
                             break;
                         }
                         if (stats && P.mode == Reinforce) {
                           P.stat_fb[idx] = B.fb[ev];
                           P.stat_fzt[idx] = P.stat_ab[idx] = P.stat_bb[idx] = 0.0;
                         } else if (stats) {
                           double ab = 0.0, bb = 0.0;
                           for (std::size_t e = 0; e < E; ++e) {
                             const std::size_t j = ev * E + e;
                             const double A = B.fb[ev] * B.score[j];
                             const double Bv = -B.fzt[ev] * B.score[j] + B.pz[j] - B.pzt[j];
                             ab += A * Bv;
                             bb += Bv * Bv;
                           }
                           P.stat_fb[idx] = B.fb[ev];
                           P.stat_fzt[idx] = B.fzt[ev];
                           P.stat_ab[idx] = ab;
                           P.stat_bb[idx] = bb;
                         }
                       }
                     if (!accumulate && !P.samples) return;
                     const bool use_pz = P.mode != Reinforce, use_pzt = P.mode == Rebar;
                     if (E == 1) {
                       double* g = B.g.data();
                       const double *w = B.wev.data(), *cz = B.cz.data(), *czt = B.czt.data(), *sc = B.score.data();
                       const double *pz = B.pz.data(), *pzt = B.pzt.data();
                       if (use_pzt) {
#pragma omp simd
                         for (std::size_t j = 0; j < n_ev; ++j) g[j] = w[j] * sc[j] + cz[j] * pz[j] - czt[j] * pzt[j];
                       } else if (use_pz) {
#pragma omp simd
                         for (std::size_t j = 0; j < n_ev; ++j) g[j] = cz[j] * pz[j];
                       } else {
#pragma omp simd
                         for (std::size_t j = 0; j < n_ev; ++j) g[j] = w[j] * sc[j];
                       }
                     } else {
                       combine_events(n_ev, E, use_pz, use_pzt, B.wev.data(), B.cz.data(), B.czt.data(), B.score.data(),
                                      B.pz.data(), B.pzt.data(), B.g.data());
                     }
                   }
                   if (P.samples && gout == B.g.data()) {
                     // the chunk's m samples of rows [i0, i1) are m contiguous blocks of the output
                     for (std::size_t c = 0; c < m; ++c)
                       std::copy(B.g.begin() + c * nq, B.g.begin() + (c + 1) * nq, P.samples + ((s0 + c) * R + i0) * E);
                   }
                   if (!accumulate || merged) return;
                   // Merge this chunk's m samples of rows [i0, i1) into the tile accumulators.
                   const double n_a = static_cast<double>(s0 - sa);
                   merge_chunk(m, nq, width, n_a, gout, cmean.data(), cm2.data(), tmean + q0, tm2 + q0);
                 });
      if (accumulate) {
        std::copy(lmean.begin(), lmean.end(), tile_mean.begin() + t * tile_coords);
        std::copy(lm2.begin(), lm2.end(), tile_m2.begin() + t * tile_coords);
      }
    }
  });
  if (!accumulate) return;
  // Merge the sample blocks of every row block in order.
  parallel::for_blocks(W.n_rb, 1, threads, 64, [&](std::size_t b0, std::size_t b1) {
    for (std::size_t rbi = W.rb0 + b0; rbi < W.rb0 + b1; ++rbi)
      merge_row_block(T, W, rbi, S, E, tile_coords, tile_mean.data(), tile_m2.data(), P.mean, P.m2);
  });
}

}  // namespace mixgrad::rebar
