// Gaussian mixtures (umbrella header): log density, the distributional transform (ancestral
// factorization), its inverse, exact sampling, and the implicit-reparameterization gradient
// (reverse recurrence, O(K*D) per sample) and its forward-mode product. DESIGN.md section 3.
//
// Shapes (row-major): logits [B][K], means and scales [B][K][D]; rows of x are [N][D] with
// N = S*B and row i belonging to mixture i % B (x has shape (S, B, D) in Python).
//
// Work is done in units of L rows held in "lanes": every per-(d, k) array has layout
// [d][k][lane], so each inner loop runs over L lanes with no horizontal reduction and
// vectorizes whatever K is. The parameters of a unit are either shared by all lanes (one
// mixture, layout [d][k]) or gathered per lane (a batch of mixtures, layout [d][k][lane]).
// All arithmetic is in double; float32 inputs are widened and outputs rounded once.
//
// Layout. mixture/ holds what does not depend on the covariance: the lane conventions
// (lanes.hpp), the scheduling rules (schedule.hpp), the standard normals (normals.hpp) and the
// choice of a component (pick_component.hpp). mixture/diag/ holds the diagonal-covariance
// kernels, one step per header, each including what it needs:
//   params     parameters of a unit (Prepared)      scratch    per-thread scratch of a unit
//   transform  forward recurrence (vjp/jvp/cdf)     vjp        reverse recurrence
//   log_prob   log density                          dispatch   ISA-dispatched units, run_unit
//   args       inputs of a call (Args)              drivers    per_row, vjp_rows, vjp
//   sample     sample, sample_vjp                   quantile   quantile transform and driver
// mixture/full/ holds the full-covariance kernels (scale_tril, DESIGN.md section 3.5), which run
// the diagonal per-coordinate kernels with the conditional locations m_kd supplied by a hook:
//   params     scale_tril's lower part, TrilArgs   locations  m_kd coordinate by coordinate
//   scratch    eps and the extra adjoints          vjp        reverse recurrence, O(K*D^2)
//   dispatch   ISA-dispatched units                drivers    tril_per_row, tril_vjp_rows
//   sample     tril_sample, tril_sample_vjp        quantile   tril_quantile
// Everything is in namespace mixgrad::mixture.
#pragma once

// The pieces in the order of their definitions in the former single header: GCC's code generation
// follows definition order, and in this order the module builds to the same machine code.
// clang-format off
#include "mixgrad/mixture/lanes.hpp"
#include "mixgrad/mixture/schedule.hpp"
#include "mixgrad/mixture/diag/params.hpp"
#include "mixgrad/mixture/diag/scratch.hpp"
#include "mixgrad/mixture/diag/transform.hpp"
#include "mixgrad/mixture/diag/vjp.hpp"
#include "mixgrad/mixture/diag/log_prob.hpp"
#include "mixgrad/mixture/diag/dispatch.hpp"
#include "mixgrad/mixture/diag/args.hpp"
#include "mixgrad/mixture/diag/drivers.hpp"
#include "mixgrad/mixture/normals.hpp"
#include "mixgrad/mixture/pick_component.hpp"
#include "mixgrad/mixture/diag/sample.hpp"
#include "mixgrad/mixture/diag/quantile.hpp"
#include "mixgrad/mixture/full/params.hpp"
#include "mixgrad/mixture/full/locations.hpp"
#include "mixgrad/mixture/full/scratch.hpp"
#include "mixgrad/mixture/full/vjp.hpp"
#include "mixgrad/mixture/full/dispatch.hpp"
#include "mixgrad/mixture/full/drivers.hpp"
#include "mixgrad/mixture/full/sample.hpp"
#include "mixgrad/mixture/full/quantile.hpp"
// clang-format on
