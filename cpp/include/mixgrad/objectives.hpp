// Objectives f_i(x) for the discrete-gradient estimators, evaluated per event in the C++ core.
//
// An "event" is one sample of one row: E numbers x (a hard b in {0,1}^D, a one-hot class, or a
// relaxed point in (0,1)^D / the simplex), belonging to row `row` of the distribution batch and
// to Monte Carlo sample `sample`. Every objective provides, for a chunk of events laid out as
// x[ev * E + e]:
//   value(point, chunk, x, val)   val[ev] = f_row(x_ev)
//   grad(point, chunk, x, g)      g[ev * E + e] = d f_row / d x_e at x_ev
// `point` says which of the three points (hard, relaxed z, relaxed z-tilde) x is; built-in
// objectives ignore it, the precomputed one (a Python callback evaluated beforehand) uses it.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "mixgrad/config.hpp"
#include "mixgrad/elementary.hpp"

namespace mixgrad::objectives {

enum class Point : int { Hard = 0, Relaxed = 1, RelaxedTilde = 2 };

// The events of one chunk: E coordinates each, rows and samples known per event.
struct Chunk {
  std::size_t n_events = 0;
  std::size_t E = 0;
  const std::uint32_t* row = nullptr;     // [n_events]
  const std::uint64_t* sample = nullptr;  // [n_events]
  std::size_t R = 0;                      // rows of the distribution batch
};

// f(x) = mean_e (x_e - t_e)^2, the target per row (row stride 0 when shared).
struct Quadratic {
  const double* target;
  std::size_t target_row_stride;

  void value(Point, const Chunk& c, const double* x, double* val) const {
    const std::size_t E = c.E;
    if (E == 1 && target_row_stride == 0) {
      const double t = target[0];
#pragma omp simd
      for (std::size_t ev = 0; ev < c.n_events; ++ev) val[ev] = (x[ev] - t) * (x[ev] - t);
      return;
    }
    const double inv = 1.0 / static_cast<double>(E);
    for (std::size_t ev = 0; ev < c.n_events; ++ev) {
      const double* t = target + c.row[ev] * target_row_stride;
      const double* xe = x + ev * E;
      double s = 0.0;
      for (std::size_t e = 0; e < E; ++e) {
        const double d = xe[e] - t[e];
        s += d * d;
      }
      val[ev] = s * inv;
    }
  }
  void grad(Point, const Chunk& c, const double* x, double* g) const {
    const std::size_t E = c.E;
    const double two_inv = 2.0 / static_cast<double>(E);
    if (E == 1 && target_row_stride == 0) {
      const double t = target[0];
#pragma omp simd
      for (std::size_t ev = 0; ev < c.n_events; ++ev) g[ev] = 2.0 * (x[ev] - t);
      return;
    }
    for (std::size_t ev = 0; ev < c.n_events; ++ev) {
      const double* t = target + c.row[ev] * target_row_stride;
      const double* xe = x + ev * E;
      double* ge = g + ev * E;
#pragma omp simd
      for (std::size_t e = 0; e < E; ++e) ge[e] = two_inv * (xe[e] - t[e]);
    }
  }
};

// f(x) = x^T A x + c . x + d with A (E x E) shared by all rows, c and d per row (stride 0 when
// shared).
struct QuadraticForm {
  const double* A;  // [E * E], row-major
  const double* c;
  std::size_t c_row_stride;
  const double* d;
  std::size_t d_row_stride;

  void value(Point, const Chunk& ch, const double* x, double* val) const {
    const std::size_t E = ch.E;
    for (std::size_t ev = 0; ev < ch.n_events; ++ev) {
      const double* xe = x + ev * E;
      const double* ce = c + ch.row[ev] * c_row_stride;
      double s = d[ch.row[ev] * d_row_stride];
      for (std::size_t a = 0; a < E; ++a) {
        double r = ce[a];
        const double* Aa = A + a * E;
        for (std::size_t b = 0; b < E; ++b) r += Aa[b] * xe[b];
        s += r * xe[a];
      }
      val[ev] = s;
    }
  }
  void grad(Point, const Chunk& ch, const double* x, double* g) const {
    const std::size_t E = ch.E;
    for (std::size_t ev = 0; ev < ch.n_events; ++ev) {
      const double* xe = x + ev * E;
      const double* ce = c + ch.row[ev] * c_row_stride;
      double* ge = g + ev * E;
      for (std::size_t a = 0; a < E; ++a) {
        double r = ce[a];
        for (std::size_t b = 0; b < E; ++b) r += (A[a * E + b] + A[b * E + a]) * xe[b];
        ge[a] = r;
      }
    }
  }
};

// f_i(x) = c0_i + W_i . x (the GMM component likelihood after its density table is built).
struct RowLinear {
  const double* W;   // [R * E]
  const double* c0;  // [R]

  void value(Point, const Chunk& ch, const double* x, double* val) const {
    const std::size_t E = ch.E;
    for (std::size_t ev = 0; ev < ch.n_events; ++ev) {
      const double* w = W + ch.row[ev] * E;
      const double* xe = x + ev * E;
      double s = 0.0;
#pragma omp simd reduction(+ : s)
      for (std::size_t e = 0; e < E; ++e) s += w[e] * xe[e];
      val[ev] = c0[ch.row[ev]] + s;
    }
  }
  void grad(Point, const Chunk& ch, const double* /*x*/, double* g) const {
    const std::size_t E = ch.E;
    for (std::size_t ev = 0; ev < ch.n_events; ++ev) {
      const double* w = W + ch.row[ev] * E;
      double* ge = g + ev * E;
#pragma omp simd
      for (std::size_t e = 0; e < E; ++e) ge[e] = w[e];
    }
  }
};

// Values and gradients computed beforehand (a Python callback), indexed by (sample, row).
// Arrays are laid out [S][R] (values) and [S][R][E] (gradients); null where not needed.
struct Precomputed {
  const double* value_hard;
  const double* value_tilde;
  const double* grad_hard;
  const double* grad_relaxed;
  const double* grad_tilde;

  void value(Point p, const Chunk& ch, const double*, double* val) const {
    const double* src = p == Point::Hard ? value_hard : value_tilde;
    for (std::size_t ev = 0; ev < ch.n_events; ++ev) val[ev] = src[ch.sample[ev] * ch.R + ch.row[ev]];
  }
  void grad(Point p, const Chunk& ch, const double*, double* g) const {
    const double* src = p == Point::Hard ? grad_hard : (p == Point::Relaxed ? grad_relaxed : grad_tilde);
    const std::size_t E = ch.E;
    for (std::size_t ev = 0; ev < ch.n_events; ++ev) {
      const double* s = src + (ch.sample[ev] * ch.R + ch.row[ev]) * E;
      for (std::size_t e = 0; e < E; ++e) g[ev * E + e] = s[e];
    }
  }
};

// Density table of a diagonal Gaussian mixture's components for the GMM objective:
// out[i * K + k] = exp(log N(x_i; mu_k, diag(sigma_k^2)) - log_norm_i).
inline void gmm_component_table(const double* x, std::size_t i0, std::size_t i1, std::size_t Dx, const double* means,
                                const double* scales, std::size_t K, const double* log_norm, double* out) {
  constexpr double kHalfLog2Pi = 0.918938533204672741780;
  for (std::size_t i = i0; i < i1; ++i) {
    const double* xi = x + i * Dx;
    for (std::size_t k = 0; k < K; ++k) {
      const double* mu = means + k * Dx;
      const double* sd = scales + k * Dx;
      double lp = 0.0;
      for (std::size_t d = 0; d < Dx; ++d) {
        const double t = (xi[d] - mu[d]) / sd[d];
        lp += -0.5 * t * t - std::log(sd[d]) - kHalfLog2Pi;
      }
      out[i * K + k] = std::exp(lp - (log_norm ? log_norm[i] : 0.0));
    }
  }
}

}  // namespace mixgrad::objectives
