// Scheduling of the mixture drivers: which parameter layout a call uses (use_lanes) and how
// blocks of work are handed to threads; both fixed by the shapes, never by the thread count.
#pragma once

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
