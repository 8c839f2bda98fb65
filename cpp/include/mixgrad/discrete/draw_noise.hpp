// draw_noise(): the noise and its transforms for every sample, without an objective.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "mixgrad/discrete/buffers.hpp"
#include "mixgrad/discrete/constants.hpp"
#include "mixgrad/discrete/draw.hpp"
#include "mixgrad/discrete/problem.hpp"
#include "mixgrad/discrete/tiling.hpp"
#include "mixgrad/parallel.hpp"

namespace mixgrad::rebar {

// Noise only: z, b, z~, dz~/dalpha (categorical: w), sigma(z/lam), sigma(z~/lam) per sample.
// A window of rows draws its pieces of the whole call's chunks (the same kernels).
inline void draw_noise(const Problem& P) {
  check_problem(P);
  const std::size_t R = P.R, E = P.E, Rw = rows_whole(P), r0 = P.r0;
  const Constants C = make_constants(P);
  const std::size_t per_block = std::max<std::size_t>(1, 4096 / (Rw * E));
  const int threads = static_cast<double>(P.S) * static_cast<double>(R * E) < 16384.0 ? 1 : P.nthreads;
  parallel::for_blocks(static_cast<std::size_t>(P.S), per_block, threads, 2, [&](std::size_t sa, std::size_t sb) {
    const TileScratchLease lease(E <= kChunkCoords);
    Buffers& B = lease.get().B;
    B.reserve(std::max(kChunkCoords, E), std::max(kChunkCoords, E));
    for_chunks(sa, sb, 0, Rw, E, r0, r0 + R,
               [&](std::size_t s0, std::size_t m, std::size_t gi0, std::size_t gi1, std::size_t width) {
                 const std::size_t i0 = gi0 - r0, i1 = gi1 - r0;  // the window's rows
                 const std::size_t nr = i1 - i0, n_ev = m * nr;
                 for (std::size_t c = 0; c < m; ++c)
                   for (std::size_t i = i0; i < i1; ++i) {
                     B.row[c * nr + (i - i0)] = static_cast<std::uint32_t>(i);
                     B.sample[c * nr + (i - i0)] = s0 + c;
                   }
                 draw_chunk(P, C, B, n_ev, true, s0, m, i0, i1, width, true);
                 const std::vector<double>& dz = P.kind == Categorical ? B.w : B.dzt;
                 for (std::size_t c = 0; c < m; ++c) {
                   const std::size_t off = ((s0 + c) * R + i0) * E, nq = nr * E, src = c * nq;
                   auto put = [&](const std::vector<double>& from, double* to) {
                     if (to) std::copy(from.begin() + src, from.begin() + src + nq, to + off);
                   };
                   put(B.z, P.out_z);
                   put(B.hard, P.out_hard);
                   put(B.zt, P.out_zt);
                   put(dz, P.out_dzt);
                   put(B.sz, P.out_sz);
                   put(B.szt, P.out_szt);
                 }
               });
  });
}

}  // namespace mixgrad::rebar
