// Philox4x32-10 (Salmon et al., SC'11), a counter-based generator: the output for a counter is a
// pure function of (key, counter), so element i of any random array is the same whatever the
// thread count or the order of evaluation. Counter layout used throughout mixgrad:
//   word 0-1: the element (sample) index, word 2: the draw index within it, word 3: a stream tag.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>

#include "mixgrad/config.hpp"
#include "mixgrad/elementary.hpp"
#include "mixgrad/special.hpp"

namespace mixgrad::philox {

struct Key {
  std::uint32_t k0 = 0, k1 = 0;
};

using Block = std::array<std::uint32_t, 4>;

MIXGRAD_INLINE Block philox4x32_10(Block c, Key key) {
  constexpr std::uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u;
  constexpr std::uint32_t W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
  std::uint32_t k0 = key.k0, k1 = key.k1;
  for (int round = 0; round < 10; ++round) {
    const std::uint64_t p0 = static_cast<std::uint64_t>(M0) * c[0];
    const std::uint64_t p1 = static_cast<std::uint64_t>(M1) * c[2];
    const std::uint32_t hi0 = static_cast<std::uint32_t>(p0 >> 32), lo0 = static_cast<std::uint32_t>(p0);
    const std::uint32_t hi1 = static_cast<std::uint32_t>(p1 >> 32), lo1 = static_cast<std::uint32_t>(p1);
    c = Block{hi1 ^ c[1] ^ k0, lo1, hi0 ^ c[3] ^ k1, lo0};
    k0 += W0;
    k1 += W1;
  }
  return c;
}

// 64 random bits for draw `draw` of element `index` in stream `stream`.
MIXGRAD_INLINE std::uint64_t bits64(Key key, std::uint64_t index, std::uint32_t draw, std::uint32_t stream = 0) {
  const Block out = philox4x32_10(
      Block{static_cast<std::uint32_t>(index), static_cast<std::uint32_t>(index >> 32), draw, stream}, key);
  return (static_cast<std::uint64_t>(out[1]) << 32) | out[0];
}

// Uniform on the open interval (0, 1): k 2^-52 + 2^-53, k a 52-bit integer, so neither 0 nor 1
// can occur and the values are symmetric about 1/2.
MIXGRAD_INLINE double bits_to_open_uniform(std::uint64_t w) {
  const double one_two = elem::from_bits((w >> 12) | 0x3ff0000000000000ULL);  // [1, 2)
  return one_two - (1.0 - 0x1p-53);
}

// float32 uniform on the open interval (0, 1): (k + 1/2) 2^-23 with k the top 23 bits of w,
// exact in float32 (the ends are 2^-24 and 1 - 2^-24). Rounding bits_to_open_uniform(w) to
// float instead would give 1.0f for the top 2^-25 of the words. The value is that float64
// uniform with its low 29 bits dropped.
MIXGRAD_INLINE float bits_to_open_uniform_f32(std::uint64_t w) {
  const std::uint32_t b = static_cast<std::uint32_t>(w >> 41) | 0x3f800000u;  // [1, 2) in float
  float one_two;
  std::memcpy(&one_two, &b, sizeof one_two);
  return one_two - (1.0f - 0x1p-24f);
}

// Standard normal by inversion of the lower half: one bit picks the sign and 52 bits a
// probability in (0, 1/2), so both tails reach |z| ~ 8.5 symmetrically.
MIXGRAD_INLINE double bits_to_normal_probability(std::uint64_t w) {
  const double one_two = elem::from_bits(((w << 1) >> 12) | 0x3ff0000000000000ULL);  // [1, 2)
  return (one_two - 1.0) * 0.5 + 0x1p-54;
}

// The normal is ndtri(p) of that probability, negated when the top bit is set.
MIXGRAD_INLINE double bits_to_normal(std::uint64_t w) {
  const double z = special::ndtri(bits_to_normal_probability(w));
  return (w >> 63) ? -z : z;
}

MIXGRAD_INLINE double uniform(Key key, std::uint64_t index, std::uint32_t draw, std::uint32_t stream = 0) {
  return bits_to_open_uniform(bits64(key, index, draw, stream));
}

MIXGRAD_INLINE float uniform_f32(Key key, std::uint64_t index, std::uint32_t draw, std::uint32_t stream = 0) {
  return bits_to_open_uniform_f32(bits64(key, index, draw, stream));
}

MIXGRAD_INLINE double normal(Key key, std::uint64_t index, std::uint32_t draw, std::uint32_t stream = 0) {
  return bits_to_normal(bits64(key, index, draw, stream));
}

}  // namespace mixgrad::philox
