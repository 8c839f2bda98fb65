// Diagonal mixtures: exact sampling (component k ~ Cat(w), then x = mu_k + sigma_k * eps), and
// sampling fused with the vjp of the drawn rows.
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

#include "mixgrad/mixture/diag/args.hpp"
#include "mixgrad/mixture/diag/drivers.hpp"
#include "mixgrad/mixture/diag/params.hpp"
#include "mixgrad/mixture/diag/scratch.hpp"
#include "mixgrad/mixture/lanes.hpp"
#include "mixgrad/mixture/normals.hpp"
#include "mixgrad/mixture/pick_component.hpp"
#include "mixgrad/mixture/schedule.hpp"
#include "mixgrad/parallel.hpp"
#include "mixgrad/philox.hpp"

namespace mixgrad::mixture {

// Cumulative weights of every mixture, [B][K].
template <class T>
std::vector<double> weight_table(const Args<T>& a, int nthreads) {
  const std::size_t B = a.dm.B, K = a.dm.K;
  std::vector<double> cw(B * K);
  parallel::for_blocks(B, kWeightBlock * 4, nthreads, 1024, [&](std::size_t b0, std::size_t b1) {
    double buf[kWeightBlock * 16];
    std::vector<double> big;
    double* t = buf;
    if (K > 16) {
      big.resize(kWeightBlock * K);
      t = big.data();
    }
    for (std::size_t c0 = b0; c0 < b1; c0 += kWeightBlock) {
      const std::size_t n = std::min(kWeightBlock, b1 - c0);
      for (std::size_t b = 0; b < n; ++b)
        for (std::size_t k = 0; k < K; ++k) t[k * n + b] = static_cast<double>(a.logits[(c0 + b) * K + k]);
      cumulative_weights(n, K, t);
      for (std::size_t b = 0; b < n; ++b)
        for (std::size_t k = 0; k < K; ++k) cw[(c0 + b) * K + k] = t[k * n + b];
    }
  });
  return cw;
}

// Draws rows rows[0 .. count) (exactly as sample() does, with the counters of a.win) into out and
// the lane buffer s.x, with their upstream gradients in s.gx; lanes beyond count as gather_rows
// leaves them.
template <bool PL, class T>
inline void sample_rows(const Args<T>& a, philox::Key key, const double* cw, const Prepared& p, Scratch& s,
                        const std::size_t* rows, std::size_t count, NormalsBuffer& nb, T* out) {
  const std::size_t B = a.dm.B, K = a.dm.K, D = a.dm.D, W = 2 * ((D + 1) / 2);
  std::size_t whole[L];  // the rows' Philox counters
  for (std::size_t l = 0; l < count; ++l) whole[l] = whole_row(a, rows[l]);
  nb.draw(key, whole, count, D);
  const double* eps = nb.eps.data();
  for (std::size_t l = 0; l < L; ++l) {
    if (l < count) {
      const std::size_t i = rows[l], b = i % B;
      const std::size_t k = pick_component(cw + b * K, K, nb.pick[l]);
      const double* e = eps + l * W;
      const T* m = a.means + (b * K + k) * D;
      const T* sc = a.scales + (b * K + k) * D;
      for (std::size_t d = 0; d < D; ++d) {
        const T v = static_cast<T>(static_cast<double>(m[d]) + static_cast<double>(sc[d]) * e[d]);
        out[i * D + d] = v;
        s.x[d * L + l] = static_cast<double>(v);
        s.gx[d * L + l] = static_cast<double>(a.gx[i * D + d]);
      }
    } else {
      for (std::size_t d = 0; d < D; ++d) {
        s.x[d * L + l] = p.mu[detail::at<PL>(d * K, l)];
        s.gx[d * L + l] = 0.0;
      }
    }
  }
}

// sample() followed by vjp() on the same rows while they are in cache: out gets the samples
// (bit-identical to sample()), ga, gmu, gs the gradient (bit-identical to vjp() on them).
template <class T>
void sample_vjp(const Args<T>& a, philox::Key key, T* out, T* ga, T* gmu, T* gs, int nthreads) {
  const std::vector<double> cw = weight_table(a, nthreads);
  vjp_rows(a, ga, gmu, gs, nthreads,
           [&](auto layout, const Prepared& p, Scratch& s, const std::size_t* rows, std::size_t count) {
             thread_local NormalsBuffer nb;
             nb.reserve_for(a.dm.D);
             sample_rows<decltype(layout)::value>(a, key, cw.data(), p, s, rows, count, nb, out);
           });
}

template <class T>
void sample(const Args<T>& a, philox::Key key, T* out, int nthreads) {
  const Dims dm = a.dm;
  const std::size_t B = dm.B, K = dm.K, D = dm.D, N = B * a.S;
  const std::vector<double> cw = weight_table(a, nthreads);
  detail::dynamic_blocks(N, 1024, nthreads, 2048, [&](std::size_t i0, std::size_t i1) {
    const std::size_t W = 2 * ((D + 1) / 2);
    NormalsBuffer nb;
    nb.reserve_for(D);
    std::size_t rows[L];
    for (std::size_t r0 = i0; r0 < i1; r0 += L) {
      const std::size_t count = std::min(L, i1 - r0);
      for (std::size_t r = 0; r < count; ++r) rows[r] = whole_row(a, r0 + r);  // Philox counters
      nb.draw(key, rows, count, D);
      for (std::size_t r = 0; r < count; ++r) {
        const std::size_t i = r0 + r, b = i % B;
        const std::size_t k = pick_component(cw.data() + b * K, K, nb.pick[r]);
        const T* m = a.means + (b * K + k) * D;
        const T* sc = a.scales + (b * K + k) * D;
        const double* e = nb.eps.data() + r * W;
        for (std::size_t d = 0; d < D; ++d)
          out[i * D + d] = static_cast<T>(static_cast<double>(m[d]) + static_cast<double>(sc[d]) * e[d]);
      }
    }
  });
}

}  // namespace mixgrad::mixture
