// Software prefetch of an output range about to be written.
#pragma once

#include <cstddef>

#include "mixgrad/config.hpp"

namespace mixgrad {

// Asks for the cache lines of x[0, n) (64-byte lines, 8 doubles each) with the intent to write,
// so that stores into memory not in the cache wait less on their lines. A hint only: never
// faults, changes no value.
MIXGRAD_INLINE void prefetch_for_write(const double* x, std::size_t n) {
#if defined(__GNUC__)
  for (std::size_t i = 0; i < n; i += 8) __builtin_prefetch(x + i, 1, 3);
#else
  (void)x;
  (void)n;
#endif
}

}  // namespace mixgrad
