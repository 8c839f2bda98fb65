// exact(): the exact gradient of E f(b) by enumeration of the outcomes, for reference.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "mixgrad/discrete/constants.hpp"
#include "mixgrad/discrete/problem.hpp"
#include "mixgrad/objectives.hpp"
#include "mixgrad/parallel.hpp"

namespace mixgrad::rebar {

// Exact d/dalpha E[f_i(b)] for every row by enumeration (Bernoulli: 2^E outcomes; categorical: E).
// Writes value[i] = E f_i and grad[i*E + e].
template <class Obj>
void exact(int kind, const double* alpha, std::size_t R, std::size_t E, const Obj& obj, double* value, double* grad,
           int nthreads) {
  if (kind != Categorical && E > 24) throw std::invalid_argument("exact enumeration needs D <= 24");
  Problem P;
  P.kind = kind;
  P.alpha = alpha;
  P.R = R;
  P.E = E;
  P.nthreads = nthreads;
  const Constants C = make_constants(P);
  const std::size_t n_out = kind == Categorical ? E : (std::size_t(1) << E);
  parallel::for_blocks(R, 1, nthreads, 2, [&](std::size_t r0, std::size_t r1) {
    const std::size_t batch = std::max<std::size_t>(1, 4096 / E);
    std::vector<double> x(batch * E), val(batch);
    std::vector<std::uint32_t> rows(batch);
    std::vector<std::uint64_t> samples(batch, 0);
    for (std::size_t i = r0; i < r1; ++i) {
      const double* la = &C.la[i * E];
      const double* lb = &C.lb[i * E];
      const double* th = &C.th[i * E];
      const double* aux = &C.aux[i * E];
      double* g = grad + i * E;
      std::fill(g, g + E, 0.0);
      double tot = 0.0;
      for (std::size_t o0 = 0; o0 < n_out; o0 += batch) {
        const std::size_t nb = std::min(batch, n_out - o0);
        for (std::size_t c = 0; c < nb; ++c) {
          rows[c] = static_cast<std::uint32_t>(i);
          for (std::size_t e = 0; e < E; ++e)
            x[c * E + e] = kind == Categorical ? (e == o0 + c ? 1.0 : 0.0) : double(((o0 + c) >> e) & 1u);
        }
        objectives::Chunk ch{nb, E, rows.data(), samples.data(), R};
        obj.value(objectives::Point::Hard, ch, x.data(), val.data());
        for (std::size_t c = 0; c < nb; ++c) {
          const double* b = &x[c * E];
          double lp = 0.0;
          if (kind == Categorical) {
            lp = la[o0 + c];
          } else {
            for (std::size_t e = 0; e < E; ++e) lp += b[e] > 0.5 ? la[e] : lb[e];
          }
          const double pf = std::exp(lp) * val[c];
          tot += pf;
          for (std::size_t e = 0; e < E; ++e) {
            double sc;
            if (kind == Categorical)
              sc = b[e] - th[e];
            else if (kind == BernoulliLogistic)
              sc = b[e] - th[e];
            else
              sc = b[e] > 0.5 ? std::exp(aux[e] - la[e]) : -std::exp(aux[e] - lb[e]);
            g[e] += pf * sc;
          }
        }
      }
      value[i] = tot;
    }
  });
}

}  // namespace mixgrad::rebar
