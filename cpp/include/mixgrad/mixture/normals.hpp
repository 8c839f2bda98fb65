// Standard normals for sampling, a unit of rows at a time: counter (i, 1 + j) of row i gives
// eps_j (low 64 bits) and eps_{P+j} (high 64 bits), P = ceil(D/2), and counter (i, 0) the
// uniform that picks its component; Philox by SIMD fills and AS241.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "mixgrad/aligned_vector.hpp"
#include "mixgrad/config.hpp"
#include "mixgrad/discrete/philox_fill.hpp"
#include "mixgrad/elementary.hpp"
#include "mixgrad/flagged.hpp"
#include "mixgrad/mixture/lanes.hpp"
#include "mixgrad/philox.hpp"
#include "mixgrad/special.hpp"

namespace mixgrad::mixture {

// Standard normals of rows rows[0 .. count) (count <= L) into eps[r * W + c], W = 2*ceil(D/2)
// (the last of a row unused when D is odd): counter (i, 1 + j) of row i gives c = j from its low
// and c = P + j from its high 64 bits, P = ceil(D/2); and into pick[r] the open uniform of
// counter (i, 0), which chooses the row's component. All counters of the rows go through one
// Philox fill (philox_fill: 8 blocks per AVX2 register), so rows with few coordinates still fill
// the vector registers. ctr: 3 arrays of philox_padded(count * (P + 1)) counter words; words: 4
// arrays of as many output words; work: 6 * count * P doubles; idx: 2 * count * P entries.
MIXGRAD_SIMD_KERNEL void normals_rows_kernel(philox::Key key, const std::size_t* rows, std::size_t count, std::size_t D,
                                             double* eps, double* pick, std::uint32_t* ctr, std::uint32_t* words,
                                             double* work, std::uint32_t* idx) {
  const std::size_t P = (D + 1) / 2, W = 2 * P, n = count * P, nb = n + count, m = rebar::philox_padded(nb);
  // Blocks [0, n): (row r, draw 1 + j) at r * P + j; blocks [n, n + count): (row r, draw 0).
  std::uint32_t* c0 = ctr;
  std::uint32_t* c1 = ctr + m;
  std::uint32_t* c2 = ctr + 2 * m;
  for (std::size_t r = 0; r < count; ++r) {  // two loops, the normals' one without selects (it vectorizes)
    const auto lo = static_cast<std::uint32_t>(rows[r]), hi = static_cast<std::uint32_t>(rows[r] >> 32);
#pragma omp simd
    for (std::size_t j = 0; j < P; ++j) {
      c0[r * P + j] = lo;
      c1[r * P + j] = hi;
      c2[r * P + j] = static_cast<std::uint32_t>(1 + j);
    }
    c0[n + r] = lo;
    c1[n + r] = hi;
    c2[n + r] = 0u;
  }
  for (std::size_t b = nb; b < m; ++b) c0[b] = c1[b] = c2[b] = 0u;  // read by the fill, never used
  rebar::PhiloxOut po;
  for (int j = 0; j < 4; ++j) po.word[j] = words + j * m;
  rebar::philox_fill(key, nb, rebar::PhiloxCounters{c0, c1, c2, 0u}, po);
  const std::uint32_t* o0 = words;
  const std::uint32_t* o1 = words + m;
  const std::uint32_t* o2 = words + 2 * m;
  const std::uint32_t* o3 = words + 3 * m;
  for (std::size_t r = 0; r < count; ++r)
    pick[r] = philox::bits_to_open_uniform(rebar::philox_join(o0[n + r], o1[n + r]));
  double* e0 = work;
  double* e1 = work + n;
  // As philox::bits_to_normal: sign bit and a probability p in (0, 1/2); the central region of
  // the quantile (|p - 1/2| <= 0.425, 85% of the draws) for all, the tail formula (a log and a
  // square root) afterwards for the draws that need it only.
  double* sp = work + 2 * n;  // signed p, [2n]: e0's then e1's
#pragma omp simd
  for (std::size_t c = 0; c < n; ++c) {
    const std::uint64_t w0 = rebar::philox_join(o0[c], o1[c]), w1 = rebar::philox_join(o2[c], o3[c]);
    const double p0 = (elem::from_bits(((w0 << 1) >> 12) | 0x3ff0000000000000ULL) - 1.0) * 0.5 + 0x1p-54;
    const double p1 = (elem::from_bits(((w1 << 1) >> 12) | 0x3ff0000000000000ULL) - 1.0) * 0.5 + 0x1p-54;
    const double z0 = special::detail::as241_central(p0 - 0.5);
    const double z1 = special::detail::as241_central(p1 - 0.5);
    // The sign bit of the word flips the signs by xor (selects on it became masked stores).
    const std::uint64_t s0 = w0 & elem::kSignBit, s1 = w1 & elem::kSignBit;
    e0[c] = elem::from_bits(elem::bits_of(z0) ^ s0);
    e1[c] = elem::from_bits(elem::bits_of(z1) ^ s1);
    sp[c] = elem::from_bits(elem::bits_of(p0) ^ s0);
    sp[n + c] = elem::from_bits(elem::bits_of(p1) ^ s1);
  }
  double* tp = sp + 2 * n;
  std::size_t t = 0;
  for_each_flagged(
      2 * n, [&](std::size_t c) { return std::fabs(std::fabs(sp[c]) - 0.5) > 0.425; },
      [&](std::size_t c) {
        idx[t] = static_cast<std::uint32_t>(c);
        tp[t] = std::fabs(sp[c]);
        ++t;
      });
#pragma omp simd
  for (std::size_t c = 0; c < t; ++c) tp[c] = special::detail::as241_tail(std::sqrt(-elem::log(tp[c])));
  for (std::size_t c = 0; c < t; ++c) {  // -tp for p > 0 (the lower tail), tp for p < 0; e1 follows e0
    const std::uint64_t flip = ~elem::bits_of(sp[idx[c]]) & elem::kSignBit;
    e0[idx[c]] = elem::from_bits(elem::bits_of(tp[c]) ^ flip);
  }
  for (std::size_t r = 0; r < count; ++r)
    for (std::size_t j = 0; j < P; ++j) {
      eps[r * W + j] = e0[r * P + j];
      eps[r * W + P + j] = e1[r * P + j];
    }
}
MIXGRAD_SIMD_DISPATCH(normals_rows)

// Buffers of normals_rows for up to L rows of D coordinates: the normals (eps) and the uniforms
// that pick the rows' components (pick) after draw().
struct NormalsBuffer {
  aligned_vector<double> eps, work;
  double pick[L] = {};
  aligned_vector<std::uint32_t> ctr, words, idx;
  void reserve_for(std::size_t D) {
    const std::size_t n = L * ((D + 1) / 2);  // counters of the normals
    const std::size_t m = rebar::philox_padded(n + L);
    if (eps.size() < 2 * n || ctr.size() < 3 * m) {
      eps.assign(2 * n, 0.0);
      work.assign(6 * n, 0.0);
      ctr.assign(3 * m, 0u);
      words.assign(4 * m, 0u);
      idx.assign(2 * n, 0u);
    }
  }
  void draw(philox::Key key, const std::size_t* rows, std::size_t count, std::size_t D) {
    normals_rows(key, rows, count, D, eps.data(), pick, ctr.data(), words.data(), work.data(), idx.data());
  }
};

}  // namespace mixgrad::mixture
