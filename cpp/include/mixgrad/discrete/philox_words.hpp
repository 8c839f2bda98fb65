// Philox4x32-10 on four scalar words, written so that loops over counters vectorize.
#pragma once

#include <cstdint>

#include "mixgrad/config.hpp"
#include "mixgrad/philox.hpp"

namespace mixgrad::rebar {

// A Philox key with the two round multipliers. vec_key hides the multipliers' values from the
// compiler: with them as constants, GCC expands each 64-bit lane product into shift/add chains
// (AVX2 has no 64-bit vector multiply), about a third slower in the vectorized noise loops than
// the vpmuludq sequence it emits for unknown factors. Make one outside the loop.
struct VecKey {
  philox::Key key;
  std::uint64_t m0, m1;
};

inline constexpr std::uint64_t kPhiloxM0 = 0xD2511F53u, kPhiloxM1 = 0xCD9E8D57u;

MIXGRAD_INLINE VecKey vec_key(philox::Key key) {
  std::uint64_t m0 = kPhiloxM0, m1 = kPhiloxM1;
#if defined(__GNUC__)
  __asm__("" : "+r"(m0), "+r"(m1));  // an empty asm: the values are unknown to the optimizer
#endif
  return {key, m0, m1};
}

// Philox4x32-10 on four scalar words (the same function as philox::philox4x32_10; written on
// scalars so that loops calling it vectorize): returns the output as two 64-bit words.
MIXGRAD_INLINE void philox_words(const VecKey& vk, std::uint32_t w0, std::uint32_t w1, std::uint32_t w2,
                                 std::uint32_t w3, std::uint64_t& lo, std::uint64_t& hi) {
  // Every word lives in the low half of a 64-bit integer, so a vectorized loop keeps one lane
  // type (the 32 x 32 -> 64 multiply maps to vpmuludq) and needs no shuffles.
  constexpr std::uint64_t L = 0xFFFFFFFFu;
  constexpr std::uint64_t W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
  std::uint64_t c0 = w0, c1 = w1, c2 = w2, c3 = w3;
  std::uint64_t k0 = vk.key.k0, k1 = vk.key.k1;
  for (int round = 0; round < 10; ++round) {
    const std::uint64_t p0 = vk.m0 * c0;
    const std::uint64_t p1 = vk.m1 * c2;
    const std::uint64_t n0 = (p1 >> 32) ^ c1 ^ k0;
    const std::uint64_t n2 = (p0 >> 32) ^ c3 ^ k1;
    c0 = n0;
    c1 = p1 & L;
    c2 = n2;
    c3 = p0 & L;
    k0 = (k0 + W0) & L;
    k1 = (k1 + W1) & L;
  }
  lo = (c1 << 32) | c0;
  hi = (c3 << 32) | c2;
}

// The same with the multipliers as constants.
MIXGRAD_INLINE void philox_words(philox::Key key, std::uint32_t w0, std::uint32_t w1, std::uint32_t w2,
                                 std::uint32_t w3, std::uint64_t& lo, std::uint64_t& hi) {
  philox_words(VecKey{key, kPhiloxM0, kPhiloxM1}, w0, w1, w2, w3, lo, hi);
}

}  // namespace mixgrad::rebar
