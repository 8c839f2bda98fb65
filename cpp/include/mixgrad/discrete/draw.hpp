// draw_chunk: the noise of one chunk of events and its relaxations, for every distribution kind
// (the branch that picks the noise_* kernel).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "mixgrad/discrete/buffers.hpp"
#include "mixgrad/discrete/constants.hpp"
#include "mixgrad/discrete/noise_gumbel.hpp"
#include "mixgrad/discrete/noise_logistic.hpp"
#include "mixgrad/discrete/noise_probit.hpp"
#include "mixgrad/discrete/problem.hpp"
#include "mixgrad/discrete/sigmoid.hpp"

namespace mixgrad::rebar {

// Draw the noise of the n_ev events in buf.row/buf.sample and relax it: fills z, hard, zt, dzt
// (or w), score, sz/jz (sigma(z/lam) and d sigma(z/lam)/d alpha per coordinate; categorical: the
// softmax only) and szt/jzt likewise. The events are m samples from s0 of the rows [i0, i1) of P,
// cut from a chunk of the whole call `width` coordinates wide (see for_chunks): the width and m
// pick the kernel, and the counters are the whole call's coordinates (P.r0 + i) * E + e.
inline void draw_chunk(const Problem& P, const Constants& C, Buffers& B, std::size_t n_ev, bool need_tilde,
                       std::uint64_t s0, std::size_t m, std::size_t i0, std::size_t i1, std::size_t width,
                       bool values = false) {
  const std::size_t E = P.E;
  const std::size_t g0 = (P.r0 + i0) * E;  // the counter of the chunk's first coordinate
  const std::size_t nj = n_ev * E;
  const double inv_lam = 1.0 / P.lam;
  if (P.kind == Categorical) {
    // The chunk is m samples of rows [i0, i1): m runs of nq contiguous coordinates from i0 * E.
    const std::size_t nq = (i1 - i0) * E, q0 = i0 * E, nr = i1 - i0;
    const bool fresh = !P.coupled && (need_tilde || values);
    noise_gumbel_rect(m, nq, s0, q0, g0, P.key, P.stream, fresh, C.la.data(), B.z.data(), B.F.data());
    categorical_argmax(n_ev, E, fresh, B.z.data(), B.F.data(), B.zb.data(), B.ifb.data(), B.isb.data());
    const bool tilde = need_tilde || values;
    const CategoricalPass pass{B.z.data(),  B.zb.data(),  B.F.data(),    B.ifb.data(),   B.isb.data(),
                               C.th.data(), C.ith.data(), B.hard.data(), B.score.data(), B.th.data(),
                               B.ez.data(), B.ezt.data(), B.w.data(),    B.L.data()};
    noise_categorical_relax(m, nq, q0, inv_lam, P.coupled, tilde, pass);
    categorical_normalize(n_ev, E, B.ez.data(), B.sz.data());
    if (tilde) categorical_normalize(n_ev, E, B.ezt.data(), B.szt.data());
    if (!values) return;
    for (std::size_t ev = 0; ev < n_ev; ++ev) {
      const std::size_t c0 = q0 + (ev % nr) * E;
      std::size_t best = 0;
      while (B.isb[ev * E + best] == 0.0) ++best;
      B.lfb[ev] = fresh ? std::log(B.F[ev * E + best]) : 0.0;
      for (std::size_t k = 0; k < E; ++k) {
        const std::size_t j = ev * E + k;
        if (P.coupled) {
          B.zt[j] = B.z[j];
        } else if (B.F[j] * B.ith[j] * B.ifb[j] < kRatioCap || B.isb[j] != 0.0) {
          B.zt[j] = -(B.lfb[ev] + B.L[j]);
        } else {
          B.zt[j] = -(std::log(B.F[j]) - C.la[c0 + k]);
        }
      }
    }
    return;
  }
  const BernoulliOut o{B.z.data(),  B.hard.data(), B.zt.data(),  B.dzt.data(), B.score.data(),
                       B.sz.data(), B.jz.data(),   B.szt.data(), B.jzt.data()};
  const std::size_t nq = (i1 - i0) * E;
  const int K = inv_lam == 1.0 ? 1 : inv_lam == 2.0 ? 2 : 0;
  if (P.kind == BernoulliLogistic && need_tilde && !values && K != 0 && (width >= 8 || m >= 8)) {
    noise_logistic_fast(K, m, nq, s0, i0 * E, g0, width < 8, P.key, P.stream, P.coupled, inv_lam, P.alpha, C.th.data(),
                        C.ea.data(), C.ena.data(), o);
    return;
  }
  if (P.kind == BernoulliLogistic && (width >= 8 || m >= 8)) {
    noise_logistic_rect(m, nq, s0, i0 * E, g0, width < 8, P.key, P.stream, P.coupled, inv_lam, P.alpha, C.la.data(),
                        C.lb.data(), C.th.data(), C.ea.data(), C.ena.data(), o);
    return;
  }
  if (P.kind == BernoulliProbit && !values && (width >= 8 || m >= 8)) {
    noise_probit_rect(m, nq, s0, i0 * E, g0, width < 8, P.key, P.stream, P.coupled, inv_lam, P.alpha, C.la.data(),
                      C.lb.data(), C.th.data(), C.thc.data(), C.aux.data(), C.score1.data(), C.score0.data(), o);
    return;
  }
  for (std::size_t ev = 0; ev < n_ev; ++ev) {
    const std::size_t c0 = static_cast<std::size_t>(B.row[ev]) * E;
    for (std::size_t e = 0; e < E; ++e) {
      const std::size_t j = ev * E + e;
      B.coord[j] = static_cast<std::uint32_t>(P.r0 * E + c0 + e);
      B.sample_j[j] = B.sample[ev];
      B.alpha[j] = P.alpha[c0 + e];
      B.la[j] = C.la[c0 + e];
      B.lb[j] = C.lb[c0 + e];
      B.th[j] = C.th[c0 + e];
      B.aux[j] = C.aux[c0 + e];
      B.ea[j] = C.ea[c0 + e];
      B.ena[j] = C.ena[c0 + e];
    }
  }
  if (P.kind == BernoulliLogistic) {
    noise_logistic_flat(nj, P.key, P.stream, P.coupled, inv_lam, B.sample_j.data(), B.coord.data(), B.alpha.data(),
                        B.la.data(), B.lb.data(), B.th.data(), B.ea.data(), B.ena.data(), o);
    return;
  }
  noise_probit(nj, P.key, P.stream, P.coupled, B.sample_j.data(), B.coord.data(), B.alpha.data(), B.la.data(),
               B.lb.data(), B.aux.data(), B.z.data(), B.hard.data(), B.zt.data(), B.dzt.data(), B.score.data());
  double* sz = B.sz.data();
  double* jz = B.jz.data();
  double* szt = B.szt.data();
  double* jzt = B.jzt.data();
  const double* z = B.z.data();
  const double* zt = B.zt.data();
  const double* dzt = B.dzt.data();
#pragma omp simd
  for (std::size_t j = 0; j < nj; ++j) {
    double s, ds;
    sigmoid_and_slope(z[j] * inv_lam, s, ds);
    sz[j] = s;
    jz[j] = ds * inv_lam;  // dz/dalpha = 1
  }
  if (need_tilde) {
#pragma omp simd
    for (std::size_t j = 0; j < nj; ++j) {
      double s, ds;
      sigmoid_and_slope(zt[j] * inv_lam, s, ds);
      szt[j] = s;
      jzt[j] = ds * inv_lam * dzt[j];
    }
  }
}

}  // namespace mixgrad::rebar
