// Diagonal mixtures: per-thread scratch of one unit for the forward and reverse recurrences
// and log_prob (lane buffers of x and its upstream gradient, per-(d, k) arrays, accumulators).
#pragma once

#include <cstddef>

#include "mixgrad/aligned_vector.hpp"
#include "mixgrad/mixture/lanes.hpp"

namespace mixgrad::mixture {

// Per-thread scratch for one unit.
struct Scratch {
  aligned_vector<double> x, gx;                        // [D][L]
  aligned_vector<double> z, r, term;                   // [D][K][L]
  aligned_vector<double> igr, igt;                     // [D][L], the factors of r and term (Vjp)
  aligned_vector<double> ell, e, ellp, g, q, bb, lam;  // [K][L]
  aligned_vector<double> zk, rk;                       // [K][L], z and r in the modes that do not store them
  aligned_vector<double> wx, wy;                       // [K][L], the scaled form (and jvp's terms)
  aligned_vector<double> amu, as, aa;                  // accumulators [D][K][L], [K][L]
  void init(const Dims& dm, bool need_store, bool need_acc) {
    const std::size_t K = dm.K, D = dm.D;
    x.assign(D * L, 0.0);
    gx.assign(D * L, 0.0);
    for (auto* v : {&ell, &e, &ellp, &g, &q, &bb, &lam, &zk, &rk, &wx, &wy}) v->assign(K * L, 0.0);
    if (need_store) {
      for (auto* v : {&z, &r, &term}) v->assign(D * K * L, 0.0);
      igr.assign(D * L, 0.0);
      igt.assign(D * L, 0.0);
    }
    if (need_acc) {
      amu.assign(D * K * L, 0.0);
      as.assign(D * K * L, 0.0);
      aa.assign(K * L, 0.0);
    }
  }
};

}  // namespace mixgrad::mixture
