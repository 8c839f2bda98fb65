// Diagonal mixtures: the inputs of one driver call (Args).
#pragma once

#include <cstddef>

#include "mixgrad/mixture/lanes.hpp"

namespace mixgrad::mixture {

// Inputs of one call. x and gx are [N][D] with N = S*B; tangents as the parameters.
template <class T>
struct Args {
  Dims dm;
  std::size_t S = 1;
  const T* logits = nullptr;
  const T* means = nullptr;
  const T* scales = nullptr;
  const T* x = nullptr;
  const T* gx = nullptr;
  const T *ta = nullptr, *tmu = nullptr, *ts = nullptr;
};

}  // namespace mixgrad::mixture
