// Diagonal mixtures: the ISA-dispatched entry points, one per operation (Op) and parameter layout,
// and run_unit, which picks one at compile time.
#pragma once

#include "mixgrad/config.hpp"
#include "mixgrad/mixture/diag/log_prob.hpp"
#include "mixgrad/mixture/diag/params.hpp"
#include "mixgrad/mixture/diag/scratch.hpp"
#include "mixgrad/mixture/diag/transform.hpp"
#include "mixgrad/mixture/diag/vjp.hpp"
#include "mixgrad/mixture/lanes.hpp"

namespace mixgrad::mixture {

#define MIXGRAD_MIX_UNIT(NAME, BODY)                                                                          \
  MIXGRAD_SIMD_KERNEL void NAME##_shared_kernel(const Dims& dm, const Prepared& p, Scratch& s, double* out) { \
    BODY(false);                                                                                              \
  }                                                                                                           \
  MIXGRAD_SIMD_DISPATCH(NAME##_shared)                                                                        \
  MIXGRAD_SIMD_KERNEL void NAME##_lanes_kernel(const Dims& dm, const Prepared& p, Scratch& s, double* out) {  \
    BODY(true);                                                                                               \
  }                                                                                                           \
  MIXGRAD_SIMD_DISPATCH(NAME##_lanes)

#define MIXGRAD_VJP_BODY(PLV)                     \
  (void)out;                                      \
  forward_unit<PLV, Fwd::Vjp>(dm, p, s, nullptr); \
  reverse_unit<PLV>(dm, p, s)
#define MIXGRAD_JVP_BODY(PLV) forward_unit<PLV, Fwd::Jvp>(dm, p, s, out)
#define MIXGRAD_CDF_BODY(PLV) forward_unit<PLV, Fwd::Cdf>(dm, p, s, out)
#define MIXGRAD_LOGTAIL_BODY(PLV) forward_unit<PLV, Fwd::LogTail>(dm, p, s, out)
#define MIXGRAD_LOGPROB_BODY(PLV) logprob_unit<PLV>(dm, p, s, out)

MIXGRAD_MIX_UNIT(vjp_unit, MIXGRAD_VJP_BODY)
MIXGRAD_MIX_UNIT(jvp_unit, MIXGRAD_JVP_BODY)
MIXGRAD_MIX_UNIT(cdf_unit, MIXGRAD_CDF_BODY)
MIXGRAD_MIX_UNIT(logtail_unit, MIXGRAD_LOGTAIL_BODY)
MIXGRAD_MIX_UNIT(logprob_unit, MIXGRAD_LOGPROB_BODY)

#undef MIXGRAD_MIX_UNIT
#undef MIXGRAD_VJP_BODY
#undef MIXGRAD_JVP_BODY
#undef MIXGRAD_CDF_BODY
#undef MIXGRAD_LOGTAIL_BODY
#undef MIXGRAD_LOGPROB_BODY

enum class Op { Vjp, Jvp, Cdf, LogTail, LogProb };

template <Op OP, bool PL>
inline void run_unit(const Dims& dm, const Prepared& p, Scratch& s, double* out) {
  if constexpr (OP == Op::Vjp) PL ? vjp_unit_lanes(dm, p, s, out) : vjp_unit_shared(dm, p, s, out);
  if constexpr (OP == Op::Jvp) PL ? jvp_unit_lanes(dm, p, s, out) : jvp_unit_shared(dm, p, s, out);
  if constexpr (OP == Op::Cdf) PL ? cdf_unit_lanes(dm, p, s, out) : cdf_unit_shared(dm, p, s, out);
  if constexpr (OP == Op::LogTail) PL ? logtail_unit_lanes(dm, p, s, out) : logtail_unit_shared(dm, p, s, out);
  if constexpr (OP == Op::LogProb) PL ? logprob_unit_lanes(dm, p, s, out) : logprob_unit_shared(dm, p, s, out);
}

}  // namespace mixgrad::mixture
