// Scheduling of the mixture drivers: which parameter layout a call uses (use_lanes) and how
// blocks of work are handed to threads; both fixed by the shapes, never by the thread count.
#pragma once

#include <algorithm>
#include <cstddef>
#include <utility>

#include "mixgrad/mixture/lanes.hpp"
#include "mixgrad/parallel.hpp"

namespace mixgrad::mixture {

namespace detail {

// Blocks handed out on demand: per-block results never depend on the thread that runs them.
template <class Body>
void dynamic_blocks(std::size_t n, std::size_t block, int nthreads, std::size_t min_parallel, Body&& body) {
  parallel::for_blocks<parallel::Schedule::Dynamic>(n, block, nthreads, min_parallel, std::forward<Body>(body));
}

// The block size of the drivers whose blocks each set up their own scratch: n / parts items (so
// that the threads share out the blocks), but no more than about 2^20 (sample, component,
// coordinate) triples of work (a few ms on AVX2), and never fewer than min_block items (which
// wins where one item alone is more work): larger blocks amortize the set-up, and the bound
// keeps the interrupt check, which runs between blocks, within reach. Results do not depend on
// it.
inline std::size_t scratch_block(std::size_t n, std::size_t parts, std::size_t triples_per_item,
                                 std::size_t min_block) {
  constexpr std::size_t kBlockTriples = std::size_t{1} << 20;
  const std::size_t by_work = std::max<std::size_t>(1, kBlockTriples / std::max<std::size_t>(1, triples_per_item));
  return std::max(min_block, std::min(n / parts, by_work));
}

}  // namespace detail

// Rule for the parameter layout: gather per lane when there are many mixtures or one row per
// mixture; otherwise loop over mixtures and share each one's parameters across lanes. A single
// mixture, and mixtures with more than 2^16 parameters per component set (a lane group would
// hold L copies of them), always share. Depends on the shapes only (never on the thread
// count), so results are reproducible.
inline bool use_lanes(const Dims& dm, std::size_t S) {
  if (dm.B == 1 || dm.K * dm.D > (std::size_t{1} << 16)) return false;
  return S == 1 || dm.B >= 4 * L;
}

}  // namespace mixgrad::mixture
