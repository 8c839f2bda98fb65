// Full-covariance mixtures: the conditional locations m_kd = mu_kd + sum_{j<d} L_kdj eps_kj of
// coordinate d (DESIGN.md section 3.5), computed coordinate by coordinate. Given the locations,
// coordinate d is the 1-D mixture of the diagonal kernels with scales L_kdd, so those kernels
// run unchanged with this as their per-coordinate hook.
#pragma once

#include <cstddef>

#include "mixgrad/config.hpp"
#include "mixgrad/mixture/diag/params.hpp"
#include "mixgrad/mixture/full/params.hpp"
#include "mixgrad/mixture/lanes.hpp"

namespace mixgrad::mixture {

// Called at the start of coordinate d with x_<d in x ([D][L]): stores
// eps_k,d-1 = (x_d-1 - m_k,d-1) / L_k,d-1,d-1 (the same expression as the diagonal kernels' z,
// so the two agree to the bit) into eps ([D][K][L]) and writes m_kd into p.mu. With tangents
// (xdot non-null: the tangent of x_<d, [D][L]) it also writes the tangent of m_kd into p.tmu,
// keeping the tangents of eps in teps.
template <bool PLT>
struct TrilLocations {
  const Dims& dm;
  const TrilParams& t;
  Prepared& p;
  const double* x;
  double* eps;
  const double* xdot = nullptr;
  double* teps = nullptr;

  MIXGRAD_INLINE void operator()(std::size_t d) const {
    const std::size_t K = dm.K, D = dm.D;
    double* mu = p.mu.data();
    const double* invs = p.invs.data();
    if (d > 0) {
      const std::size_t c = d - 1;
      for (std::size_t k = 0; k < K; ++k) {
        const std::size_t i = (c * K + k) * L;
#pragma omp simd
        for (std::size_t l = 0; l < L; ++l) eps[i + l] = (x[c * L + l] - mu[i + l]) * invs[i + l];
        if (xdot) {
#pragma omp simd
          for (std::size_t l = 0; l < L; ++l)
            teps[i + l] = (xdot[c * L + l] - p.tmu[i + l] - eps[i + l] * p.ts[i + l]) * invs[i + l];
        }
      }
    }
    const double* low = t.low.data();
    for (std::size_t k = 0; k < K; ++k) {
      alignas(64) double m[L], tm[L];
      const std::size_t i = (d * K + k) * L;
#pragma omp simd
      for (std::size_t l = 0; l < L; ++l) {
        m[l] = t.mu0[i + l];
        tm[l] = xdot ? t.tmu0[i + l] : 0.0;
      }
      for (std::size_t j = 0; j < d; ++j) {
        const std::size_t dj = (d * D + j) * K + k;
        const double* e = eps + (j * K + k) * L;
#pragma omp simd
        for (std::size_t l = 0; l < L; ++l) m[l] += low[detail::at<PLT>(dj, l)] * e[l];
        if (xdot) {
          const double* te = teps + (j * K + k) * L;
#pragma omp simd
          for (std::size_t l = 0; l < L; ++l)
            tm[l] += t.tlow[detail::at<PLT>(dj, l)] * e[l] + low[detail::at<PLT>(dj, l)] * te[l];
        }
      }
#pragma omp simd
      for (std::size_t l = 0; l < L; ++l) mu[i + l] = m[l];
      if (xdot) {
#pragma omp simd
        for (std::size_t l = 0; l < L; ++l) p.tmu[i + l] = tm[l];
      }
    }
  }
};

}  // namespace mixgrad::mixture
