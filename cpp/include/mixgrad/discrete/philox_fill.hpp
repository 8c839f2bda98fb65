// Runs of Philox4x32-10 blocks written with SIMD intrinsics: eight blocks per AVX2 register, four
// per SSE2 register, each counter word in a 32-bit lane.
//
// The loops over philox_words (philox_words.hpp) vectorize with one block per 64-bit lane, and
// GCC then builds every 32 x 32 -> 64-bit product from three vpmuludq and shifts: it cannot see
// that the operands fit in 32 bits. Here the even and odd lanes are multiplied by one vpmuludq
// each and the halves put back with blends, about 4x fewer instructions per block. The output is
// the same function of (key, counter) as philox::philox4x32_10.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "mixgrad/config.hpp"
#include "mixgrad/philox.hpp"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define MIXGRAD_PHILOX_FILL_X86 1
#endif

namespace mixgrad::rebar {

// The counter of block p of a run: (b0 + p, other, w2, w3) (vary_first) or (other, b0 + p, w2, w3).
struct PhiloxRun {
  std::uint32_t b0, other, w2, w3;
  bool vary_first;
};

inline philox::Block philox_run_counter(const PhiloxRun& r, std::uint32_t p) {
  const std::uint32_t b = r.b0 + p;
  return r.vary_first ? philox::Block{b, r.other, r.w2, r.w3} : philox::Block{r.other, b, r.w2, r.w3};
}

// Rows of blocks, one after the other: block p has the counter (s0 + p / n1, b0 + p % n1, w2, w3).
// One fill over several rows keeps the SIMD sets full where rows are short (a row of 50 blocks
// alone would leave a set of 8 mostly empty at its end).
struct PhiloxGrid {
  std::uint32_t s0, b0, n1, w2, w3;
};

inline philox::Block philox_run_counter(const PhiloxGrid& g, std::uint32_t p) {
  return philox::Block{g.s0 + p / g.n1, g.b0 + p % g.n1, g.w2, g.w3};
}

// The first two counter words of blocks p .. p + L - 1 of a grid.
template <int L>
inline void philox_grid_lanes(const PhiloxGrid& g, std::size_t p, std::uint32_t* c0, std::uint32_t* c1) {
  std::uint32_t i = static_cast<std::uint32_t>(p / g.n1), b = static_cast<std::uint32_t>(p % g.n1);
  for (int l = 0; l < L; ++l) {
    c0[l] = g.s0 + i;
    c1[l] = g.b0 + b;
    if (++b == g.n1) b = 0, ++i;
  }
}

// Counters given word by word: block p has the counter (c0[p], c1[p], c2[p], w3), for blocks
// whose first words follow no run or grid (the rows a vjp schedule hands out). The fills read
// the arrays in whole sets of 8 blocks: each must hold philox_padded(nb) entries.
struct PhiloxCounters {
  const std::uint32_t *c0, *c1, *c2;
  std::uint32_t w3;
};

inline philox::Block philox_run_counter(const PhiloxCounters& c, std::uint32_t p) {
  return philox::Block{c.c0[p], c.c1[p], c.c2[p], c.w3};
}

// nb rounded up to the fills' set of 8 blocks.
constexpr std::size_t philox_padded(std::size_t nb) {
  return (nb + 7) / 8 * 8;
}

// Where the words go: interleaved (out[4 p + j] = word j of block p) or one array per word.
struct PhiloxOut {
  std::uint32_t* interleaved = nullptr;
  std::uint32_t* word[4] = {nullptr, nullptr, nullptr, nullptr};
};

template <class Counters>
inline void philox_fill_scalar(philox::Key key, std::size_t nb, const Counters& r, const PhiloxOut& out) {
  for (std::size_t p = 0; p < nb; ++p) {
    const philox::Block c = philox::philox4x32_10(philox_run_counter(r, static_cast<std::uint32_t>(p)), key);
    if (out.interleaved)
      std::memcpy(out.interleaved + 4 * p, c.data(), sizeof c);
    else
      for (int j = 0; j < 4; ++j) out.word[j][p] = c[j];
  }
}

#if defined(MIXGRAD_PHILOX_FILL_X86)

constexpr std::uint32_t kPhiloxW0 = 0x9E3779B9u, kPhiloxW1 = 0xBB67AE85u;

struct PhiloxAvx2 {
  __m256i c0, c1, c2, c3;
};

// One round on one set of eight blocks.
__attribute__((target("avx2"), always_inline)) inline void philox_round_avx2(PhiloxAvx2& s, __m256i m0, __m256i m1,
                                                                             __m256i k0, __m256i k1) {
  // High halves: the 64-bit products of the even lanes and of the odd lanes, put back in place.
  // Low halves: vpmulld, one instruction where the products' halves took a shift and a blend
  // (-4% on REBAR's logistic path at D=200 on Zen 3; the same words).
  const __m256i e0 = _mm256_mul_epu32(s.c0, m0), o0 = _mm256_mul_epu32(_mm256_srli_epi64(s.c0, 32), m0);
  const __m256i e1 = _mm256_mul_epu32(s.c2, m1), o1 = _mm256_mul_epu32(_mm256_srli_epi64(s.c2, 32), m1);
  const __m256i hi0 = _mm256_blend_epi32(_mm256_srli_epi64(e0, 32), o0, 0xAA);
  const __m256i lo0 = _mm256_mullo_epi32(s.c0, m0);
  const __m256i hi1 = _mm256_blend_epi32(_mm256_srli_epi64(e1, 32), o1, 0xAA);
  const __m256i lo1 = _mm256_mullo_epi32(s.c2, m1);
  s.c0 = _mm256_xor_si256(_mm256_xor_si256(hi1, s.c1), k0);
  s.c2 = _mm256_xor_si256(_mm256_xor_si256(hi0, s.c3), k1);
  s.c1 = lo1;
  s.c3 = lo0;
}

// Ten rounds on one set; k0, k1: the round keys.
__attribute__((target("avx2"))) inline void philox_rounds_avx2(PhiloxAvx2& s, const __m256i* k0, const __m256i* k1) {
  const __m256i m0 = _mm256_set1_epi32(static_cast<int>(0xD2511F53u));
  const __m256i m1 = _mm256_set1_epi32(static_cast<int>(0xCD9E8D57u));
  for (int i = 0; i < 10; ++i) philox_round_avx2(s, m0, m1, k0[i], k1[i]);
}

// Ten rounds on two sets, round by round: a round is a chain of dependent instructions (shift,
// multiply, shift, blend, two xors), so one set alone leaves the vector units idle much of the
// time, and the out-of-order window does not reach far enough into a second set run after it
// (interleaved here: 0.89 -> 0.66 ns per word on Zen 3).
__attribute__((target("avx2"))) inline void philox_rounds2_avx2(PhiloxAvx2& a, PhiloxAvx2& b, const __m256i* k0,
                                                                const __m256i* k1) {
  const __m256i m0 = _mm256_set1_epi32(static_cast<int>(0xD2511F53u));
  const __m256i m1 = _mm256_set1_epi32(static_cast<int>(0xCD9E8D57u));
  for (int i = 0; i < 10; ++i) {
    philox_round_avx2(a, m0, m1, k0[i], k1[i]);
    philox_round_avx2(b, m0, m1, k0[i], k1[i]);
  }
}

// The first n <= 8 blocks, block p of them going to index p0 + p of the output.
__attribute__((target("avx2"))) inline void philox_store_avx2(const PhiloxAvx2& s, std::size_t n, std::size_t p0,
                                                              const PhiloxOut& po) {
  if (!po.interleaved) {
    const __m256i c[4] = {s.c0, s.c1, s.c2, s.c3};
    alignas(32) std::uint32_t tail[8];
    for (int j = 0; j < 4; ++j) {
      if (n == 8) {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(po.word[j] + p0), c[j]);
      } else {
        _mm256_store_si256(reinterpret_cast<__m256i*>(tail), c[j]);
        std::memcpy(po.word[j] + p0, tail, n * sizeof(std::uint32_t));
      }
    }
    return;
  }
  std::uint32_t* out = po.interleaved + 4 * p0;
  const __m256i t0 = _mm256_unpacklo_epi32(s.c0, s.c1), t1 = _mm256_unpackhi_epi32(s.c0, s.c1);
  const __m256i t2 = _mm256_unpacklo_epi32(s.c2, s.c3), t3 = _mm256_unpackhi_epi32(s.c2, s.c3);
  const __m256i u0 = _mm256_unpacklo_epi64(t0, t2), u1 = _mm256_unpackhi_epi64(t0, t2);  // blocks 0|4, 1|5
  const __m256i u2 = _mm256_unpacklo_epi64(t1, t3), u3 = _mm256_unpackhi_epi64(t1, t3);  // blocks 2|6, 3|7
  const __m256i v[4] = {_mm256_permute2x128_si256(u0, u1, 0x20), _mm256_permute2x128_si256(u2, u3, 0x20),
                        _mm256_permute2x128_si256(u0, u1, 0x31), _mm256_permute2x128_si256(u2, u3, 0x31)};
  if (n == 8) {
    for (int j = 0; j < 4; ++j) _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 8 * j), v[j]);
    return;
  }
  alignas(32) std::uint32_t tail[32];
  for (int j = 0; j < 4; ++j) _mm256_store_si256(reinterpret_cast<__m256i*>(tail + 8 * j), v[j]);
  std::memcpy(out, tail, 4 * n * sizeof(std::uint32_t));
}

// The counters of blocks p .. p + 7 of a run.
__attribute__((target("avx2"))) inline PhiloxAvx2 philox_start_avx2(const PhiloxRun& r, std::size_t p) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i ctr = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(r.b0 + static_cast<std::uint32_t>(p))), lane);
  const __m256i fixed = _mm256_set1_epi32(static_cast<int>(r.other));
  return PhiloxAvx2{r.vary_first ? ctr : fixed, r.vary_first ? fixed : ctr, _mm256_set1_epi32(static_cast<int>(r.w2)),
                    _mm256_set1_epi32(static_cast<int>(r.w3))};
}

// The counters of blocks p .. p + 7 of a grid: the lanes past the row's end wrap to the next row
// (once per lane when rows have 8 blocks or more).
__attribute__((target("avx2"))) inline PhiloxAvx2 philox_start_avx2(const PhiloxGrid& g, std::size_t p) {
  const __m256i n1 = _mm256_set1_epi32(static_cast<int>(g.n1)), last = _mm256_set1_epi32(static_cast<int>(g.n1 - 1));
  __m256i i = _mm256_set1_epi32(static_cast<int>(p / g.n1));
  __m256i b =
      _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(p % g.n1)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  for (;;) {
    const __m256i wrap = _mm256_cmpgt_epi32(b, last);  // all-ones lanes: b >= n1
    b = _mm256_sub_epi32(b, _mm256_and_si256(wrap, n1));
    i = _mm256_sub_epi32(i, wrap);
    if (g.n1 >= 8 || _mm256_testz_si256(wrap, wrap)) break;
  }
  return PhiloxAvx2{_mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(g.s0)), i),
                    _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(g.b0)), b),
                    _mm256_set1_epi32(static_cast<int>(g.w2)), _mm256_set1_epi32(static_cast<int>(g.w3))};
}

// The counters of blocks p .. p + 7 of explicit words.
__attribute__((target("avx2"))) inline PhiloxAvx2 philox_start_avx2(const PhiloxCounters& c, std::size_t p) {
  return PhiloxAvx2{_mm256_loadu_si256(reinterpret_cast<const __m256i*>(c.c0 + p)),
                    _mm256_loadu_si256(reinterpret_cast<const __m256i*>(c.c1 + p)),
                    _mm256_loadu_si256(reinterpret_cast<const __m256i*>(c.c2 + p)),
                    _mm256_set1_epi32(static_cast<int>(c.w3))};
}

template <class Counters>
__attribute__((target("avx2"))) inline void philox_fill_avx2(philox::Key key, std::size_t nb, const Counters& r,
                                                             const PhiloxOut& out) {
  __m256i k0[10], k1[10];
  for (int i = 0; i < 10; ++i) {
    k0[i] = _mm256_set1_epi32(static_cast<int>(key.k0 + static_cast<std::uint32_t>(i) * kPhiloxW0));
    k1[i] = _mm256_set1_epi32(static_cast<int>(key.k1 + static_cast<std::uint32_t>(i) * kPhiloxW1));
  }
  // Two sets at a time; the last 9 to 16 blocks as two sets too (the second one partly stored).
  std::size_t p = 0;
  for (; p + 8 < nb; p += 16) {
    PhiloxAvx2 a = philox_start_avx2(r, p), b = philox_start_avx2(r, p + 8);
    philox_rounds2_avx2(a, b, k0, k1);
    philox_store_avx2(a, 8, p, out);
    philox_store_avx2(b, std::min<std::size_t>(8, nb - p - 8), p + 8, out);
  }
  for (; p < nb; p += 8) {
    PhiloxAvx2 a = philox_start_avx2(r, p);
    philox_rounds_avx2(a, k0, k1);
    philox_store_avx2(a, std::min<std::size_t>(8, nb - p), p, out);
  }
}

// The first two counter words of blocks p .. p + 3 of a run or of a grid.
inline void philox_start_sse2(const PhiloxRun& r, std::size_t p, __m128i& c0, __m128i& c1) {
  const __m128i ctr =
      _mm_add_epi32(_mm_set1_epi32(static_cast<int>(r.b0 + static_cast<std::uint32_t>(p))), _mm_setr_epi32(0, 1, 2, 3));
  const __m128i fixed = _mm_set1_epi32(static_cast<int>(r.other));
  c0 = r.vary_first ? ctr : fixed;
  c1 = r.vary_first ? fixed : ctr;
}

inline void philox_start_sse2(const PhiloxGrid& g, std::size_t p, __m128i& c0, __m128i& c1) {
  alignas(16) std::uint32_t l0[4], l1[4];
  philox_grid_lanes<4>(g, p, l0, l1);
  c0 = _mm_load_si128(reinterpret_cast<const __m128i*>(l0));
  c1 = _mm_load_si128(reinterpret_cast<const __m128i*>(l1));
}

inline void philox_start_sse2(const PhiloxCounters& c, std::size_t p, __m128i& c0, __m128i& c1) {
  c0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(c.c0 + p));
  c1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(c.c1 + p));
}

// The last two counter words of blocks p .. p + 3: fixed in runs and grids, given in PhiloxCounters.
template <class Counters>
inline __m128i philox_word2_sse2(const Counters& r, std::size_t) {
  return _mm_set1_epi32(static_cast<int>(r.w2));
}
inline __m128i philox_word2_sse2(const PhiloxCounters& c, std::size_t p) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(c.c2 + p));
}

template <class Counters>
inline void philox_fill_sse2(philox::Key key, std::size_t nb, const Counters& r, const PhiloxOut& po) {
  const __m128i m0 = _mm_set1_epi32(static_cast<int>(0xD2511F53u)), m1 = _mm_set1_epi32(static_cast<int>(0xCD9E8D57u));
  const __m128i low = _mm_set1_epi64x(0xFFFFFFFFll), high = _mm_slli_epi64(low, 32);
  for (std::size_t p = 0; p < nb; p += 4) {
    __m128i c0, c1;
    philox_start_sse2(r, p, c0, c1);
    __m128i c2 = philox_word2_sse2(r, p), c3 = _mm_set1_epi32(static_cast<int>(r.w3));
    std::uint32_t k0 = key.k0, k1 = key.k1;
    for (int i = 0; i < 10; ++i) {
      const __m128i e0 = _mm_mul_epu32(c0, m0), o0 = _mm_mul_epu32(_mm_srli_epi64(c0, 32), m0);
      const __m128i e1 = _mm_mul_epu32(c2, m1), o1 = _mm_mul_epu32(_mm_srli_epi64(c2, 32), m1);
      const __m128i hi0 = _mm_or_si128(_mm_srli_epi64(e0, 32), _mm_and_si128(o0, high));
      const __m128i lo0 = _mm_or_si128(_mm_and_si128(e0, low), _mm_slli_epi64(o0, 32));
      const __m128i hi1 = _mm_or_si128(_mm_srli_epi64(e1, 32), _mm_and_si128(o1, high));
      const __m128i lo1 = _mm_or_si128(_mm_and_si128(e1, low), _mm_slli_epi64(o1, 32));
      c0 = _mm_xor_si128(_mm_xor_si128(hi1, c1), _mm_set1_epi32(static_cast<int>(k0)));
      c2 = _mm_xor_si128(_mm_xor_si128(hi0, c3), _mm_set1_epi32(static_cast<int>(k1)));
      c1 = lo1;
      c3 = lo0;
      k0 += kPhiloxW0;
      k1 += kPhiloxW1;
    }
    const std::size_t n = nb - p < 4 ? nb - p : 4;
    if (!po.interleaved) {
      const __m128i c[4] = {c0, c1, c2, c3};
      alignas(16) std::uint32_t tail[4];
      for (int j = 0; j < 4; ++j) {
        if (n == 4) {
          _mm_storeu_si128(reinterpret_cast<__m128i*>(po.word[j] + p), c[j]);
        } else {
          _mm_store_si128(reinterpret_cast<__m128i*>(tail), c[j]);
          std::memcpy(po.word[j] + p, tail, n * sizeof(std::uint32_t));
        }
      }
      continue;
    }
    std::uint32_t* out = po.interleaved + 4 * p;
    const __m128i t0 = _mm_unpacklo_epi32(c0, c1), t1 = _mm_unpackhi_epi32(c0, c1);
    const __m128i t2 = _mm_unpacklo_epi32(c2, c3), t3 = _mm_unpackhi_epi32(c2, c3);
    const __m128i v[4] = {_mm_unpacklo_epi64(t0, t2), _mm_unpackhi_epi64(t0, t2), _mm_unpacklo_epi64(t1, t3),
                          _mm_unpackhi_epi64(t1, t3)};
    if (n == 4) {
      for (int j = 0; j < 4; ++j) _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 4 * j), v[j]);
    } else {
      alignas(16) std::uint32_t tail[16];
      for (int j = 0; j < 4; ++j) _mm_store_si128(reinterpret_cast<__m128i*>(tail + 4 * j), v[j]);
      std::memcpy(out, tail, 4 * n * sizeof(std::uint32_t));
    }
  }
}

#endif

// Word j of the block of counter philox_run_counter(r, p), p < nb, into out (r: a PhiloxRun, a
// PhiloxGrid or PhiloxCounters).
template <class Counters>
inline void philox_fill(philox::Key key, std::size_t nb, const Counters& r, const PhiloxOut& out) {
#if defined(MIXGRAD_PHILOX_FILL_X86) && defined(MIXGRAD_HAVE_SIMD_LEVELS)
  if (cpu::level() >= cpu::x86_64_v3)
    philox_fill_avx2(key, nb, r, out);
  else
    philox_fill_sse2(key, nb, r, out);
#elif defined(MIXGRAD_PHILOX_FILL_X86) && defined(__AVX2__)
  philox_fill_avx2(key, nb, r, out);
#elif defined(MIXGRAD_PHILOX_FILL_X86)
  philox_fill_sse2(key, nb, r, out);
#else
  philox_fill_scalar(key, nb, r, out);
#endif
}

// out[4 p + j] = word j of block p.
template <class Counters>
inline void philox_fill(philox::Key key, std::size_t nb, const Counters& r, std::uint32_t* out) {
  PhiloxOut o;
  o.interleaved = out;
  philox_fill(key, nb, r, o);
}

// The 64-bit halves of a block from its words (as philox_words' lo, hi).
MIXGRAD_INLINE std::uint64_t philox_join(std::uint32_t low, std::uint32_t high) {
  return (std::uint64_t{high} << 32) | low;
}

// Blocks p0 .. p0 + pn of a run (pn <= kPhiloxPiece) into w[j][p] = word j of block p0 + p: for
// loops that vectorize over the blocks (no lambda: it would not inherit its caller's target).
// 128 blocks a piece: REBAR's logistic fast path 3% faster than with 64 (fewer fills and loop
// starts per chunk of 256 draws), and its piece buffers still fit in L1.
constexpr std::size_t kPhiloxPiece = 128;

inline void philox_fill_piece(philox::Key key, const PhiloxRun& r, std::size_t p0, std::size_t pn,
                              std::uint32_t (*w)[kPhiloxPiece]) {
  PhiloxRun rp = r;
  rp.b0 += static_cast<std::uint32_t>(p0);
  PhiloxOut o;
  for (int j = 0; j < 4; ++j) o.word[j] = w[j];
  philox_fill(key, pn, rp, o);
}

}  // namespace mixgrad::rebar
