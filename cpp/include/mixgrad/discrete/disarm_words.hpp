// Bernoulli DisARM's antithetic pair from 32 random bits (four pairs per Philox block).
//
// The pair is b = 1[u < theta], b~ = 1[1 - u < theta] with u = (k + 1/2) 2^-52, k uniform on
// 52 bits. In integers: b = 1[k < K], b~ = 1[k >= 2^52 - K], K = ceil(theta 2^52 - 1/2) (exact:
// theta 2^52 <= 2^52 has an ulp of at most 1/2). k = x 2^20 + y: the 32-bit word x decides both
// unless x equals the top 32 bits of K or of 2^52 - K (probability <= 2^-31); only then are the
// low 20 bits y drawn, from block (s, q, 2, stream). So u keeps its 52 bits of resolution (|alpha|
// up to ~36 is resolved as before) at half the Philox blocks per pair.
//
// Counters: x(s, q) is word (i & 3) of block (i >> 2) along the paired axis i (s when the whole
// call is one coordinate, other index 0; q otherwise, other index s), words 0..3 = the block's
// output words in order. Every value depends on (seed, s, q) only.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "mixgrad/config.hpp"
#include "mixgrad/discrete/philox_words.hpp"
#include "mixgrad/philox.hpp"

namespace mixgrad::rebar {

// The thresholds of one coordinate: b = 1[x < x0 or (x == x0 and y < y0)],
// b~ = 1[x > x1 or (x == x1 and y >= y1)].
struct DisarmThreshold {
  std::uint32_t x0, y0, x1, y1;
};

inline DisarmThreshold disarm_threshold(double theta) {
  constexpr double two52 = 0x1p52;
  const double t = std::ceil(theta * two52 - 0.5);  // K, exact
  const std::uint64_t K = t > 0.0 ? static_cast<std::uint64_t>(std::min(t, two52)) : 0u;
  const std::uint64_t T = (std::uint64_t{1} << 52) - K;
  constexpr std::uint64_t low = (1u << 20) - 1u, top = 0xFFFFFFFFu;
  DisarmThreshold d;
  // K = 2^52 (x0 would be 2^32): every k is below it; 2^52 - K likewise for b~ = 0
  if (K >> 52)
    d.x0 = top, d.y0 = 1u << 20;
  else
    d.x0 = static_cast<std::uint32_t>(K >> 20), d.y0 = static_cast<std::uint32_t>(K & low);
  if (T >> 52)
    d.x1 = top, d.y1 = 1u << 20;
  else
    d.x1 = static_cast<std::uint32_t>(T >> 20), d.y1 = static_cast<std::uint32_t>(T & low);
  return d;
}

// w[k], k < n: the word at index a0 + k of the paired axis, the other index `other`.
MIXGRAD_SIMD_KERNEL void disarm_words_kernel(std::size_t n, std::uint32_t a0, std::uint32_t other, bool along_s,
                                             philox::Key key, std::uint32_t stream, std::uint32_t* w) {
  auto word = [&](std::uint32_t i) {
    std::uint64_t lo, hi;
    const std::uint32_t blk = i >> 2;
    philox_words(key, along_s ? blk : other, along_s ? other : blk, 0u, stream, lo, hi);
    const std::uint64_t h = (i & 2u) ? hi : lo;
    return static_cast<std::uint32_t>((i & 1u) ? h >> 32 : h);
  };
  std::size_t k = 0;
  for (; k < n && ((a0 + k) & 3u); ++k) w[k] = word(a0 + static_cast<std::uint32_t>(k));
  const std::uint32_t b0 = (a0 + static_cast<std::uint32_t>(k)) >> 2;  // first block used whole
  const std::size_t nb = (n - k) / 4;
  std::uint32_t w0[64], w1[64], w2[64], w3[64];
  const VecKey vk = vec_key(key);
  for (std::size_t p0 = 0; p0 < nb; p0 += 64) {
    const std::size_t pn = std::min<std::size_t>(64, nb - p0);
    const std::uint32_t bb = b0 + static_cast<std::uint32_t>(p0);
    if (along_s) {
#pragma omp simd
      for (std::size_t p = 0; p < pn; ++p) {
        std::uint64_t lo, hi;
        philox_words(vk, bb + static_cast<std::uint32_t>(p), other, 0u, stream, lo, hi);
        w0[p] = static_cast<std::uint32_t>(lo), w1[p] = static_cast<std::uint32_t>(lo >> 32);
        w2[p] = static_cast<std::uint32_t>(hi), w3[p] = static_cast<std::uint32_t>(hi >> 32);
      }
    } else {
#pragma omp simd
      for (std::size_t p = 0; p < pn; ++p) {
        std::uint64_t lo, hi;
        philox_words(vk, other, bb + static_cast<std::uint32_t>(p), 0u, stream, lo, hi);
        w0[p] = static_cast<std::uint32_t>(lo), w1[p] = static_cast<std::uint32_t>(lo >> 32);
        w2[p] = static_cast<std::uint32_t>(hi), w3[p] = static_cast<std::uint32_t>(hi >> 32);
      }
    }
    std::uint32_t* v = w + k + 4 * p0;
    for (std::size_t p = 0; p < pn; ++p)
      v[4 * p] = w0[p], v[4 * p + 1] = w1[p], v[4 * p + 2] = w2[p], v[4 * p + 3] = w3[p];
  }
  k += 4 * nb;
  for (; k < n; ++k) w[k] = word(a0 + static_cast<std::uint32_t>(k));
}
MIXGRAD_SIMD_DISPATCH(disarm_words)

// The thresholds of a run of coordinates: x0 - 2^31, x1 - 2^31 as doubles (exact; compared with
// the words shifted likewise, which convert to double as signed 32-bit integers) for the
// vectorized decision, the full thresholds for the rare ties. Index k * ts (ts = 0: one
// coordinate).
struct DisarmThresholds {
  const double* x0;
  const double* x1;
  const DisarmThreshold* full;
  std::size_t ts;
};

// b0[k], b1[k] (0.0 or 1.0) from the words w[k]; tie[k] = 1.0 where a word ties a threshold's
// top bits (disarm_settle decides those).
MIXGRAD_SIMD_KERNEL void disarm_decide_kernel(std::size_t n, const std::uint32_t* w, const double* x0, const double* x1,
                                              std::size_t ts, double* b0, double* b1, double* tie) {
  if (ts == 0) {  // one coordinate: the thresholds are scalars
    const double t0 = x0[0], t1 = x1[0];
#pragma omp simd
    for (std::size_t k = 0; k < n; ++k) {
      const double v = static_cast<double>(static_cast<std::int32_t>(w[k] ^ 0x80000000u));  // w - 2^31
      b0[k] = v < t0 ? 1.0 : 0.0;
      b1[k] = v > t1 ? 1.0 : 0.0;
      tie[k] = static_cast<double>((v == t0) | (v == t1));
    }
    return;
  }
#pragma omp simd
  for (std::size_t k = 0; k < n; ++k) {
    const double v = static_cast<double>(static_cast<std::int32_t>(w[k] ^ 0x80000000u));  // w - 2^31
    b0[k] = v < x0[k] ? 1.0 : 0.0;
    b1[k] = v > x1[k] ? 1.0 : 0.0;
    tie[k] = static_cast<double>((v == x0[k]) | (v == x1[k]));
  }
}
MIXGRAD_SIMD_DISPATCH(disarm_decide)

// The rare words that tie a threshold's top bits: draw y (20 bits) and decide exactly.
inline void disarm_settle(std::size_t n, std::uint32_t a0, std::uint32_t other, bool along_s, philox::Key key,
                          std::uint32_t stream, const std::uint32_t* w, const DisarmThresholds& d, const double* tie,
                          double* b0, double* b1) {
  for (std::size_t k = 0; k < n; ++k) {
    if (tie[k] == 0.0) continue;
    const DisarmThreshold& t = d.full[k * d.ts];
    const std::uint32_t i = a0 + static_cast<std::uint32_t>(k);
    std::uint64_t lo, hi;
    philox_words(key, along_s ? i : other, along_s ? other : i, 2u, stream, lo, hi);
    const std::uint32_t y = static_cast<std::uint32_t>(lo & ((1u << 20) - 1u));
    b0[k] = (w[k] < t.x0 || (w[k] == t.x0 && y < t.y0)) ? 1.0 : 0.0;
    b1[k] = (w[k] > t.x1 || (w[k] == t.x1 && y >= t.y1)) ? 1.0 : 0.0;
  }
}

// The pairs at indices a0 .. a0 + n of the paired axis into b0[0, n), b1[0, n); w (n words) and
// tie (n) are scratch.
inline void disarm_pairs(std::size_t n, std::uint32_t a0, std::uint32_t other, bool along_s, philox::Key key,
                         std::uint32_t stream, const DisarmThresholds& d, std::uint32_t* w, double* tie, double* b0,
                         double* b1) {
  disarm_words(n, a0, other, along_s, key, stream, w);
  disarm_decide(n, w, d.x0, d.x1, d.ts, b0, b1, tie);
  double any = 0.0;
  for (std::size_t k = 0; k < n; ++k) any = std::max(any, tie[k]);
  if (any != 0.0) disarm_settle(n, a0, other, along_s, key, stream, w, d, tie, b0, b1);
}

}  // namespace mixgrad::rebar
