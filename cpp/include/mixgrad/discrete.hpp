// Gradient estimators for discrete variables (umbrella header): REBAR (Tucker et al. 2017) and its
// peers for Bernoulli (logistic or probit noise) and categorical (Gumbel noise) variables: noise ->
// (z, b, z~) transforms, their derivatives with b held fixed, and the per-sample gradient
// estimates, with deterministic parallel reductions.
//
// Layout: logits alpha[R][E] (R rows of the distribution batch, E = D coordinates or K classes),
// S Monte Carlo samples. One Philox block per (sample s, coordinate i*E+e): counter words
// (s, i*E+e, 0, stream); its first 64 bits give u (Bernoulli probit: the normal eps), the last 64
// bits give the conditional noise v. So every number depends on (seed, s, coordinate) only.
//
// The estimate for one event (sample s, row i), all modes in one form:
//   g = w * score + c_z * d f(sigma(z))/d alpha - c_zt * d f(sigma(z~))/d alpha
//   rebar:            w = f(b) - eta_s f(sigma(z~)) - baseline[s,i],  c_z = c_zt = eta_s
//   reinforce:        w = f(b) - baseline[s,i],                        c_z = c_zt = 0
//   concrete:         w = 0, c_z = 1 (pathwise through the relaxed sample)
//   straight-through: w = 0, c_z = 1 with f' taken at the hard sample b
// (DESIGN.md section 4; formulas of section 4.1 rewritten in log space, see the noise_* headers.)
//
// The pieces, in discrete/, one responsibility per header, each including what it needs:
//   problem          Kind, Mode, Problem, check_problem   sigmoid      softplus, sigmoid
//   constants        per-coordinate constants             buffers      arrays of one chunk
//   philox_words     vectorizable Philox                  tiling       tiles and chunks
//   noise_logistic   Bernoulli, logistic noise            noise_probit Bernoulli, probit noise
//   noise_gumbel     categorical, Gumbel noise            draw         draw_chunk (picks the noise)
//   chain            f' at the relaxed point -> d/dalpha  combine      g from its parts
//   moments          running means and M2, merges         rebar_quadratic  fused REBAR, quadratic f
//   estimate         the REBAR-family driver              baselines    moving-average baseline
//   draw_noise       noise only                           exact        enumeration
// A new noise family is a noise_<family>.hpp plus its branch in draw.hpp. An estimator that does
// not fit the one form above (DisARM, ARMS, RLOO, double control variates) gets a header of its
// own beside estimate.hpp, drawing with draw.hpp and reducing with tiling.hpp and moments.hpp.
// Everything is in namespace mixgrad::rebar.
#pragma once

// The pieces in dependency order, close to the order of their definitions in the former single
// header (rebar.hpp): GCC's register allocation follows definition order.
// clang-format off
#include "mixgrad/discrete/problem.hpp"
#include "mixgrad/discrete/sigmoid.hpp"
#include "mixgrad/discrete/constants.hpp"
#include "mixgrad/discrete/buffers.hpp"
#include "mixgrad/discrete/philox_words.hpp"
#include "mixgrad/discrete/noise_logistic.hpp"
#include "mixgrad/discrete/noise_probit.hpp"
#include "mixgrad/discrete/noise_gumbel.hpp"
#include "mixgrad/discrete/draw.hpp"
#include "mixgrad/discrete/chain.hpp"
#include "mixgrad/discrete/combine.hpp"
#include "mixgrad/discrete/moments.hpp"
#include "mixgrad/discrete/rebar_quadratic.hpp"
#include "mixgrad/discrete/tiling.hpp"
#include "mixgrad/discrete/estimate.hpp"
#include "mixgrad/discrete/baselines.hpp"
#include "mixgrad/discrete/draw_noise.hpp"
#include "mixgrad/discrete/exact.hpp"
// clang-format on
