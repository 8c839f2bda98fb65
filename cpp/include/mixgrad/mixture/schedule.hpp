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
// mixture; otherwise loop over mixtures and share each one's parameters across lanes. Depends
// on the shapes only (never on the thread count), so results are reproducible.
inline bool use_lanes(std::size_t B, std::size_t S) {
  return S == 1 || B >= 4 * L;
}

}  // namespace mixgrad::mixture
