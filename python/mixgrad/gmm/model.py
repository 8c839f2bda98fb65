"""The Gaussian-mixture model of the REBAR application: densities, log-likelihood, exact gradients.

Components have diagonal covariances: means and scales of shape (K, D). The mixing weights come
from one of two parametrizations:

* ``"probit"`` (K = 2, the reproduction report's model): one parameter alpha, the latent class
  is c = 1[alpha + n >= 0] with n ~ N(0, 1), so P(c = 1) = Phi(alpha) and the weights are
  (Phi(-alpha), Phi(alpha)) for components (0, 1);
* ``"softmax"`` (any K): logits a, weights softmax(a).

All log-likelihoods here are *averages over data points*, so gradients and learning rates do
not scale with the number of points.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .. import special


class MixtureParams(NamedTuple):
    """Parameters of a diagonal Gaussian mixture. ``logits`` is (1,) for probit, (K,) for softmax."""

    logits: np.ndarray
    means: np.ndarray
    scales: np.ndarray
    parametrization: str

    @property
    def n_components(self) -> int:
        return self.means.shape[0]


def weights_from_logits(logits: np.ndarray, parametrization: str) -> np.ndarray:
    """Mixing weights: (Phi(-a), Phi(a)) for probit, softmax(a) otherwise (-inf logits allowed)."""
    logits = np.asarray(logits, dtype=np.float64)
    if parametrization == "probit":
        a = float(logits.reshape(-1)[0])
        return np.array([special.ndtr(-a), special.ndtr(a)])
    return np.exp(log_weights_from_logits(logits, parametrization))


def log_weights_from_logits(logits: np.ndarray, parametrization: str) -> np.ndarray:
    logits = np.asarray(logits, dtype=np.float64)
    if parametrization == "probit":
        a = float(logits.reshape(-1)[0])
        return np.array([special.log_ndtr(-a), special.log_ndtr(a)])
    finite_max = np.max(logits)
    shifted = logits - finite_max
    return shifted - np.log(np.sum(np.exp(shifted)))


def component_log_densities(x: np.ndarray, means: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """log N(x_i; mu_k, diag(sigma_k^2)) as an (n, K) array."""
    z = (x[:, None, :] - means[None, :, :]) / scales[None, :, :]
    return -0.5 * np.sum(z * z, axis=2) - np.sum(np.log(scales), axis=1)[None, :] - 0.5 * x.shape[1] * np.log(2 * np.pi)


def log_responsibilities(x: np.ndarray, params: MixtureParams):
    """(log p(x_i, c = k) (n, K), log p(x_i) (n,)) under ``params``."""
    joint = (
        component_log_densities(x, params.means, params.scales)
        + log_weights_from_logits(params.logits, params.parametrization)[None, :]
    )
    top = np.max(joint, axis=1, keepdims=True)
    log_px = (top + np.log(np.sum(np.exp(joint - top), axis=1, keepdims=True)))[:, 0]
    return joint, log_px


def average_log_likelihood(x: np.ndarray, params: MixtureParams) -> float:
    """(1/n) sum_i log p(x_i)."""
    return float(np.mean(log_responsibilities(x, params)[1]))


class ExactGradient(NamedTuple):
    """Gradients of the average log-likelihood: logits, means, and log-scales."""

    logits: np.ndarray
    means: np.ndarray
    log_scales: np.ndarray


def exact_gradient(x: np.ndarray, params: MixtureParams) -> ExactGradient:
    """The exact gradient of (1/n) sum_i log p(x_i) with respect to all parameters.

    Logits: softmax gives mean_i (r_ik - pi_k); probit gives
    mean_i phi(alpha) (p(x_i | 1) - p(x_i | 0)) / p(x_i). Means and log-scales by the usual
    responsibility-weighted formulas.
    """
    joint, log_px = log_responsibilities(x, params)
    resp = np.exp(joint - log_px[:, None])  # r_ik
    n = x.shape[0]
    if params.parametrization == "probit":
        a = float(params.logits.reshape(-1)[0])
        # d/da log p(x) = phi(a) (p1 - p0) / p(x), in log space for the ratio p_k / p(x). The
        # component densities come directly (not as joint - log w, which is NaN for a weight 0).
        log_dens = component_log_densities(x, params.means, params.scales)
        ratio = np.exp(log_dens - log_px[:, None])
        g_logits = np.array([np.mean(_normal_pdf(a) * (ratio[:, 1] - ratio[:, 0]))])
    else:
        w = weights_from_logits(params.logits, "softmax")
        g_logits = np.mean(resp, axis=0) - w
    z = (x[:, None, :] - params.means[None]) / params.scales[None]
    g_means = np.einsum("nk,nkd->kd", resp, z / params.scales[None]) / n
    g_log_scales = np.einsum("nk,nkd->kd", resp, z * z - 1.0) / n
    return ExactGradient(g_logits, g_means, g_log_scales)


def _normal_pdf(a: float) -> float:
    return float(np.exp(-0.5 * a * a) / np.sqrt(2 * np.pi))
