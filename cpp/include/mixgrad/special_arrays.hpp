// Element-wise array versions of the vectorizable special functions, compiled per ISA level
// (MIXGRAD_SIMD_DISPATCH, cpu_dispatch.hpp): each pass runs the AVX-512, AVX2+FMA or baseline
// copy of the active instruction-set level.
//
// log_ndtr and ndtri run over chunks of 256 values in two or more vectorized passes through
// small buffers rather than one loop: a single loop body would chain two divisions, a log, a
// square root and long polynomials, a dependency chain longer than the out-of-order window can
// overlap across iterations. Split at a stage boundary, each pass keeps several iterations in
// flight (measured 20-30% faster on AVX2). The arithmetic is that of the scalar functions in
// special.hpp, so each element's value is that of special::log_ndtr etc. and depends on nothing
// but the element (not on the chunking nor the thread count).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "mixgrad/config.hpp"
#include "mixgrad/flagged.hpp"
#include "mixgrad/special.hpp"

namespace mixgrad::special::arrays {

// ndtr and erfcx: one vectorized loop (split into passes as below they measured slower).
#define MIXGRAD_UNARY_ARRAY(NAME, FN)                                                                                 \
  MIXGRAD_SIMD_KERNEL void NAME##_kernel(const double* x, double* y, std::size_t n) {                                 \
    _Pragma("omp simd") for (std::size_t i = 0; i < n; ++i) y[i] = FN(x[i]);                                          \
  }                                                                                                                   \
  MIXGRAD_SIMD_KERNEL void NAME##_kernel(const float* x, float* y, std::size_t n) {                                   \
    _Pragma("omp simd") for (std::size_t i = 0; i < n; ++i) y[i] = static_cast<float>(FN(static_cast<double>(x[i]))); \
  }                                                                                                                   \
  MIXGRAD_SIMD_DISPATCH(NAME)

MIXGRAD_UNARY_ARRAY(ndtr, special::ndtr)
MIXGRAD_UNARY_ARRAY(erfcx, special::erfcx)

#undef MIXGRAD_UNARY_ARRAY

namespace detail {

inline constexpr std::size_t kChunk = 256;

// body(x, y, m) on double chunks of at most kChunk values: float64 arrays are passed in place,
// float32 through double buffers (computed in double and rounded once, so correctly rounded
// except in rare double-rounding cases, at most 1 float32 ulp off the float64 result).
template <class T, class Body>
void by_chunks(const T* x, T* y, std::size_t n, Body&& body) {
  for (std::size_t s = 0; s < n; s += kChunk) {
    const std::size_t m = std::min(kChunk, n - s);
    if constexpr (std::is_same_v<T, double>) {
      body(x + s, y + s, m);
    } else {
      double xin[kChunk], out[kChunk];
      for (std::size_t i = 0; i < m; ++i) xin[i] = static_cast<double>(x[s + i]);
      body(xin, out, m);
      for (std::size_t i = 0; i < m; ++i) y[s + i] = static_cast<T>(out[i]);
    }
  }
}

// log_ndtr's parts, with Q(|x|) first in a loop of its own (through arg): on a Zen 3 (AVX2) 3-5%
// faster than one loop. (On a Zen 5 with the AVX2 copy forced it measured 5% slower; the goals
// are set on AVX2-only CPUs.)
MIXGRAD_SIMD_KERNEL void log_ndtr_parts_pass_kernel(const double* x, double* arg, double* add, std::size_t n) {
#pragma omp simd
  for (std::size_t i = 0; i < n; ++i) arg[i] = special::scaled_lower_tail_rational(std::fabs(x[i]));
#pragma omp simd
  for (std::size_t i = 0; i < n; ++i) {
    const special::LogNdtrParts parts = special::log_ndtr_parts_from_scaled(x[i], arg[i]);
    arg[i] = parts.arg;
    add[i] = parts.add;
  }
}

MIXGRAD_SIMD_DISPATCH(log_ndtr_parts_pass)

MIXGRAD_SIMD_KERNEL void log_ndtr_finish_pass_kernel(const double* arg, const double* add, double* y, std::size_t n) {
#pragma omp simd
  for (std::size_t i = 0; i < n; ++i) y[i] = special::log_ndtr_from_parts({arg[i], add[i]});
}

MIXGRAD_SIMD_DISPATCH(log_ndtr_finish_pass)

// ndtri's central rational for the elements of p[0 .. n) in its central region, into y; each
// element outside it (tails, 0, 1, out of range, NaN) gets its p in y instead (so y may be p),
// its index in idx and its p in tin. Returns the number of those. The region test and the bit
// mask of for_each_flagged ride along the rational's loop, whose cost is its multiply-adds.
MIXGRAD_SIMD_KERNEL std::size_t ndtri_central_pass_kernel(const double* p, double* y, std::size_t n, std::uint32_t* idx,
                                                          double* tin) {
  std::size_t k = 0;
  for_each_flagged(
      n,
      [&](std::size_t i) {
        const double x = p[i];
        const bool tail = !(std::fabs(x - 0.5) <= special::kNdtriCentral);
        const double c = special::ndtri_central(x - 0.5);
        y[i] = tail ? x : c;
        return tail;
      },
      [&](std::size_t i) {
        idx[k] = static_cast<std::uint32_t>(i);
        tin[k] = y[i];
        ++k;
      });
  return k;
}

MIXGRAD_SIMD_DISPATCH(ndtri_central_pass)

MIXGRAD_SIMD_KERNEL void ndtri_tail_root_pass_kernel(const double* p, double* root, std::size_t n) {
#pragma omp simd
  for (std::size_t i = 0; i < n; ++i) root[i] = special::ndtri_tail_root(p[i]);
}

MIXGRAD_SIMD_DISPATCH(ndtri_tail_root_pass)

MIXGRAD_SIMD_KERNEL void ndtri_tail_pass_kernel(const double* p, const double* root, double* y, std::size_t n) {
#pragma omp simd
  for (std::size_t i = 0; i < n; ++i) y[i] = special::ndtri_tail(p[i], root[i]);
}

MIXGRAD_SIMD_DISPATCH(ndtri_tail_pass)

// ndtri_exp's elements outside its central region, each group in order: the lower and the upper
// tail of [kNdtriExpMin, 0), and the rest (0, below kNdtriExpMin, positive, NaN).
struct NdtriExpGroup {
  std::uint32_t* idx;
  double* val;
  std::size_t n;
  void push(std::size_t i, double v) {
    idx[n] = static_cast<std::uint32_t>(i);
    val[n] = v;
    ++n;
  }
};

// ndtri_exp's central form for the elements of x[0 .. n) in its central region, into y; each
// element outside it gets its x in y instead (so y may be x) and joins its group. The region
// tests and the groups' bit masks (as for_each_flagged's) ride along the central form's loop.
MIXGRAD_SIMD_KERNEL void ndtri_exp_central_pass_kernel(const double* x, double* y, std::size_t n, NdtriExpGroup& lower,
                                                       NdtriExpGroup& upper, NdtriExpGroup& rest) {
  using special::kNdtriExpLower, special::kNdtriExpMin, special::kNdtriExpUpper;
  for (std::size_t base = 0; base < n; base += 64) {
    const std::size_t len = std::min<std::size_t>(64, n - base);
    std::uint64_t ml = 0, mu = 0, mr = 0;
#pragma omp simd reduction(| : ml, mu, mr)
    for (std::size_t i = 0; i < len; ++i) {
      const double v = x[base + i];
      const bool lo = (v <= kNdtriExpLower) & (v >= kNdtriExpMin);
      const bool up = (v > kNdtriExpUpper) & (v < 0.0);
      const bool re = !((v >= kNdtriExpMin) & (v < 0.0));
      const double c = special::ndtri_exp_central(v);
      y[base + i] = lo | up | re ? v : c;
      ml |= static_cast<std::uint64_t>(lo) << i;
      mu |= static_cast<std::uint64_t>(up) << i;
      mr |= static_cast<std::uint64_t>(re) << i;
    }
    visit_bits(ml, base, [&](std::size_t i) { lower.push(i, y[i]); });
    visit_bits(mu, base, [&](std::size_t i) { upper.push(i, y[i]); });
    visit_bits(mr, base, [&](std::size_t i) { rest.push(i, y[i]); });
  }
}

MIXGRAD_SIMD_DISPATCH(ndtri_exp_central_pass)

#define MIXGRAD_NDTRI_EXP_PASS(NAME, FN)                                              \
  MIXGRAD_SIMD_KERNEL void NAME##_kernel(double* v, std::size_t n) {                  \
    _Pragma("omp simd") for (std::size_t i = 0; i < n; ++i) v[i] = special::FN(v[i]); \
  }                                                                                   \
  MIXGRAD_SIMD_DISPATCH(NAME)

MIXGRAD_NDTRI_EXP_PASS(ndtri_exp_lower_pass, ndtri_exp_lower)
MIXGRAD_NDTRI_EXP_PASS(ndtri_exp_upper_pass, ndtri_exp_upper)
#undef MIXGRAD_NDTRI_EXP_PASS

}  // namespace detail

template <class T>
void log_ndtr(const T* x, T* y, std::size_t n) {
  detail::by_chunks(x, y, n, [](const double* xc, double* yc, std::size_t m) {
    double arg[detail::kChunk], add[detail::kChunk];
    detail::log_ndtr_parts_pass(xc, arg, add, m);
    detail::log_ndtr_finish_pass(arg, add, yc, m);
  });
}

// ndtri: the central rational for the elements within |p - 1/2| <= kNdtriCentral, gathering the
// others into a contiguous buffer in the same loop; then the tails (log, sqrt, tail rationals)
// for those only. Uniform p thus pays the tail cost on 6% of the elements. (Without a separate
// gathering pass: 1e7 uniform p, one thread, Zen 5: AVX2 copy -7%, AVX-512 copy -10%.)
template <class T>
void ndtri(const T* p, T* y, std::size_t n) {
  detail::by_chunks(p, y, n, [](const double* pc, double* yc, std::size_t m) {
    double tin[detail::kChunk], root[detail::kChunk], tout[detail::kChunk];
    std::uint32_t idx[detail::kChunk];
    const std::size_t k = detail::ndtri_central_pass(pc, yc, m, idx, tin);
    detail::ndtri_tail_root_pass(tin, root, k);
    detail::ndtri_tail_pass(tin, root, tout, k);
    for (std::size_t j = 0; j < k; ++j) yc[idx[j]] = tout[j];
  });
}

// ndtri_exp: the central form for the elements in its central region, gathering the others by
// region in the same loop; then the tails, each with only its own work (the lower one, common
// for log-probabilities, a square root and the AS241 tail rational; the upper one an expm1 and a
// log more); the scalar function (Newton steps below log_p = -700, special values) for the few
// elements outside [-700, 0). Each value is ndtri_exp_moderate's in its region.
template <class T>
void ndtri_exp(const T* x, T* y, std::size_t n) {
  detail::by_chunks(x, y, n, [](const double* xc, double* yc, std::size_t m) {
    std::uint32_t il[detail::kChunk], iu[detail::kChunk], ir[detail::kChunk];
    double vl[detail::kChunk], vu[detail::kChunk], vr[detail::kChunk];
    detail::NdtriExpGroup lower{il, vl, 0}, upper{iu, vu, 0}, rest{ir, vr, 0};
    detail::ndtri_exp_central_pass(xc, yc, m, lower, upper, rest);
    detail::ndtri_exp_lower_pass(vl, lower.n);
    detail::ndtri_exp_upper_pass(vu, upper.n);
    for (std::size_t j = 0; j < lower.n; ++j) yc[il[j]] = vl[j];
    for (std::size_t j = 0; j < upper.n; ++j) yc[iu[j]] = vu[j];
    for (std::size_t j = 0; j < rest.n; ++j) yc[ir[j]] = special::ndtri_exp(vr[j]);
  });
}

// The scalar-path function: branches, no vectorization.
template <class T>
void log_ndtr_diff(const T* a, const T* b, T* y, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    y[i] = static_cast<T>(special::log_ndtr_diff(static_cast<double>(a[i]), static_cast<double>(b[i])));
}

}  // namespace mixgrad::special::arrays
