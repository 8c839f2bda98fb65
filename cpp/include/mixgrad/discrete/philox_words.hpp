// Philox4x32-10 on four scalar words, written so that loops over counters vectorize.
#pragma once

#include <cstdint>

#include "mixgrad/config.hpp"
#include "mixgrad/philox.hpp"

namespace mixgrad::rebar {

// Philox's two round multipliers.
struct PhiloxMultipliers {
  std::uint64_t m0 = 0xD2511F53u, m1 = 0xCD9E8D57u;
};

// The multipliers as values the optimizer cannot see: a vectorized loop then multiplies two
// registers (vpmuludq-based, ~25% faster on AVX2) instead of synthesizing the 64-bit multiply by
// a known constant from chains of shifts and adds (AVX2 has no vpmullq). Make them once, outside
// the loop.
MIXGRAD_INLINE PhiloxMultipliers opaque_philox_multipliers() {
  PhiloxMultipliers m;
#if defined(__GNUC__)
  asm("" : "+r"(m.m0), "+r"(m.m1));
#endif
  return m;
}

// Philox4x32-10 on four scalar words (the same function as philox::philox4x32_10; written on
// scalars so that loops calling it vectorize): returns the output as two 64-bit words. `mul`
// must hold Philox's multipliers (opaque_philox_multipliers() in vectorized loops).
MIXGRAD_INLINE void philox_words(philox::Key key, PhiloxMultipliers mul, std::uint32_t w0, std::uint32_t w1,
                                 std::uint32_t w2, std::uint32_t w3, std::uint64_t& lo, std::uint64_t& hi) {
  // Every word lives in the low half of a 64-bit integer, so a vectorized loop keeps one lane
  // type and needs no shuffles.
  const std::uint64_t M0 = mul.m0, M1 = mul.m1;
  constexpr std::uint64_t L = 0xFFFFFFFFu;
  constexpr std::uint64_t W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
  std::uint64_t c0 = w0, c1 = w1, c2 = w2, c3 = w3;
  std::uint64_t k0 = key.k0, k1 = key.k1;
  for (int round = 0; round < 10; ++round) {
    const std::uint64_t p0 = M0 * c0;
    const std::uint64_t p1 = M1 * c2;
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

MIXGRAD_INLINE void philox_words(philox::Key key, std::uint32_t w0, std::uint32_t w1, std::uint32_t w2,
                                 std::uint32_t w3, std::uint64_t& lo, std::uint64_t& hi) {
  philox_words(key, PhiloxMultipliers{}, w0, w1, w2, w3, lo, hi);
}

}  // namespace mixgrad::rebar
