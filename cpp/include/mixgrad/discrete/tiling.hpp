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

// Merges the per-tile means/M2 of row block rbi over its sample blocks, in order (the fixed
// reduction order that makes the estimates identical for any thread count), into mean/m2 at the
// block's first coordinate (m2 may be null).
inline void merge_row_block(const Tiling& T, std::size_t rbi, std::uint64_t S, std::size_t R, std::size_t E,
                            std::size_t tile_coords, const double* tile_mean, const double* tile_m2, double* mean,
                            double* m2) {
  const std::size_t ra = rbi * T.rows_per_tile, rb = std::min(R, ra + T.rows_per_tile);
  const std::size_t nq = (rb - ra) * E;
  for (std::size_t q = 0; q < nq; ++q) {
    double n = 0.0, mu = 0.0, ss = 0.0;
    for (std::size_t sbi = 0; sbi < T.n_sb; ++sbi) {
      const std::size_t sa = sbi * T.samples_per_tile, sb = std::min<std::size_t>(S, sa + T.samples_per_tile);
      const std::size_t t = sbi * T.n_rb + rbi;
      chan_merge(n, mu, ss, static_cast<double>(sb - sa), tile_mean[t * tile_coords + q], tile_m2[t * tile_coords + q]);
    }
    mean[ra * E + q] = mu;
    if (m2) m2[ra * E + q] = ss;
  }
}

constexpr std::size_t kChunkCoords = 256;

// Calls body(s0, m, i0, i1) for the chunks of one tile in a fixed order: m samples from s0 of
// rows [i0, i1); either m = 1 (a sample's rows split into pieces) or all the tile's rows.
template <class Body>
void for_chunks(std::size_t sa, std::size_t sb, std::size_t ra, std::size_t rb, std::size_t E, Body&& body) {
  const std::size_t coords = (rb - ra) * E;
  if (coords >= kChunkCoords) {
    const std::size_t rc = std::max<std::size_t>(1, kChunkCoords / E);
    for (std::size_t s = sa; s < sb; ++s)
      for (std::size_t i0 = ra; i0 < rb; i0 += rc) body(s, std::size_t(1), i0, std::min(rb, i0 + rc));
  } else {
    const std::size_t mmax = std::max<std::size_t>(1, kChunkCoords / coords);
    for (std::size_t s0 = sa; s0 < sb; s0 += mmax) body(s0, std::min(mmax, sb - s0), ra, rb);
  }
}

}  // namespace mixgrad::rebar
