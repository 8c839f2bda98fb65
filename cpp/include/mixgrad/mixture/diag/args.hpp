// Diagonal mixtures: the inputs of one driver call (Args).
#pragma once

#include <cstddef>

#include "mixgrad/mixture/lanes.hpp"

namespace mixgrad::mixture {

// Where the rows of one call sit in a larger call (a chunk of a Dask array): row i = s*B + b of
// this call is row (s0 + s)*B_whole + b0 + b of the whole, and draws with that row's Philox
// counter; the parameter layout follows the whole's shapes. So a chunk computes every row, and
// every mixture's sum over its samples, exactly as the whole call does. Zeros: this call is the
// whole.
struct Window {
  std::size_t s0 = 0, b0 = 0, B_whole = 0, S_whole = 0;
};

// Inputs of one call. x and gx are [N][D] with N = S*B; tangents as the parameters.
template <class T>
struct Args {
  Dims dm;
  std::size_t S = 1;
  Window win;
  const T* logits = nullptr;
  const T* means = nullptr;
  const T* scales = nullptr;
  const T* x = nullptr;
  const T* gx = nullptr;
  const T *ta = nullptr, *tmu = nullptr, *ts = nullptr;
};

// The row of the whole call (its Philox counter) of row i of this call.
template <class T>
inline std::size_t whole_row(const Args<T>& a, std::size_t i) {
  if (a.win.B_whole == 0) return a.win.s0 * a.dm.B + i;
  return (a.win.s0 + i / a.dm.B) * a.win.B_whole + a.win.b0 + i % a.dm.B;
}

// The shapes that decide the parameter layout (use_lanes): the whole call's.
template <class T>
inline std::size_t whole_samples(const Args<T>& a) {
  return a.win.S_whole ? a.win.S_whole : a.S;
}
template <class T>
inline Dims whole_dims(const Args<T>& a) {
  return Dims{a.win.B_whole ? a.win.B_whole : a.dm.B, a.dm.K, a.dm.D};
}

}  // namespace mixgrad::mixture
