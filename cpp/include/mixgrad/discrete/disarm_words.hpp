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
#include "mixgrad/discrete/philox_fill.hpp"
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
inline void disarm_words(std::size_t n, std::uint32_t a0, std::uint32_t other, bool along_s, philox::Key key,
                         std::uint32_t stream, std::uint32_t* w) {
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
  philox_fill(key, nb, PhiloxRun{b0, other, 0u, stream, along_s}, w + k);
  k += 4 * nb;
  for (; k < n; ++k) w[k] = word(a0 + static_cast<std::uint32_t>(k));
}

// The words of m samples' coordinates: w[c * n + k] = the word at coordinate a0 + k of sample
// other0 + c (the paired axis along the coordinates). Where every sample's words are whole blocks,
// one Philox fill draws them all, so that a sample's last blocks share a SIMD set with the next
// sample's first ones.
inline void disarm_words_samples(std::size_t m, std::size_t n, std::uint32_t a0, std::uint32_t other0, philox::Key key,
                                 std::uint32_t stream, std::uint32_t* w) {
  if (a0 % 4 == 0 && n % 4 == 0 && n > 0) {
    philox_fill(key, m * (n / 4), PhiloxGrid{other0, a0 / 4, static_cast<std::uint32_t>(n / 4), 0u, stream}, w);
    return;
  }
  for (std::size_t c = 0; c < m; ++c)
    disarm_words(n, a0, other0 + static_cast<std::uint32_t>(c), false, key, stream, w + c * n);
}

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

// The word w - 2^31 as a double (exact).
MIXGRAD_INLINE double disarm_word_value(std::uint32_t w) {
  return static_cast<double>(static_cast<std::int32_t>(w ^ 0x80000000u));
}

// b0[k], b1[k] (0.0 or 1.0) from the words w[k]; nonzero when some word ties a threshold's top
// bits (disarm_settle decides those). The flag is an OR over 64-bit lanes, which vectorizes.
MIXGRAD_SIMD_KERNEL std::uint64_t disarm_decide_kernel(std::size_t n, const std::uint32_t* w, const double* x0,
                                                       const double* x1, std::size_t ts, double* b0, double* b1) {
  std::uint64_t any = 0;
  if (ts == 0) {  // one coordinate: the thresholds are scalars
    const double t0 = x0[0], t1 = x1[0];
#pragma omp simd reduction(| : any)
    for (std::size_t k = 0; k < n; ++k) {
      const double v = disarm_word_value(w[k]);
      b0[k] = v < t0 ? 1.0 : 0.0;
      b1[k] = v > t1 ? 1.0 : 0.0;
      any |= static_cast<std::uint64_t>((v == t0) | (v == t1));
    }
    return any;
  }
#pragma omp simd reduction(| : any)
  for (std::size_t k = 0; k < n; ++k) {
    const double v = disarm_word_value(w[k]);
    b0[k] = v < x0[k] ? 1.0 : 0.0;
    b1[k] = v > x1[k] ? 1.0 : 0.0;
    any |= static_cast<std::uint64_t>((v == x0[k]) | (v == x1[k]));
  }
  return any;
}
MIXGRAD_SIMD_DISPATCH(disarm_decide)

// The exact pair of word k (index a0 + k of the paired axis) when its top bits tie a threshold:
// the low 20 bits y come from block (i, other, 2, stream) or (other, i, 2, stream). False when
// the word ties neither threshold (its pair is already decided).
inline bool disarm_settle_one(std::size_t k, std::uint32_t a0, std::uint32_t other, bool along_s, philox::Key key,
                              std::uint32_t stream, std::uint32_t w, const DisarmThreshold& t, double& b0, double& b1) {
  if (w != t.x0 && w != t.x1) return false;
  const std::uint32_t i = a0 + static_cast<std::uint32_t>(k);
  std::uint64_t lo, hi;
  philox_words(key, along_s ? i : other, along_s ? other : i, 2u, stream, lo, hi);
  const std::uint32_t y = static_cast<std::uint32_t>(lo & ((1u << 20) - 1u));
  b0 = (w < t.x0 || (w == t.x0 && y < t.y0)) ? 1.0 : 0.0;
  b1 = (w > t.x1 || (w == t.x1 && y >= t.y1)) ? 1.0 : 0.0;
  return true;
}

// The pairs at indices a0 .. a0 + n of the paired axis into b0[0, n), b1[0, n); w (n words) is
// scratch.
inline void disarm_pairs(std::size_t n, std::uint32_t a0, std::uint32_t other, bool along_s, philox::Key key,
                         std::uint32_t stream, const DisarmThresholds& d, std::uint32_t* w, double* b0, double* b1) {
  disarm_words(n, a0, other, along_s, key, stream, w);
  if (disarm_decide(n, w, d.x0, d.x1, d.ts, b0, b1) == 0) return;
  for (std::size_t k = 0; k < n; ++k)
    disarm_settle_one(k, a0, other, along_s, key, stream, w[k], d.full[k * d.ts], b0[k], b1[k]);
}

}  // namespace mixgrad::rebar
