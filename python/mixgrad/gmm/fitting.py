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

Defaults that converge: means, scales and weights start from k-means++ seeding and Lloyd
iterations on the standardized data (as scikit-learn's ``init_params="kmeans"``), and the
gradient methods take natural-gradient steps (the complete-data Fisher information as
preconditioner: EM's update to first order, see :func:`fit`). Iterations stop when the average
log-likelihood changes by less than ``tol`` (for the stochastic methods: that of a running
average of the parameters, over a window); otherwise a :class:`ConvergenceWarning` is issued.
"""

from __future__ import annotations

import math
import warnings
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import special
from .._checks import check_count, check_real, real_array
from .._seeding import SeedLike, seed_sequence
from ..discrete import MAX_SAMPLES, check_temperature
from .em import em_step, logits_from_weights
from .model import (
    MixtureParams,
    average_log_likelihood,
    exact_gradient,
    log_responsibilities,
    weights_from_logits,
)

__all__ = ["METHODS", "OPTIMIZERS", "ConvergenceWarning", "FitResult", "fit"]

METHODS = ("em", "exact", "rebar", "reinforce", "concrete")
STOCHASTIC_METHODS = ("rebar", "reinforce", "concrete")
OPTIMIZERS = ("natural", "gradient")

# Defaults per method family.
_DEFAULT_MAX_ITER = {"em": 500, "exact": 500, "stochastic": 3000}
# keyed by (optimizer, stochastic)
_DEFAULT_LEARNING_RATE = {
    ("natural", False): 1.0,
    ("natural", True): 0.25,
    ("gradient", False): 0.05,
    ("gradient", True): 0.05,
}
DEFAULT_TOL = 1e-6
# Window (iterations) of the running average of the parameters of the stochastic methods.
AVERAGE_WINDOW = 50
# A weight that starts positive never goes below this in a natural step (its logit stays finite).
_MIN_WEIGHT = 1e-300


class ConvergenceWarning(UserWarning):
    """:func:`fit` stopped at ``max_iter`` before the log-likelihood changed by less than ``tol``.

    Raise ``max_iter``, or loosen ``tol``; the result (``converged_ == False``) holds the last
    parameters.
    """


@dataclass
class FitResult:
    """Result of :func:`fit`.

    Attributes
    ----------
    weights, means, scales : ndarray
        Final parameters: (K,), (K, D), (K, D). For the stochastic methods (``"rebar"``,
        ``"reinforce"``, ``"concrete"``) these are the running average of the iterates (the mean
        of (logits, means, log-scales) over the last ``AVERAGE_WINDOW`` = 50 iterations), which
        carries much less of the gradient noise than the last iterate.
    log_likelihood : float
        Average log-likelihood per data point at the returned parameters.
    history : dict of ndarray
        Per iteration (index 0 is the initial state): ``weights`` (T+1, K), ``means``
        (T+1, K, D), ``scales`` (T+1, K, D), ``log_likelihood`` (T+1,) of the iterates, and
        ``gradient_variance`` (T+1,): the variance of the logits-gradient estimate used in each
        step (estimated from the per-point sample variances, averaged over the logits; 0 for
        exact and EM, NaN when ``n_samples`` = 1 since one sample gives no variance). The
        stochastic methods add ``averaged_log_likelihood`` (T+1,), the log-likelihood at the
        running average, which the stopping rule watches.
    method, parametrization, optimizer : str
    converged_ : bool
        Whether the stopping rule (``tol``) was met before ``max_iter`` iterations.
    n_iter_ : int
        Iterations run.
    """

    weights: np.ndarray
    means: np.ndarray
    scales: np.ndarray
    log_likelihood: float
    history: dict[str, np.ndarray]
    method: str
    parametrization: str
    logits: np.ndarray = field(repr=False)
    converged_: bool = False
    n_iter_: int = 0
    optimizer: str = "natural"


def _as_data(x: Any) -> np.ndarray:
    a = real_array(x, "x")
    a = a.astype(np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2 or a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(f"x must have shape (n,) or (n, D) with n, D >= 1, got {np.shape(x)}")
    if not np.all(np.isfinite(a)):
        raise ValueError("x contains NaN or inf")
    return a


# ---------------------------------------------------------------- initialization


def _kmeans(z: np.ndarray, k: int, rng: np.random.Generator, n_lloyd: int = 100) -> np.ndarray:
    """Cluster labels of the rows of ``z``: k-means++ seeding (D^2 sampling) then Lloyd steps."""
    n = z.shape[0]
    centers = np.empty((k, z.shape[1]))
    centers[0] = z[rng.integers(n)]
    d2 = np.sum((z - centers[0]) ** 2, axis=1)
    for j in range(1, k):
        total = d2.sum()
        idx = rng.choice(n, p=d2 / total) if total > 0 else rng.integers(n)
        centers[j] = z[idx]
        d2 = np.minimum(d2, np.sum((z - centers[j]) ** 2, axis=1))
    labels = np.full(n, -1)
    for _ in range(n_lloyd):
        dist = np.sum((z[:, None, :] - centers[None]) ** 2, axis=2)
        new = np.argmin(dist, axis=1)
        if np.array_equal(new, labels):
            break
        labels = new
        for j in range(k):
            members = z[labels == j]
            if len(members):
                centers[j] = members.mean(axis=0)
    return labels


def _kmeans_init(x: np.ndarray, k: int, reg_covar: float, rng: np.random.Generator):
    """Weights, means and scales from k-means clusters of the standardized data.

    A cluster with fewer than two points gets the pooled within-cluster variance (never a
    zero spread); ``reg_covar`` is added to every variance, as in EM.
    """
    n, d = x.shape
    centre = x.mean(axis=0)
    spread = x.std(axis=0)
    spread = np.where(spread > 0, spread, 1.0)
    labels = _kmeans((x - centre) / spread, k, rng)
    counts = np.bincount(labels, minlength=k).astype(np.float64)
    means = np.empty((k, d))
    var = np.zeros((k, d))
    for j in range(k):
        members = x[labels == j]
        means[j] = members.mean(axis=0) if len(members) else x[rng.integers(n)]
        if len(members) > 1:
            var[j] = members.var(axis=0)
    pooled_n = np.sum(np.maximum(counts - 1, 0))
    pooled = np.sum(var * counts[:, None], axis=0) / pooled_n if pooled_n > 0 else x.var(axis=0)
    pooled = np.where(pooled > 0, pooled, np.where(x.var(axis=0) > 0, x.var(axis=0), 1.0))
    var = np.where((counts[:, None] > 1) & (var > 0), var, pooled[None, :]) + reg_covar
    # Empty clusters (possible only with duplicated points) get a small share, not zero: a
    # zero weight would stay zero for ever.
    weights = np.maximum(counts, 0.5) / np.sum(np.maximum(counts, 0.5))
    return weights, means, np.sqrt(var)


def _initial_params(
    x: np.ndarray, k: int, parametrization: str, init: Any, reg_covar: float, rng: np.random.Generator
) -> MixtureParams:
    d = x.shape[1]
    if init is None:
        weights, means, scales = _kmeans_init(x, k, reg_covar, rng)
    else:
        if not isinstance(init, Mapping):
            raise TypeError("init must be None or a mapping with 'weights', 'means', 'scales'")
        unknown = set(init) - {"weights", "means", "scales"}
        if unknown:
            raise ValueError(f"init: unknown keys {sorted(unknown)}")
        missing = {"means", "scales"} - set(init)
        if missing:
            raise ValueError(f"init needs 'means' and 'scales' (and optionally 'weights'); missing {sorted(missing)}")
        weights = real_array(init.get("weights", np.full(k, 1.0 / k)), "init['weights']").astype(np.float64)
        means = real_array(init["means"], "init['means']").astype(np.float64)
        scales = real_array(init["scales"], "init['scales']").astype(np.float64)
        if weights.shape != (k,):
            raise ValueError(f"init['weights'] must have shape ({k},), got {weights.shape}")
        for name, v in (("means", means), ("scales", scales)):
            if v.shape != (k, d) and not (d == 1 and v.shape == (k,)):
                raise ValueError(f"init['{name}'] must have shape ({k}, {d}), got {v.shape}")
        means, scales = means.reshape(k, d), scales.reshape(k, d)
        for name, v in (("weights", weights), ("means", means), ("scales", scales)):
            if not np.all(np.isfinite(v)):
                raise ValueError(f"init['{name}'] must be finite")
        if np.any(scales <= 0):
            raise ValueError("init['scales'] must be positive")
        if np.any(weights < 0) or not np.isclose(weights.sum(), 1.0, rtol=1e-9, atol=0):
            raise ValueError(f"init['weights'] must be non-negative and sum to 1, got {weights}")
        weights = weights / weights.sum()
    return MixtureParams(logits_from_weights(weights, parametrization), means, scales, parametrization)


# ---------------------------------------------------------------- steps


def _logit_gradient(method: str, x: np.ndarray, params: MixtureParams, n_samples: int, seed: Any, options: dict):
    """(gradient estimate of mean_i log p(x_i) w.r.t. the logits, its variance)."""
    if method == "exact":
        return exact_gradient(x, params).logits, 0.0
    if params.parametrization == "probit" and not np.isfinite(params.logits).all():
        # weights (1, 0) or (0, 1): alpha = -+inf, which no finite step can move
        return np.zeros_like(params.logits), 0.0
    from .estimate import estimate_logit_gradient

    return estimate_logit_gradient(method, x, params, n_samples, seed, options)


def _gradient_step(params: MixtureParams, g, g_logits: np.ndarray, lr: float, min_log_scale: float) -> MixtureParams:
    """Plain gradient ascent on (logits, means, log-scales): the reproduction report's rule."""
    with np.errstate(over="ignore", invalid="ignore"):  # divergence is reported by _check_finite
        log_scales = np.maximum(np.log(params.scales) + lr * g.log_scales, min_log_scale)
        return MixtureParams(
            params.logits + lr * g_logits, params.means + lr * g.means, np.exp(log_scales), params.parametrization
        )


def _responsibility_estimate(params: MixtureParams, g_logits: np.ndarray) -> np.ndarray:
    """The average responsibilities rbar implied by a (possibly estimated) logits gradient.

    Softmax: g_k = rbar_k - pi_k. Probit: g = phi(alpha) (rbar_1 - w_1) / (w_0 w_1), so
    rbar_1 = w_1 + g w_0 w_1 / phi(alpha) (the factor computed in logs). Linear in g, so an
    unbiased gradient estimate gives an unbiased estimate of rbar.
    """
    w = weights_from_logits(params.logits, params.parametrization)
    if params.parametrization == "softmax":
        return w + np.where(w > 0, g_logits, 0.0)
    alpha = float(params.logits.reshape(-1)[0])
    if not math.isfinite(alpha):
        return w
    log_phi = -0.5 * alpha * alpha - 0.5 * math.log(2 * math.pi)
    factor = math.exp(float(special.log_ndtr(alpha)) + float(special.log_ndtr(-alpha)) - log_phi)
    r1 = w[1] + float(g_logits.reshape(-1)[0]) * factor
    return np.array([1.0 - r1, r1])


def _natural_step(
    x: np.ndarray, params: MixtureParams, g, g_logits: np.ndarray, lr: float, reg_covar: float
) -> MixtureParams:
    """One natural-gradient step: the gradient preconditioned by the inverse complete-data Fisher
    information, which is EM's update at lr = 1 (up to reg_covar) and a damped EM step below.

    * weights: w += lr (rbar_hat - w), rbar_hat the average responsibilities implied by the
      logits gradient (estimated for the stochastic methods, clipped into [0, 1] and
      renormalized; a positive weight stays >= 1e-300 so its logit stays finite);
    * means: mu_k += lr sigma_k^2 g_mu / rbar_k = lr (responsibility-weighted mean - mu_k);
    * variances: sigma_k^2 += lr (v_k - sigma_k^2), v_k the responsibility-weighted variance
      about the weighted mean, read off the exact gradients (sigma_k^2 (1 + g_logsigma / rbar_k)
      minus the squared mean shift); a convex combination, so always positive; floored at
      reg_covar.

    rbar_k (for means and variances) is exact: means and scales have exact gradients for every
    method. A component with rbar_k = 0 keeps its mean and scale; a weight of 0 stays 0.
    """
    joint, log_px = log_responsibilities(x, params)
    rbar = np.mean(np.exp(joint - log_px[:, None]), axis=0)
    live = rbar > 0
    safe = np.where(live, rbar, 1.0)[:, None]
    var = params.scales**2
    # EM's targets from the exact gradients: the weighted means mu + shift and the weighted
    # variances about them, sigma^2 (1 + g_logsigma / rbar) - shift^2.
    shift = np.where(live[:, None], var * g.means / safe, 0.0)
    target_var = np.where(live[:, None], var * (1.0 + g.log_scales / safe) - shift**2, var)
    means = params.means + lr * shift
    var = np.maximum((1.0 - lr) * var + lr * np.maximum(target_var, 0.0), reg_covar)
    w = weights_from_logits(params.logits, params.parametrization)
    r_hat = np.clip(_responsibility_estimate(params, g_logits), 0.0, 1.0)
    r_hat = r_hat / r_hat.sum() if r_hat.sum() > 0 else w
    w_new = (1.0 - lr) * w + lr * r_hat
    w_new = np.where(w > 0, np.maximum(w_new, _MIN_WEIGHT), 0.0)
    w_new = w_new / w_new.sum()
    return MixtureParams(
        logits_from_weights(w_new, params.parametrization), means, np.sqrt(var), params.parametrization
    )


def _check_finite(params: MixtureParams, it: int, method: str, optimizer: str) -> None:
    values = (params.means, params.scales, params.logits[np.isfinite(params.logits) | np.isnan(params.logits)])
    if not all(np.all(np.isfinite(v)) for v in values) or np.all(np.isneginf(params.logits)):
        raise FloatingPointError(
            f"gmm.fit(method={method!r}, optimizer={optimizer!r}) diverged at iteration {it}: the parameters "
            "became NaN or infinite. Use a smaller learning_rate, optimizer='natural', or init=None."
        )


class _RunningAverage:
    """Mean of (logits, means, log-scales) over the last ``window`` iterates (a sliding window,
    so that the start of the run leaves no trace once ``window`` iterations have passed)."""

    def __init__(self, params: MixtureParams, window: int) -> None:
        self.window: deque[tuple[np.ndarray, np.ndarray, np.ndarray]] = deque(maxlen=window)
        self.parametrization = params.parametrization
        self.update(params)

    def update(self, params: MixtureParams) -> None:
        self.window.append((params.logits.copy(), params.means.copy(), np.log(params.scales)))

    def params(self) -> MixtureParams:
        logits, means, log_scales = (np.mean(np.stack(parts), axis=0) for parts in zip(*self.window))
        # a weight that is zero throughout stays exactly zero (-inf logits average to -inf)
        return MixtureParams(logits, means, np.exp(log_scales), self.parametrization)


# ---------------------------------------------------------------- fit


def _check_options(temperature: Any, eta: Any) -> None:
    check_temperature(temperature)
    if isinstance(eta, str):
        if eta != "optimal":
            raise ValueError(f"eta must be a number or 'optimal', got {eta!r}")
    else:
        check_real(eta, "eta")


def fit(
    x: Any,
    n_components: int,
    method: str = "rebar",
    *,
    max_iter: int | None = None,
    tol: float = DEFAULT_TOL,
    n_iter: int | None = None,
    optimizer: str = "natural",
    learning_rate: float | None = None,
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
        it (REBAR; REINFORCE, the plain score-function estimator; Concrete, biased). Means and
        scales always get their exact gradients.
    max_iter : int, optional
        Most iterations. Default 500 for ``"em"`` and ``"exact"``, 3000 for the stochastic
        methods.
    tol : float
        Stopping rule (>= 0): EM and ``"exact"`` stop when the average log-likelihood per point
        changes by at most ``tol`` in one iteration (scikit-learn's rule, with a tighter
        default); the stochastic methods when the log-likelihood of the running average of the
        parameters changes by at most ``tol`` per iteration over a window of 50 iterations.
        ``tol=0`` runs exactly ``max_iter`` iterations. Default 1e-6.
    n_iter : int, optional
        The former name of ``max_iter``, kept for compatibility: ``n_iter=T`` runs exactly T
        iterations (``max_iter=T, tol=0``, no :class:`ConvergenceWarning`). Not together with
        ``max_iter``.
    optimizer : {"natural", "gradient"}
        Update rule of the gradient methods. ``"natural"`` (default) preconditions the gradient
        with the inverse complete-data Fisher information, which makes the step a damped EM
        step whatever the scale of the data: the weights move by ``lr`` times the distance to
        the average responsibilities implied by the (exact or estimated) logits gradient, the
        means by ``lr`` times the distance to their responsibility-weighted means, the variances
        likewise towards the weighted variances; at ``lr = 1`` with the exact gradient it is EM.
        ``"gradient"``: plain gradient ascent on (logits, means, log-scales), the reproduction
        report's rule.
    learning_rate : float, optional
        Step size. Default: 1.0 for ``"exact"`` and 0.25 for the stochastic methods with
        ``optimizer="natural"``; 0.05 with ``optimizer="gradient"``.
    n_samples : int
        S, Monte Carlo samples of the latent class per data point and iteration.
    seed : None, int, SeedSequence or Generator
        Seeds the initialization and every estimator call (reproducible for a fixed seed).
    init : mapping, optional
        Initial ``weights`` (K,) (default equal), ``means`` (K, D) and ``scales`` (K, D).
        Weights may be zero (that component then stays at weight zero). Default (None):
        k-means++ seeding and Lloyd iterations on the standardized data give the clusters;
        their fractions, means and standard deviations (a one-point cluster gets the pooled
        within-cluster spread) start the fit.
    parametrization : {"probit", "softmax"}, optional
        Default: "probit" for K = 2 (the report's model), "softmax" otherwise.
    temperature, eta : float
        REBAR's lambda and eta (``eta="optimal"`` estimates the variance-minimizing scale).
    reg_covar : float
        Non-negative; added to variances in EM and the k-means initialization; gradient
        methods keep variances >= ``reg_covar``.

    Returns
    -------
    FitResult
        With ``converged_`` and ``n_iter_``; the stochastic methods return the running average
        of their iterates.

    Warns
    -----
    ConvergenceWarning
        When ``tol > 0`` and the stopping rule was not met within ``max_iter`` iterations.

    Raises
    ------
    TypeError, ValueError
        For arguments of the wrong type or out of their domain (each message names it).
    FloatingPointError
        If the iterates become NaN or infinite (possible with ``optimizer="gradient"`` and a
        large ``learning_rate``).
    """
    X = _as_data(x)
    n, _d = X.shape
    k = check_count(n_components, "n_components", minimum=1)
    if k > n:
        raise ValueError(f"n_components must be between 1 and the number of points ({n}), got {k}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
    if parametrization is None:
        parametrization = "probit" if k == 2 else "softmax"
    if parametrization not in ("probit", "softmax"):
        raise ValueError(f"parametrization must be 'probit' or 'softmax', got {parametrization!r}")
    if parametrization == "probit" and k != 2:
        raise ValueError("the probit parametrization has exactly 2 components")
    stochastic = method in STOCHASTIC_METHODS
    if learning_rate is None:
        lr = _DEFAULT_LEARNING_RATE[optimizer, stochastic]
    else:
        lr = check_real(learning_rate, "learning_rate", positive=True)
    if optimizer == "natural" and lr > 1:
        raise ValueError(f"learning_rate must be in (0, 1] with optimizer='natural', got {learning_rate}")
    n_samples = check_count(n_samples, "n_samples", minimum=1, maximum=MAX_SAMPLES)
    reg_covar = check_real(reg_covar, "reg_covar", nonnegative=True)
    tol = check_real(tol, "tol", nonnegative=True)
    if n_iter is not None:
        if max_iter is not None:
            raise ValueError("give max_iter or its former name n_iter, not both")
        max_iter = check_count(n_iter, "n_iter", minimum=0)
        tol = 0.0
    elif max_iter is None:
        max_iter = _DEFAULT_MAX_ITER["stochastic" if stochastic else method]
    else:
        max_iter = check_count(max_iter, "max_iter", minimum=0)
    if stochastic:
        _check_options(temperature, eta)

    seq = seed_sequence(seed)
    init_seq, step_seq = seq.spawn(2)
    params = _initial_params(X, k, parametrization, init, reg_covar, np.random.default_rng(init_seq))
    options = {"temperature": temperature, "eta": eta}
    min_log_scale = 0.5 * np.log(reg_covar) if reg_covar > 0 else -np.inf

    hist: dict[str, list[Any]] = {
        "weights": [],
        "means": [],
        "scales": [],
        "log_likelihood": [],
        "gradient_variance": [],
    }
    if stochastic:
        hist["averaged_log_likelihood"] = []
        average = _RunningAverage(params, AVERAGE_WINDOW)

    def record(p: MixtureParams, var: float) -> None:
        hist["weights"].append(weights_from_logits(p.logits, p.parametrization))
        hist["means"].append(p.means.copy())
        hist["scales"].append(p.scales.copy())
        hist["log_likelihood"].append(average_log_likelihood(X, p))
        hist["gradient_variance"].append(var)
        if stochastic:
            hist["averaged_log_likelihood"].append(average_log_likelihood(X, average.params()))

    record(params, 0.0)
    converged = False
    it = 0
    for it in range(1, max_iter + 1):
        var = 0.0
        if method == "em":
            params = em_step(X, params, reg_covar)
        else:
            g = exact_gradient(X, params)
            step_seed = np.random.SeedSequence(step_seq.entropy, spawn_key=(*step_seq.spawn_key, it - 1))
            g_logits, var = _logit_gradient(method, X, params, n_samples, step_seed, options)
            if optimizer == "natural":
                params = _natural_step(X, params, g, g_logits, lr, reg_covar)
            else:
                params = _gradient_step(params, g, g_logits, lr, min_log_scale)
            _check_finite(params, it, method, optimizer)
            if stochastic:
                average.update(params)
        record(params, var)
        if tol > 0:
            if stochastic:
                ll = hist["averaged_log_likelihood"]
                if it >= 2 * AVERAGE_WINDOW and abs(ll[-1] - ll[-1 - AVERAGE_WINDOW]) <= tol * AVERAGE_WINDOW:
                    converged = True
            elif abs(hist["log_likelihood"][-1] - hist["log_likelihood"][-2]) <= tol:
                converged = True
        if converged:
            break

    if tol > 0 and not converged:
        warnings.warn(
            f"gmm.fit(method={method!r}) did not converge in max_iter={max_iter} iterations "
            f"(tol={tol}); raise max_iter or tol",
            ConvergenceWarning,
            stacklevel=2,
        )
    final = average.params() if stochastic else params
    history = {key: np.asarray(v) for key, v in hist.items()}
    return FitResult(
        weights=weights_from_logits(final.logits, parametrization),
        means=final.means,
        scales=final.scales,
        log_likelihood=average_log_likelihood(X, final),
        history=history,
        method=method,
        parametrization=parametrization,
        logits=final.logits,
        converged_=converged,
        n_iter_=it,
        optimizer=optimizer,
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
