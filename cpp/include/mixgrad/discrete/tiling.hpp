// The fixed tiling of the (sample, row) plane and the chunks of a tile: fixed by S, R and E,
// never by the thread count, so that reductions are deterministic.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "mixgrad/discrete/moments.hpp"

namespace mixgrad::rebar {

// Fixed tiling of the (sample, row) plane: depends on S, R, E only, never on the thread count.
struct Tiling {
  std::size_t rows_per_tile, n_rb, samples_per_tile, n_sb;
  std::size_t n_tiles() const { return n_rb * n_sb; }
};

inline Tiling make_tiling(std::uint64_t S, std::size_t R, std::size_t E) {
  constexpr std::size_t kTileCoords = 8192;
  Tiling t;
  t.rows_per_tile = std::min<std::size_t>(R, std::max<std::size_t>(1, (kTileCoords + E - 1) / E));
  t.n_rb = (R + t.rows_per_tile - 1) / t.rows_per_tile;
  std::size_t n_sb = t.n_rb >= 32 ? 1 : (64 + t.n_rb - 1) / t.n_rb;
  n_sb = std::max<std::size_t>(1, std::min<std::size_t>(n_sb, static_cast<std::size_t>(S)));
  t.samples_per_tile = static_cast<std::size_t>((S + n_sb - 1) / n_sb);
  t.n_sb = static_cast<std::size_t>((S + t.samples_per_tile - 1) / t.samples_per_tile);
  return t;
}

// The rows [r0, r1) of a call on R rows (a window of it) and the row blocks of the whole call's
// tiling that hold them: tiles over the window are numbered t = sbi * n_rb + (rbi - rb0).
struct TileWindow {
  std::size_t R, r0, r1, rb0, n_rb;
};

inline TileWindow tile_window(const Tiling& T, std::size_t R, std::size_t r0, std::size_t r1) {
  const std::size_t rb0 = r0 / T.rows_per_tile, rb1 = (r1 - 1) / T.rows_per_tile + 1;
  return {R, r0, r1, rb0, rb1 - rb0};
}

// Merges the per-tile means/M2 of row block rbi (of the window W) over its sample blocks, in
// order (the fixed reduction order that makes the estimates identical for any thread count), into
// mean/m2 at the window's rows (m2 may be null).
inline void merge_row_block(const Tiling& T, const TileWindow& W, std::size_t rbi, std::uint64_t S, std::size_t E,
                            std::size_t tile_coords, const double* tile_mean, const double* tile_m2, double* mean,
                            double* m2) {
  const std::size_t ra = rbi * T.rows_per_tile, rb = std::min(W.R, ra + T.rows_per_tile);
  const std::size_t ia = std::max(ra, W.r0), ib = std::min(rb, W.r1);
  const std::size_t qa = (ia - ra) * E, qb = (ib - ra) * E;
  for (std::size_t q = qa; q < qb; ++q) {
    double n = 0.0, mu = 0.0, ss = 0.0;
    for (std::size_t sbi = 0; sbi < T.n_sb; ++sbi) {
      const std::size_t sa = sbi * T.samples_per_tile, sb = std::min<std::size_t>(S, sa + T.samples_per_tile);
      const std::size_t t = sbi * W.n_rb + (rbi - W.rb0);
      chan_merge(n, mu, ss, static_cast<double>(sb - sa), tile_mean[t * tile_coords + q], tile_m2[t * tile_coords + q]);
    }
    const std::size_t out = (ia - W.r0) * E + (q - qa);
    mean[out] = mu;
    if (m2) m2[out] = ss;
  }
}

// The whole call's row block rbi, merged as above (no window).
inline void merge_row_block(const Tiling& T, std::size_t rbi, std::uint64_t S, std::size_t R, std::size_t E,
                            std::size_t tile_coords, const double* tile_mean, const double* tile_m2, double* mean,
                            double* m2) {
  merge_row_block(T, TileWindow{R, 0, R, 0, T.n_rb}, rbi, S, E, tile_coords, tile_mean, tile_m2, mean, m2);
}

constexpr std::size_t kChunkCoords = 256;

// Calls body(s0, m, i0, i1, width) for the chunks of one tile (rows [ra, rb)) in a fixed order,
// keeping the rows in [w0, w1) only: m samples from s0 of rows [i0, i1), cut from a chunk of the
// tile `width` coordinates wide; either m = 1 (a sample's rows split into pieces) or all the
// tile's rows. The chunks depend on the tile alone, so a window of rows gets its rows' pieces of
// the whole call's chunks (the width, with m, picks the noise kernel and the order of the sums).
template <class Body>
void for_chunks(std::size_t sa, std::size_t sb, std::size_t ra, std::size_t rb, std::size_t E, std::size_t w0,
                std::size_t w1, Body&& body) {
  const std::size_t coords = (rb - ra) * E;
  const std::size_t ia = std::max(ra, w0), ib = std::min(rb, w1);
  if (ia >= ib) return;
  if (coords >= kChunkCoords) {
    const std::size_t rc = std::max<std::size_t>(1, kChunkCoords / E);
    const std::size_t first = ra + (ia - ra) / rc * rc;
    for (std::size_t s = sa; s < sb; ++s)
      for (std::size_t i0 = first; i0 < ib; i0 += rc) {
        const std::size_t i1 = std::min(rb, i0 + rc);
        body(s, std::size_t(1), std::max(i0, ia), std::min(i1, ib), (i1 - i0) * E);
      }
  } else {
    const std::size_t mmax = std::max<std::size_t>(1, kChunkCoords / coords);
    for (std::size_t s0 = sa; s0 < sb; s0 += mmax) body(s0, std::min(mmax, sb - s0), ia, ib, coords);
  }
}

// All the tile's rows: body(s0, m, i0, i1).
template <class Body>
void for_chunks(std::size_t sa, std::size_t sb, std::size_t ra, std::size_t rb, std::size_t E, Body&& body) {
  for_chunks(sa, sb, ra, rb, E, ra, rb,
             [&](std::size_t s0, std::size_t m, std::size_t i0, std::size_t i1, std::size_t) { body(s0, m, i0, i1); });
}

}  // namespace mixgrad::rebar
