// Bernoulli with Gaussian (probit) noise: the draws, z, b, the conditional z~, dz~/dalpha and
// the score.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "mixgrad/elementary.hpp"
#include "mixgrad/philox.hpp"
#include "mixgrad/special.hpp"

namespace mixgrad::rebar {

// z = alpha + eps, b = 1[z >= 0]; z~ = alpha + e with
//   b = 0: e = ndtri_exp(log v + log Phi(-alpha));   b = 1: e = -ndtri_exp(log v + log Phi(alpha))
//   dz~/dalpha = 1 - exp(log v + log phi(alpha) - log phi(e))
// Coupled (z~ = z, e = eps): log v = log Phi(eps) - log Phi(-alpha) (b = 0),
//   log Phi(-eps) - log Phi(alpha) (b = 1).
// score: exp(log phi(alpha) - log Phi(alpha)) (b = 1), -exp(log phi(alpha) - log Phi(-alpha)) (b = 0).
static void noise_probit(std::size_t n, philox::Key key, std::uint32_t stream, bool coupled,
                         const std::uint64_t* sample, const std::uint32_t* coord, const double* alpha, const double* la,
                         const double* lb, const double* aux, double* z, double* hard, double* zt, double* dzt,
                         double* score) {
  for (std::size_t j = 0; j < n; ++j) {
    const philox::Block out =
        philox::philox4x32_10(philox::Block{static_cast<std::uint32_t>(sample[j]), coord[j], 0u, stream}, key);
    const double eps = philox::bits_to_normal((static_cast<std::uint64_t>(out[1]) << 32) | out[0]);
    const double v = philox::bits_to_open_uniform((static_cast<std::uint64_t>(out[3]) << 32) | out[2]);
    const double a = alpha[j];
    const double zz = a + eps;
    const bool b = zz >= 0.0;
    double e, lv;
    if (coupled) {
      e = eps;
      lv = b ? special::log_ndtr(-eps) - la[j] : special::log_ndtr(eps) - lb[j];
    } else {
      lv = elem::log(v);
      e = b ? -special::ndtri_exp(lv + la[j]) : special::ndtri_exp(lv + lb[j]);
    }
    z[j] = zz;
    hard[j] = b ? 1.0 : 0.0;
    zt[j] = coupled ? zz : a + e;
    dzt[j] = 1.0 - std::exp(lv + aux[j] - special::normal_logpdf(e));
    score[j] = b ? std::exp(aux[j] - la[j]) : -std::exp(aux[j] - lb[j]);
  }
}

}  // namespace mixgrad::rebar
