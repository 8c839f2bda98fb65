// Standard normals for sampling, a unit of rows at a time: counter (i, 1 + j) of row i gives
// eps_j (low 64 bits) and eps_{P+j} (high 64 bits), P = ceil(D/2); vectorized Philox and AS241.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "mixgrad/config.hpp"
#include "mixgrad/discrete/philox_words.hpp"
#include "mixgrad/elementary.hpp"
#include "mixgrad/flagged.hpp"
#include "mixgrad/mixture/lanes.hpp"
#include "mixgrad/philox.hpp"
#include "mixgrad/special.hpp"

namespace mixgrad::mixture {

// Standard normals of rows rows[0 .. count) (count <= L) into eps[r * W + c], W = 2*ceil(D/2)
// (the last of a row unused when D is odd): counter (i, 1 + j) of row i gives c = j from its low
// and c = P + j from its high 64 bits, P = ceil(D/2). The counters of all rows go through one
// vectorized loop, so that rows with few coordinates still fill the vector registers.
MIXGRAD_SIMD_KERNEL void normals_rows_kernel(philox::Key key, const std::size_t* rows, std::size_t count, std::size_t D,
                                             double* eps, double* work, std::uint32_t* iwork) {
  const std::size_t P = (D + 1) / 2, W = 2 * P, n = count * P;
  double* e0 = work;
  double* e1 = work + n;
  std::uint32_t* ctr = iwork;  // [3][n]: lo, hi, draw
  for (std::size_t r = 0; r < count; ++r)
    for (std::size_t j = 0; j < P; ++j) {
      ctr[r * P + j] = static_cast<std::uint32_t>(rows[r]);
      ctr[n + r * P + j] = static_cast<std::uint32_t>(rows[r] >> 32);
      ctr[2 * n + r * P + j] = static_cast<std::uint32_t>(1 + j);
    }
  // As philox::bits_to_normal: sign bit and a probability p in (0, 1/2); the central region of
  // the quantile (|p - 1/2| <= 0.425, 85% of the draws) for all, the tail formula (a log and a
  // square root) afterwards for the draws that need it only.
  double* sp = work + 2 * n;  // signed p, [2n]: e0's then e1's
  const rebar::VecKey vk = rebar::vec_key(key);
#pragma omp simd
  for (std::size_t c = 0; c < n; ++c) {
    std::uint64_t w0, w1;
    rebar::philox_words(vk, ctr[c], ctr[n + c], ctr[2 * n + c], 0u, w0, w1);
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
  std::uint32_t* idx = iwork + 3 * n;
  std::size_t m = 0;
  for_each_flagged(
      2 * n, [&](std::size_t c) { return std::fabs(std::fabs(sp[c]) - 0.5) > 0.425; },
      [&](std::size_t c) {
        idx[m] = static_cast<std::uint32_t>(c);
        tp[m] = std::fabs(sp[c]);
        ++m;
      });
#pragma omp simd
  for (std::size_t c = 0; c < m; ++c) tp[c] = special::detail::as241_tail(std::sqrt(-elem::log(tp[c])));
  for (std::size_t c = 0; c < m; ++c) {  // -tp for p > 0 (the lower tail), tp for p < 0; e1 follows e0
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

// Buffers of normals_rows for up to L rows of D coordinates.
struct NormalsBuffer {
  std::vector<double> eps, work;
  std::vector<std::uint32_t> iwork;
  void reserve_for(std::size_t D) {
    const std::size_t n = L * ((D + 1) / 2);  // counters
    if (eps.size() < 2 * n) {
      eps.assign(2 * n, 0.0);
      work.assign(6 * n, 0.0);
      iwork.assign(5 * n, 0u);
    }
  }
  void draw(philox::Key key, const std::size_t* rows, std::size_t count, std::size_t D) {
    normals_rows(key, rows, count, D, eps.data(), work.data(), iwork.data());
  }
};

}  // namespace mixgrad::mixture
