"""Stochastic estimates of the GMM log-likelihood gradient with respect to the mixing logits.

For data points x_i the average log-likelihood gradient is

    g = (1/n) sum_i  d/dalpha E_{c ~ p_alpha}[p(x_i | c)] / p(x_i)
      = (1/n) sum_i  d/dalpha E_{c ~ p_alpha}[f_i(c)],     f_i(c) = p(x_i | c) / p(x_i),

with p(x_i) held fixed at the current parameters (it is the exact denominator, so the estimate
of g is unbiased). Each data point gets its own latent class: the distribution has one batch row
per point (logits broadcast to (n, K), or (n, 1) for the probit model), and the estimator draws
S samples for every row. The per-row estimates are averaged over rows (points) and samples.
The objective table f_i(k) is evaluated in the C++ core.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .. import estimators
from ..discrete import Bernoulli, Categorical
from ..mixture import DiagGaussianMixture
from ..objectives import GMMComponentLikelihood
from .model import MixtureParams, log_weights_from_logits

_ESTIMATORS = {
    # The plain score-function estimator, f(c) * d log p(c) / d alpha, without a baseline: the
    # REINFORCE of Williams (1992) and of the REBAR paper's comparisons.
    "reinforce": lambda obj, dist, s, seed, opts: estimators.reinforce(
        obj, dist, s, seed=seed, baseline=opts.get("baseline"), keep_samples=False
    ),
    "rebar": lambda obj, dist, s, seed, opts: estimators.rebar(
        obj,
        dist,
        s,
        seed=seed,
        temperature=opts.get("temperature", 0.5),
        eta=opts.get("eta", 1.0),
        baseline=opts.get("baseline"),
        keep_samples=False,
    ),
    "concrete": lambda obj, dist, s, seed, opts: estimators.concrete(
        obj, dist, s, seed=seed, temperature=opts.get("temperature", 0.5), keep_samples=False
    ),
}


def latent_distribution(params: MixtureParams, n_points: int):
    """The distribution of the n latent classes: one batch row per data point."""
    if params.parametrization == "probit":
        # P(c = 1) = Phi(alpha): Gaussian (probit) noise, c = 1[alpha + n >= 0].
        return Bernoulli(np.full((n_points, 1), float(params.logits.reshape(-1)[0])), noise="gaussian")
    return Categorical(np.broadcast_to(params.logits, (n_points, params.n_components)).copy())


def point_objective(x: np.ndarray, params: MixtureParams) -> GMMComponentLikelihood:
    """f_i(c) = p(x_i | c) / p(x_i), row i = data point i."""
    # log p(x_i) by the C++ mixture kernel (log-sum-exp over components, no underflow).
    log_w = log_weights_from_logits(params.logits, params.parametrization)
    log_px = DiagGaussianMixture(log_w, params.means, params.scales).log_prob(x)
    return GMMComponentLikelihood(x, params.means, params.scales, log_normalizer=log_px)


def estimate_logit_gradient(
    method: str, x: np.ndarray, params: MixtureParams, n_samples: int, seed: Any, options: Mapping[str, Any]
) -> tuple[np.ndarray, float]:
    """Estimate d/dalpha (1/n) sum_i log p(x_i) with ``n_samples`` samples per point.

    Returns the estimate (shape of ``params.logits``) and its variance (the variance of the
    returned average, estimated from the per-point sample variances, averaged over the logits).
    """
    if method not in _ESTIMATORS:
        raise ValueError(f"method must be one of {tuple(_ESTIMATORS)}, got {method!r}")
    n = x.shape[0]
    est = _ESTIMATORS[method](point_objective(x, params), latent_distribution(params, n), n_samples, seed, options)
    grad = np.asarray(est.mean, dtype=np.float64).mean(axis=0).reshape(params.logits.shape)
    # Points are independent, so Var(mean_i mean_s g_is) = sum_i Var_s(g_is) / (S n^2).
    var = float(np.mean(np.sum(est.variance, axis=0)) / (n_samples * n * n))
    # -inf logits (a component switched off) have no gradient.
    if params.parametrization == "softmax":
        grad = np.where(np.isneginf(log_weights_from_logits(params.logits, "softmax")), 0.0, grad)
    return grad, var
