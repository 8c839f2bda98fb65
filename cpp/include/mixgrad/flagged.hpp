// Gathering the few elements of an array that a test selects (the tail draws of a normal
// quantile, the lanes that need a costly branch), in increasing order and branch-free: the test
// runs as a vectorized loop into a bit mask per 64 elements, and only the set bits are visited.
// A loop that stores every element and advances its output index on the flag instead costs a
// dependent store per element, whatever the number selected.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "mixgrad/config.hpp"

namespace mixgrad {

// Index of the lowest set bit of bits != 0.
inline unsigned lowest_set_bit(std::uint64_t bits) {
#if defined(__GNUC__)
  return static_cast<unsigned>(__builtin_ctzll(bits));
#else
  unsigned i = 0;
  for (; (bits & 1) == 0; bits >>= 1) ++i;
  return i;
#endif
}

// visit(base + i) for each set bit i of mask, in increasing order.
template <class Visit>
MIXGRAD_INLINE void visit_bits(std::uint64_t mask, std::size_t base, Visit&& visit) {
  for (; mask != 0; mask &= mask - 1) visit(base + lowest_set_bit(mask));
}

// visit(i) for each i < n with flagged(i), in increasing order. flagged must be branch-free
// (bitwise & and |, no && or ||) for its loop to vectorize. It runs once per element, before
// that element's visit, and may also compute and store the element's other results (ndtri's
// central pass), so that a loop bound by its arithmetic carries the test.
template <class Flagged, class Visit>
MIXGRAD_INLINE void for_each_flagged(std::size_t n, Flagged flagged, Visit visit) {
  for (std::size_t base = 0; base < n; base += 64) {
    const std::size_t len = std::min<std::size_t>(64, n - base);
    std::uint64_t mask = 0;
#pragma omp simd reduction(| : mask)
    for (std::size_t i = 0; i < len; ++i) mask |= static_cast<std::uint64_t>(flagged(base + i)) << i;
    visit_bits(mask, base, visit);
  }
}

// The elements of v[0 .. n) that flagged(v[i]) selects, in order: their indices into idx and
// values into out; returns their number. flagged must be branch-free (see for_each_flagged).
template <class Flagged>
MIXGRAD_INLINE std::size_t gather_flagged(const double* v, std::size_t n, Flagged flagged, std::uint32_t* idx,
                                          double* out) {
  std::size_t k = 0;
  for_each_flagged(
      n, [&](std::size_t i) { return flagged(v[i]); },
      [&](std::size_t i) {
        idx[k] = static_cast<std::uint32_t>(i);
        out[k] = v[i];
        ++k;
      });
  return k;
}

}  // namespace mixgrad
