// Full-covariance mixtures: the parameters of one unit. The per-coordinate part (logits, the
// diagonal of scale_tril, means) goes into a diagonal Prepared in the per-lane layout, whose
// means the unit overwrites with the conditional locations m_kd; the strictly lower part of
// scale_tril (and the raw means) stay here, shared by all lanes or one mixture per lane.
#pragma once

#include <cstddef>
#include <vector>

#include "mixgrad/aligned_vector.hpp"
#include "mixgrad/mixture/diag/params.hpp"
#include "mixgrad/mixture/lanes.hpp"

namespace mixgrad::mixture {

// Shared (PLT = false): low[(d*D + j)*K + k] = L_kdj (j < d); per lane (PLT = true): [..][L].
// mu0 holds the means in the per-lane layout [d][k][L] (Prepared.mu gets the locations m_kd).
// Tangents (forward mode) in the same layouts; empty unless used.
struct TrilParams {
  aligned_vector<double> low, mu0;
  aligned_vector<double> tlow, tmu0;
};

namespace detail {

// The diagonal of mixture b's scale_tril (and of its tangent), [K][D], as load_one reads scales.
template <class T>
void tril_diagonal(const Dims& dm, const T* tril, std::size_t b, std::vector<T>& out) {
  const std::size_t K = dm.K, D = dm.D;
  out.resize(K * D);
  for (std::size_t k = 0; k < K; ++k)
    for (std::size_t d = 0; d < D; ++d) out[k * D + d] = tril[((b * K + k) * D + d) * D + d];
}

// Copy the strictly lower part of mixture b's scale_tril into lane l (or the shared slot).
template <bool PLT, class T>
void load_tril(const Dims& dm, const T* tril, const T* ttril, std::size_t b, std::size_t l, TrilParams& t) {
  const std::size_t K = dm.K, D = dm.D, W = PLT ? L : 1;
  if (t.low.size() != D * D * K * W || (ttril && t.tlow.size() != D * D * K * W)) {
    t.low.assign(D * D * K * W, 0.0);
    if (ttril) t.tlow.assign(D * D * K * W, 0.0);
  }
  for (std::size_t k = 0; k < K; ++k)
    for (std::size_t d = 0; d < D; ++d)
      for (std::size_t j = 0; j < d; ++j) {
        const std::size_t src = ((b * K + k) * D + d) * D + j, dst = at<PLT>((d * D + j) * K + k, l);
        t.low[dst] = static_cast<double>(tril[src]);
        if (ttril) t.tlow[dst] = static_cast<double>(ttril[src]);
      }
}

}  // namespace detail

// The inputs of one full-covariance call: x and gx are [N][D] (N = S*B, row i of mixture i % B),
// scale_tril [B][K][D][D]; tangents shaped as the parameters.
template <class T>
struct TrilArgs {
  Dims dm;
  std::size_t S = 1;
  const T* logits = nullptr;
  const T* means = nullptr;
  const T* tril = nullptr;
  const T* x = nullptr;
  const T* gx = nullptr;
  const T *ta = nullptr, *tmu = nullptr, *ttril = nullptr;
};

// Load mixtures b0 .. b0 + nb - 1 (nb <= L; a single mixture, nb = 1, fills every lane) into p
// (per-lane layout) and t (per lane when PLT, else mixture b0 shared). Tangents when a.ta is set.
template <bool PLT, class T>
void prepare_tril(const TrilArgs<T>& a, std::size_t b0, std::size_t nb, Prepared& p, TrilParams& t,
                  std::vector<T>& diag, std::vector<T>& tdiag) {
  const Dims& dm = a.dm;
  const bool tan = a.ta != nullptr;
  const Dims one{1, dm.K, dm.D};  // load_one indexes the extracted diagonal as mixture 0
  for (std::size_t l = 0; l < L; ++l) {
    const std::size_t b = b0 + (l < nb ? l : 0);
    detail::tril_diagonal(dm, a.tril, b, diag);
    if (tan) detail::tril_diagonal(dm, a.ttril, b, tdiag);
    const std::size_t KD = dm.K * dm.D;
    detail::load_one<true>(one, a.logits + b * dm.K, a.means + b * KD, diag.data(), 0, l, p,
                           tan ? a.ta + b * dm.K : nullptr, tan ? a.tmu + b * KD : nullptr,
                           tan ? tdiag.data() : nullptr);
    if (PLT || l == 0) detail::load_tril<PLT>(dm, a.tril, tan ? a.ttril : nullptr, b, l, t);
  }
  detail::finish_lanes(dm.K, dm.D, p);
  t.mu0 = p.mu;
  if (tan) t.tmu0 = p.tmu;
}

}  // namespace mixgrad::mixture
