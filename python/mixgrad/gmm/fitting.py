"""Learning Gaussian-mixture weights by gradient ascent with REBAR and its peers, against EM.

The log-likelihood gradient with respect to the mixing logits alpha is

    d/dalpha mean_i log p(x_i) = mean_i  (d/dalpha E_{c ~ p_alpha}[p(x_i | c)]) / p(x_i),

a sum of gradients of expectations over the discrete latent class c. The stochastic methods
estimate each numerator with a discrete-gradient estimator (REBAR, REINFORCE, Concrete) applied to
f_i(c) = p(x_i | c) / p(x_i) (the per-point objective, evaluated in the C++ core over n points x
K components x S samples); the denominator p(x_i) is exact. Means and log-scales always get their
exact gradients. ``method="exact"`` uses the analytic logits gradient and ``method="em"`` runs EM.

Two parametrizations of the weights: ``"probit"`` for K = 2 (P(c = 1) = Phi(alpha), Bernoulli
REBAR with Gaussian noise, as in the reproduction report) and ``"softmax"`` for any K (categorical
REBAR with Gumbel noise).
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._seeding import SeedLike
from .em import em_step
from .model import (
    MixtureParams,
    average_log_likelihood,
    exact_gradient,
    log_responsibilities,
    weights_from_logits,
)

__all__ = ["METHODS", "FitResult", "fit"]

METHODS = ("em", "exact", "rebar", "reinforce", "concrete")


@dataclass
class FitResult:
    """Result of :func:`fit`.

    Attributes
    ----------
    weights, means, scales : ndarray
        Final parameters: (K,), (K, D), (K, D).
    log_likelihood : float
        Final average log-likelihood per data point.
    history : dict of ndarray
        Per iteration (index 0 is the initial state): ``weights`` (T+1, K), ``means``
        (T+1, K, D), ``scales`` (T+1, K, D), ``log_likelihood`` (T+1,) and
        ``gradient_variance`` (T+1,): the variance of the logits-gradient estimate used in
        each step (estimated from the per-point sample variances, averaged over the logits; 0
        for exact and EM, NaN when ``n_samples`` = 1 since one sample gives no variance).
    method, parametrization : str
    """

    weights: np.ndarray
    means: np.ndarray
    scales: np.ndarray
    log_likelihood: float
    history: dict[str, np.ndarray]
    method: str
    parametrization: str
    logits: np.ndarray = field(repr=False)


def _as_data(x: Any) -> np.ndarray:
    a = np.asarray(x)
    if a.dtype.kind not in "fiub":
        raise TypeError(f"x must be real numbers, got dtype {a.dtype}")
    a = a.astype(np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2 or a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(f"x must have shape (n,) or (n, D) with n, D >= 1, got {np.shape(x)}")
    if not np.all(np.isfinite(a)):
        raise ValueError("x contains NaN or inf")
    return a


def _initial_params(x: np.ndarray, k: int, parametrization: str, init: Any, rng: np.random.Generator) -> MixtureParams:
    n, d = x.shape
    if init is None:
        means = x[rng.choice(n, size=k, replace=False)].copy()
        scales = np.tile(np.std(x, axis=0) + 1e-3, (k, 1))
        weights = np.full(k, 1.0 / k)
    else:
        if not isinstance(init, Mapping):
            raise TypeError("init must be None or a mapping with 'weights', 'means', 'scales'")
        weights = np.asarray(init.get("weights", np.full(k, 1.0 / k)), dtype=np.float64)
        means = np.asarray(init["means"], dtype=np.float64).reshape(k, d)
        scales = np.asarray(init["scales"], dtype=np.float64).reshape(k, d)
        if weights.shape != (k,):
            raise ValueError(f"init['weights'] must have shape ({k},), got {weights.shape}")
        for name, v in (("weights", weights), ("means", means), ("scales", scales)):
            if not np.all(np.isfinite(v)):
                raise ValueError(f"init['{name}'] must be finite")
        if np.any(scales <= 0):
            raise ValueError("init['scales'] must be positive")
        if np.any(weights < 0) or not np.isclose(weights.sum(), 1.0, rtol=1e-9):
            raise ValueError("init['weights'] must be non-negative and sum to 1")
    from .em import logits_from_weights

    return MixtureParams(logits_from_weights(weights, parametrization), means, scales, parametrization)


def _logit_gradient(method: str, x: np.ndarray, params: MixtureParams, n_samples: int, seed: Any, options: dict):
    """(gradient estimate of mean_i log p(x_i) w.r.t. the logits, its single-sample variance)."""
    if method == "exact":
        return exact_gradient(x, params).logits, 0.0
    from .estimate import estimate_logit_gradient

    return estimate_logit_gradient(method, x, params, n_samples, seed, options)


def fit(
    x: Any,
    n_components: int,
    method: str = "rebar",
    *,
    n_iter: int | None = None,
    learning_rate: float = 0.05,
    n_samples: int = 16,
    seed: SeedLike = None,
    init: Mapping[str, Any] | None = None,
    parametrization: str | None = None,
    temperature: float = 0.5,
    eta: float | str = 1.0,
    reg_covar: float = 1e-6,
) -> FitResult:
    """Fit a diagonal Gaussian mixture by EM or by gradient ascent on the average log-likelihood.

    Parameters
    ----------
    x : array_like, shape (n,) or (n, D)
        Data; must be finite.
    n_components : int
        K, with 1 <= K <= n.
    method : {"em", "exact", "rebar", "reinforce", "concrete"}
        How the mixing logits are updated: EM, the analytic gradient, or a stochastic estimate of
        it (REBAR; REINFORCE, the plain score-function estimator; Concrete, biased).
    n_iter : int, optional
        Iterations (default 100 for EM, 300 for gradient methods).
    learning_rate : float
        Step size of gradient ascent on (1/n) sum_i log p(x_i) (logits, means, log-scales).
    n_samples : int
        S, Monte Carlo samples of the latent class per data point and iteration.
    seed : None, int, SeedSequence or Generator
        Seeds the initialization and every estimator call (reproducible for a fixed seed).
    init : mapping, optional
        Initial ``weights`` (K,), ``means`` (K, D), ``scales`` (K, D). Default: K distinct data
        points as means, the data's standard deviation as scales, equal weights.
    parametrization : {"probit", "softmax"}, optional
        Default: "probit" for K = 2 (the report's model), "softmax" otherwise.
    temperature, eta : float
        REBAR's lambda and eta (``eta="optimal"`` estimates the variance-minimizing scale).
    reg_covar : float
        Added to variances in EM; gradient methods keep scales >= sqrt(reg_covar).

    Returns
    -------
    FitResult
    """
    X = _as_data(x)
    n, _d = X.shape
    try:
        k = operator.index(n_components)
    except TypeError:
        raise TypeError(f"n_components must be an integer, got {type(n_components).__name__}") from None
    if not 1 <= k <= n:
        raise ValueError(f"n_components must be between 1 and the number of points ({n}), got {k}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if parametrization is None:
        parametrization = "probit" if k == 2 else "softmax"
    if parametrization not in ("probit", "softmax"):
        raise ValueError(f"parametrization must be 'probit' or 'softmax', got {parametrization!r}")
    if parametrization == "probit" and k != 2:
        raise ValueError("the probit parametrization has exactly 2 components")
    if not (np.isfinite(learning_rate) and learning_rate > 0):
        raise ValueError(f"learning_rate must be positive, got {learning_rate}")
    if operator.index(n_samples) < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples}")
    if n_iter is None:
        n_iter = 100 if method == "em" else 300
    if operator.index(n_iter) < 0:
        raise ValueError(f"n_iter must be >= 0, got {n_iter}")

    seq = (
        seed
        if isinstance(seed, np.random.SeedSequence)
        else np.random.SeedSequence(
            None if seed is None else (int(seed.integers(2**63)) if isinstance(seed, np.random.Generator) else seed)
        )
    )
    init_seq, step_seq = seq.spawn(2)
    params = _initial_params(X, k, parametrization, init, np.random.default_rng(init_seq))
    step_seeds = step_seq.spawn(n_iter)
    options = {"temperature": temperature, "eta": eta}
    min_log_scale = 0.5 * np.log(reg_covar)

    hist: dict[str, list[Any]] = {
        "weights": [],
        "means": [],
        "scales": [],
        "log_likelihood": [],
        "gradient_variance": [],
    }

    def record(p: MixtureParams, var: float) -> None:
        hist["weights"].append(weights_from_logits(p.logits, p.parametrization))
        hist["means"].append(p.means.copy())
        hist["scales"].append(p.scales.copy())
        hist["log_likelihood"].append(average_log_likelihood(X, p))
        hist["gradient_variance"].append(var)

    record(params, 0.0)
    for it in range(n_iter):
        if method == "em":
            params = em_step(X, params, reg_covar)
            record(params, 0.0)
            continue
        g = exact_gradient(X, params)
        g_logits, var = _logit_gradient(method, X, params, n_samples, step_seeds[it], options)
        log_scales = np.maximum(np.log(params.scales) + learning_rate * g.log_scales, min_log_scale)
        params = MixtureParams(
            params.logits + learning_rate * g_logits,
            params.means + learning_rate * g.means,
            np.exp(log_scales),
            parametrization,
        )
        record(params, var)

    history = {key: np.asarray(v) for key, v in hist.items()}
    return FitResult(
        weights=history["weights"][-1],
        means=params.means,
        scales=params.scales,
        log_likelihood=float(history["log_likelihood"][-1]),
        history=history,
        method=method,
        parametrization=parametrization,
        logits=params.logits,
    )


def report_data(n: int = 200, seed: SeedLike = 0) -> np.ndarray:
    """The reproduction report's 1-D data: 30% N(-3, 2^2), 70% N(3, 1^2), ``n`` points."""
    rng = np.random.default_rng(seed)
    c = rng.uniform(size=n) < 0.7
    return np.where(c, 3.0 + 1.0 * rng.standard_normal(n), -3.0 + 2.0 * rng.standard_normal(n))


def log_responsibilities_of(x: Any, result: FitResult):
    """(log p(x_i, c=k), log p(x_i)) under a fitted result (for diagnostics and plots)."""
    return log_responsibilities(
        _as_data(x), MixtureParams(result.logits, result.means, result.scales, result.parametrization)
    )
