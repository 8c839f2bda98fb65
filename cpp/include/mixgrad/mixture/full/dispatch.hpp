// Full-covariance mixtures: the ISA-dispatched units, one per operation and layout of the lower
// part of scale_tril, and run_tril_unit, which picks one at compile time. Each runs the diagonal
// kernel of the operation (per-lane layout) with TrilLocations supplying the locations.
#pragma once

#include <cstddef>

#include "mixgrad/config.hpp"
#include "mixgrad/mixture/diag/dispatch.hpp"
#include "mixgrad/mixture/diag/log_prob.hpp"
#include "mixgrad/mixture/diag/params.hpp"
#include "mixgrad/mixture/diag/quantile.hpp"
#include "mixgrad/mixture/diag/scratch.hpp"
#include "mixgrad/mixture/diag/transform.hpp"
#include "mixgrad/mixture/full/locations.hpp"
#include "mixgrad/mixture/full/params.hpp"
#include "mixgrad/mixture/full/scratch.hpp"
#include "mixgrad/mixture/full/vjp.hpp"
#include "mixgrad/mixture/lanes.hpp"

namespace mixgrad::mixture {

namespace detail {

template <Op OP, bool PLT>
MIXGRAD_INLINE void tril_unit(const Dims& dm, Prepared& p, const TrilParams& t, Scratch& s, TrilScratch& ts,
                              double* out) {
  const TrilLocations<PLT> loc{dm, t, p, s.x.data(), ts.eps.data()};
  if constexpr (OP == Op::Vjp) {
    forward_unit<true, Fwd::Vjp>(dm, p, s, nullptr, loc);
    reverse_tril_unit<PLT>(dm, p, t, s, ts);
  } else if constexpr (OP == Op::Jvp) {
    const TrilLocations<PLT> tloc{dm, t, p, s.x.data(), ts.eps.data(), out, ts.teps.data()};
    forward_unit<true, Fwd::Jvp>(dm, p, s, out, tloc);
  } else if constexpr (OP == Op::Cdf) {
    forward_unit<true, Fwd::Cdf>(dm, p, s, out, loc);
  } else if constexpr (OP == Op::LogTail) {
    forward_unit<true, Fwd::LogTail>(dm, p, s, out, loc);
  } else {
    for (std::size_t d = 0; d < dm.D; ++d) loc(d);  // x is known: every location up front
    logprob_unit<true>(dm, p, s, out);
  }
}

template <bool PLT>
MIXGRAD_INLINE void tril_quantile(const Dims& dm, Prepared& p, const TrilParams& t, QuantileScratch& q,
                                  TrilScratch& ts) {
  quantile_unit<true, L>(dm, p, q, TrilLocations<PLT>{dm, t, p, q.x.data(), ts.eps.data()});
}

}  // namespace detail

#define MIXGRAD_TRIL_UNIT(NAME, OP)                                                                           \
  MIXGRAD_SIMD_KERNEL void NAME##_shared_kernel(const Dims& dm, Prepared& p, const TrilParams& t, Scratch& s, \
                                                TrilScratch& ts, double* out) {                               \
    detail::tril_unit<OP, false>(dm, p, t, s, ts, out);                                                       \
  }                                                                                                           \
  MIXGRAD_SIMD_DISPATCH(NAME##_shared)                                                                        \
  MIXGRAD_SIMD_KERNEL void NAME##_lanes_kernel(const Dims& dm, Prepared& p, const TrilParams& t, Scratch& s,  \
                                               TrilScratch& ts, double* out) {                                \
    detail::tril_unit<OP, true>(dm, p, t, s, ts, out);                                                        \
  }                                                                                                           \
  MIXGRAD_SIMD_DISPATCH(NAME##_lanes)

MIXGRAD_TRIL_UNIT(tril_vjp_unit, Op::Vjp)
MIXGRAD_TRIL_UNIT(tril_jvp_unit, Op::Jvp)
MIXGRAD_TRIL_UNIT(tril_cdf_unit, Op::Cdf)
MIXGRAD_TRIL_UNIT(tril_logtail_unit, Op::LogTail)
MIXGRAD_TRIL_UNIT(tril_logprob_unit, Op::LogProb)

#undef MIXGRAD_TRIL_UNIT

MIXGRAD_SIMD_KERNEL void tril_quantile_shared_kernel(const Dims& dm, Prepared& p, const TrilParams& t,
                                                     QuantileScratch& q, TrilScratch& ts) {
  detail::tril_quantile<false>(dm, p, t, q, ts);
}

MIXGRAD_SIMD_DISPATCH(tril_quantile_shared)
MIXGRAD_SIMD_KERNEL void tril_quantile_lanes_kernel(const Dims& dm, Prepared& p, const TrilParams& t,
                                                    QuantileScratch& q, TrilScratch& ts) {
  detail::tril_quantile<true>(dm, p, t, q, ts);
}
MIXGRAD_SIMD_DISPATCH(tril_quantile_lanes)

template <Op OP, bool PLT>
inline void run_tril_unit(const Dims& dm, Prepared& p, const TrilParams& t, Scratch& s, TrilScratch& ts, double* out) {
  if constexpr (OP == Op::Vjp)
    PLT ? tril_vjp_unit_lanes(dm, p, t, s, ts, out) : tril_vjp_unit_shared(dm, p, t, s, ts, out);
  if constexpr (OP == Op::Jvp)
    PLT ? tril_jvp_unit_lanes(dm, p, t, s, ts, out) : tril_jvp_unit_shared(dm, p, t, s, ts, out);
  if constexpr (OP == Op::Cdf)
    PLT ? tril_cdf_unit_lanes(dm, p, t, s, ts, out) : tril_cdf_unit_shared(dm, p, t, s, ts, out);
  if constexpr (OP == Op::LogTail)
    PLT ? tril_logtail_unit_lanes(dm, p, t, s, ts, out) : tril_logtail_unit_shared(dm, p, t, s, ts, out);
  if constexpr (OP == Op::LogProb)
    PLT ? tril_logprob_unit_lanes(dm, p, t, s, ts, out) : tril_logprob_unit_shared(dm, p, t, s, ts, out);
}

}  // namespace mixgrad::mixture
