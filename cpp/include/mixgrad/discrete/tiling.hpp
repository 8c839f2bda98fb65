// The fixed tiling of the (sample, row) plane and the chunks of a tile: fixed by S, R and E,
// never by the thread count, so that reductions are deterministic.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

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
