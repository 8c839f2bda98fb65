// Full-covariance mixtures: exact sampling (component k ~ Cat(w), then x = mu_k + L_k eps with the
// standard normals of the diagonal sampler), and sampling fused with the vjp of the drawn rows.
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

#include "mixgrad/mixture/diag/args.hpp"
#include "mixgrad/mixture/diag/sample.hpp"
#include "mixgrad/mixture/diag/scratch.hpp"
#include "mixgrad/mixture/full/drivers.hpp"
#include "mixgrad/mixture/full/params.hpp"
#include "mixgrad/mixture/lanes.hpp"
#include "mixgrad/mixture/normals.hpp"
#include "mixgrad/mixture/pick_component.hpp"
#include "mixgrad/mixture/schedule.hpp"
#include "mixgrad/philox.hpp"

namespace mixgrad::mixture {

namespace detail {

// Cumulative weights of every mixture, [B][K], as the diagonal sampler computes them.
template <class T>
std::vector<double> tril_weight_table(const TrilArgs<T>& a, int nthreads) {
  Args<T> diag;
  diag.dm = a.dm;
  diag.logits = a.logits;
  return weight_table(diag, nthreads);
}

// Row i: component k from u, the uniform of counter (i, 0), then x_d = mu_kd + sum_{j <= d} L_kdj eps_j (summed
// in j order from mu, so a diagonal L gives the diagonal sampler's mu + sigma * eps).
template <class T>
MIXGRAD_INLINE void draw_row(const TrilArgs<T>& a, const double* cw, std::size_t i, double u, const double* e, T* out) {
  const std::size_t B = a.dm.B, K = a.dm.K, D = a.dm.D, b = i % B;
  const std::size_t k = pick_component(cw + b * K, K, u);
  const T* m = a.means + (b * K + k) * D;
  const T* lk = a.tril + (b * K + k) * D * D;
  for (std::size_t d = 0; d < D; ++d) {
    double v = static_cast<double>(m[d]);
    for (std::size_t j = 0; j <= d; ++j) v += static_cast<double>(lk[d * D + j]) * e[j];
    out[d] = static_cast<T>(v);
  }
}

}  // namespace detail

template <class T>
void tril_sample(const TrilArgs<T>& a, philox::Key key, T* out, int nthreads) {
  const std::size_t D = a.dm.D, N = a.dm.B * a.S, W = 2 * ((D + 1) / 2);
  const std::vector<double> cw = detail::tril_weight_table(a, nthreads);
  detail::dynamic_blocks(N, 1024, nthreads, 2048, [&](std::size_t i0, std::size_t i1) {
    NormalsBuffer nb;
    nb.reserve_for(D);
    std::size_t rows[L];
    for (std::size_t r0 = i0; r0 < i1; r0 += L) {
      const std::size_t count = std::min(L, i1 - r0);
      for (std::size_t r = 0; r < count; ++r) rows[r] = r0 + r;
      nb.draw(key, rows, count, D);
      for (std::size_t r = 0; r < count; ++r)
        detail::draw_row(a, cw.data(), r0 + r, nb.pick[r], nb.eps.data() + r * W, out + (r0 + r) * D);
    }
  });
}

// tril_sample() followed by tril_vjp() on the same rows while they are in cache (the same
// numbers as the two calls).
template <class T>
void tril_sample_vjp(const TrilArgs<T>& a, philox::Key key, T* out, T* ga, T* gmu, T* gl, int nthreads) {
  const std::size_t D = a.dm.D, W = 2 * ((D + 1) / 2);
  const std::vector<double> cw = detail::tril_weight_table(a, nthreads);
  tril_vjp_rows(a, ga, gmu, gl, nthreads,
                [&](auto, const TrilParams& t, Scratch& s, const std::size_t* rows, std::size_t count) {
                  thread_local NormalsBuffer nb;
                  nb.reserve_for(D);
                  nb.draw(key, rows, count, D);
                  for (std::size_t l = 0; l < count; ++l)
                    detail::draw_row(a, cw.data(), rows[l], nb.pick[l], nb.eps.data() + l * W, out + rows[l] * D);
                  TrilArgs<T> drawn = a;
                  drawn.x = out;
                  gather_tril_rows(drawn, t, s, rows, count);
                });
}

}  // namespace mixgrad::mixture
