"""Expectation-maximization for diagonal Gaussian mixtures (the maximum-likelihood reference)."""

from __future__ import annotations

import numpy as np

from .. import special
from .model import MixtureParams, log_responsibilities


def em_step(x: np.ndarray, params: MixtureParams, reg_covar: float = 1e-6) -> MixtureParams:
    """One EM iteration: responsibilities, then closed-form weights, means and variances.

    ``reg_covar`` is added to every variance (as scikit-learn does) so that a component that
    collapses onto one point keeps a positive scale.
    """
    joint, log_px = log_responsibilities(x, params)
    resp = np.exp(joint - log_px[:, None])
    total = resp.sum(axis=0)
    nk = total + 10 * np.finfo(np.float64).eps
    means = resp.T @ x / nk[:, None]
    var = np.einsum("nk,nkd->kd", resp, (x[:, None, :] - means[None]) ** 2) / nk[:, None] + reg_covar
    # A component with no responsibility at all (weight zero) keeps its mean and scale: it has
    # none to estimate them from.
    empty = total == 0
    means = np.where(empty[:, None], params.means, means)
    scales = np.where(empty[:, None], params.scales, np.sqrt(var))
    weights = total / x.shape[0]
    return MixtureParams(logits_from_weights(weights, params.parametrization), means, scales, params.parametrization)


def logits_from_weights(weights: np.ndarray, parametrization: str) -> np.ndarray:
    """Inverse of gmm_model.weights_from_logits: alpha = Phi^{-1}(w_1), or log-weights."""
    if parametrization == "probit":
        w = np.asarray(weights, dtype=np.float64) / np.sum(weights)
        # from the smaller weight: Phi^{-1}(1 - 1e-300) would round to Phi^{-1}(1) = inf
        return np.array([special.ndtri(w[1]) if w[1] <= 0.5 else -special.ndtri(w[0])])
    with np.errstate(divide="ignore"):
        return np.log(weights / np.sum(weights))
