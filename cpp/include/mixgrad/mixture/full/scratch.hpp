// Full-covariance mixtures: per-thread scratch of one unit beyond the diagonal Scratch: eps_k
// of every coordinate, the adjoints of eps and of the lower part of scale_tril, and the
// adjoints of one coordinate's locations and scales.
#pragma once

#include <cstddef>

#include "mixgrad/aligned_vector.hpp"
#include "mixgrad/mixture/lanes.hpp"

namespace mixgrad::mixture {

struct TrilScratch {
  aligned_vector<double> eps, teps, ebar;  // [D][K][L]
  aligned_vector<double> mbar, sbar;       // [K][L]
  aligned_vector<double> xdot;             // [D][L], the tangent of x (forward mode)
  aligned_vector<double> lbar;             // [D][D][K][L], L_kdj's adjoint at (d, j), j <= d
  void init(const Dims& dm, bool need_acc) {
    const std::size_t K = dm.K, D = dm.D;
    eps.assign(D * K * L, 0.0);
    teps.assign(D * K * L, 0.0);
    xdot.assign(D * L, 0.0);
    if (need_acc) {
      ebar.assign(D * K * L, 0.0);
      mbar.assign(K * L, 0.0);
      sbar.assign(K * L, 0.0);
      lbar.assign(D * D * K * L, 0.0);
    }
  }
};

}  // namespace mixgrad::mixture
