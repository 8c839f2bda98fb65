// Full-covariance mixtures: the quantile transform, coordinate by coordinate with the diagonal
// solver (locations m_kd from the coordinates already solved, scales L_kdd), and its driver.
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

#include "mixgrad/mixture/diag/params.hpp"
#include "mixgrad/mixture/diag/quantile.hpp"
#include "mixgrad/mixture/full/dispatch.hpp"
#include "mixgrad/mixture/full/drivers.hpp"
#include "mixgrad/mixture/full/params.hpp"
#include "mixgrad/mixture/full/scratch.hpp"
#include "mixgrad/mixture/lanes.hpp"
#include "mixgrad/mixture/schedule.hpp"
#include "mixgrad/special.hpp"

namespace mixgrad::mixture {

// Rows are solved L at a time, grouped as in tril_per_row; padding lanes solve u = 1/2. With
// log_tail, u holds the signed log tails of Op::LogTail (any type U).
template <class T, class U>
void tril_quantile(const TrilArgs<T>& a, const U* u, T* out, int nthreads, bool log_tail = false) {
  const Dims dm = a.dm;
  const std::size_t B = dm.B, S = a.S, D = dm.D;
  auto load = [&](QuantileScratch& q, const std::size_t* rows, std::size_t count) {
    for (std::size_t l = 0; l < L; ++l)
      for (std::size_t d = 0; d < D; ++d)
        q.u[d * L + l] = l < count ? static_cast<double>(u[rows[l] * D + d]) : (log_tail ? -special::kLn2 : 0.5);
  };
  auto write = [&](const QuantileScratch& q, const std::size_t* rows, std::size_t count) {
    for (std::size_t l = 0; l < count; ++l)
      for (std::size_t d = 0; d < D; ++d) out[rows[l] * D + d] = static_cast<T>(q.x[d * L + l]);
  };
  auto scratch = [&](QuantileScratch& q, TrilScratch& ts) {
    q.init(dm);
    q.log_tail = log_tail;
    ts.init(dm, false);
  };
  if (tril_use_lanes(dm, S)) {
    const std::size_t groups = (B + L - 1) / L;
    detail::dynamic_blocks(groups, std::max<std::size_t>(1, groups / 64), nthreads, 2,
                           [&](std::size_t g0, std::size_t g1) {
                             Prepared p;
                             TrilParams t;
                             std::vector<T> diag, tdiag;
                             QuantileScratch q;
                             TrilScratch ts;
                             scratch(q, ts);
                             std::size_t rows[L];
                             for (std::size_t gi = g0; gi < g1; ++gi) {
                               const std::size_t b0 = gi * L, nb = std::min(L, B - b0);
                               prepare_tril<true>(a, b0, nb, p, t, diag, tdiag);
                               for (std::size_t si = 0; si < S; ++si) {
                                 for (std::size_t l = 0; l < nb; ++l) rows[l] = si * B + b0 + l;
                                 load(q, rows, nb);
                                 tril_quantile_lanes(dm, p, t, q, ts);
                                 write(q, rows, nb);
                               }
                             }
                           });
    return;
  }
  for (std::size_t b = 0; b < B; ++b) {
    Prepared p0;
    TrilParams t0;
    std::vector<T> diag, tdiag;
    prepare_tril<false>(a, b, 1, p0, t0, diag, tdiag);
    const std::size_t units = (S + L - 1) / L;
    detail::dynamic_blocks(units, 8, nthreads, 16, [&](std::size_t u0, std::size_t u1) {
      Prepared p = p0;
      QuantileScratch q;
      TrilScratch ts;
      scratch(q, ts);
      std::size_t rows[L];
      for (std::size_t un = u0; un < u1; ++un) {
        const std::size_t s0 = un * L, ns = std::min(L, S - s0);
        for (std::size_t l = 0; l < ns; ++l) rows[l] = (s0 + l) * B + b;
        load(q, rows, ns);
        tril_quantile_shared(dm, p, t0, q, ts);
        write(q, rows, ns);
      }
    });
  }
}

}  // namespace mixgrad::mixture
