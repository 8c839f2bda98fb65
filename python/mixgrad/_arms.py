"""DisARM, ARMS, RLOO and double control variates (DESIGN.md section 4.4).

The public names live in :mod:`mixgrad.estimators` (imported there); this module holds them to
keep that file small. Same signature as every estimator:
``name(objective, distribution, n_samples, seed=None, **options) -> GradientEstimate``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._loader import _core
from ._seeding import SeedLike, philox_key
from ._threads import resolve_nthreads
from .discrete import WHOLE_ROWS, Bernoulli, Categorical, RowWindow, _Discrete
from .estimators import GradientEstimate, _check_args, _finish, _loo_mean, _run, reinforce
from .objectives import Callback, Objective


def _check_logistic_bernoulli(distribution, name: str) -> None:
    if not isinstance(distribution, Bernoulli) or distribution.kind != 0:
        got = (
            f"Bernoulli(noise={distribution.noise_type!r})"
            if isinstance(distribution, Bernoulli)
            else type(distribution).__name__
        )
        raise ValueError(
            f"{name} supports mixgrad.Bernoulli with logistic parameterization (noise='logistic') only, got {got}"
        )


def _check_disarm_distribution(distribution) -> bool:
    """True for a categorical distribution (stick-breaking DisARM), False for logistic Bernoulli."""
    if isinstance(distribution, Categorical):
        if distribution.event_size < 2:
            raise ValueError(f"disarm needs a Categorical with K >= 2 classes, got K = {distribution.event_size}")
        return True
    _check_logistic_bernoulli(distribution, "disarm")
    return False


def _check_n_draws(n_draws) -> int:
    if not isinstance(n_draws, (int, np.integer)) or isinstance(n_draws, bool):
        raise TypeError(f"n_draws must be an integer, got {type(n_draws).__name__}")
    if n_draws < 2:
        raise ValueError(f"n_draws must be >= 2 (mutually antithetic draws per group), got {n_draws}")
    if n_draws > 4096:
        raise ValueError(f"n_draws must be <= 4096, got {n_draws}")
    return int(n_draws)


def _antithetic(
    objective, dist, S, n, pair, seed, keep_samples, nthreads, diag, window: RowWindow = WHOLE_ROWS, categorical=False
):
    if S * n >= 2**32:
        raise ValueError("n_samples * n_draws must be < 2**32")
    k0, k1 = philox_key(seed)
    nt = resolve_nthreads(nthreads)

    def estimate(keep: bool, want_mean: bool, draws_only: bool, spec) -> tuple:
        """One call of the kernel on the same draws (same key and stream): only what it returns differs."""
        return _core.arms_estimate(
            dist._alpha2d,
            S,
            n,
            pair,
            k0,
            k1,
            0,
            keep,
            want_mean,
            draws_only,
            spec[0],
            spec[1],
            nt,
            window.r0,
            window.R_whole,
            categorical,
        )

    if isinstance(objective, Callback):
        draws = estimate(False, False, True, ("none", []))[0]
        values = objective.value(draws.reshape((S * n, *dist.shape))).reshape(-1)
        spec = ("precomputed", [np.ascontiguousarray(values, dtype=np.float64), None, None, None, None])
    else:
        spec = objective._spec(dist)
    out = estimate(keep_samples, True, False, spec)
    diag.update({"n_draws": n, "n_evaluations": S * n})
    return _finish(dist, S, (*out, None), keep_samples, diag)


def disarm(
    objective: Objective,
    distribution: _Discrete,
    n_samples: int,
    seed: SeedLike = None,
    *,
    keep_samples: bool = True,
    nthreads: int | None = None,
    _window: RowWindow = WHOLE_ROWS,
) -> GradientEstimate:
    """DisARM / U2G (Dong, Mnih & Tucker 2020; Yin et al. 2020) for Bernoulli logits, and its
    categorical stick-breaking form (Dong, Mnih & Tucker 2021).

    Bernoulli, per antithetic pair: ``u ~ U(0, 1)^D``, ``b = 1[u < sigmoid(alpha)]``,
    ``b~ = 1[1 - u < sigmoid(alpha)]`` and
    ``g_d = 1/2 (f(b) - f(b~)) (-1)^{b~_d} 1[b_d != b~_d] sigmoid(|alpha_d|)``. Unbiased; two
    evaluations of ``f`` per pair, no gradient of ``f``.

    Categorical (K classes per row): the class is the first ``k`` with ``c_k = 1`` in a chain of
    binary decisions ``c_k ~ Bernoulli(sigmoid(beta_k))``,
    ``beta_k = alpha_k - logsumexp(alpha_{k+1}, ..., alpha_{K-1})``; the Bernoulli estimate on
    ``beta`` (one antithetic pair of chains, the decisions after both stops dropped) is carried to
    ``alpha`` by the chain rule. See ``docs/estimators.md``.

    Parameters
    ----------
    objective : Objective
        A built-in objective or a :class:`~mixgrad.Callback` (its ``value`` only; a categorical
        draw reaches it one-hot).
    distribution : Bernoulli or Categorical
        Bernoulli with ``noise="logistic"`` (``theta = sigmoid(alpha)``), or Categorical with
        ``K >= 2`` classes.
    n_samples : int
        Number of independent antithetic *pairs* (>= 1); ``f`` is evaluated ``2 * n_samples``
        times (``diagnostics["n_evaluations"]``).
    seed : None, int, SeedSequence or Generator
    keep_samples : bool
        If False, ``samples`` is None and mean/variance are accumulated in C++.
    nthreads : int, optional

    Returns
    -------
    GradientEstimate
        ``samples[s]`` is the estimate of pair ``s`` (i.i.d. over pairs, so ``stderr`` is exact).
    """
    S = _check_args(objective, distribution, n_samples)
    categorical = _check_disarm_distribution(distribution)
    diag: dict[str, Any] = {"estimator": "disarm"}
    if categorical:
        diag["form"] = "stick_breaking"
    return _antithetic(objective, distribution, S, 2, True, seed, keep_samples, nthreads, diag, _window, categorical)


def arms(
    objective: Objective,
    distribution: _Discrete,
    n_samples: int,
    seed: SeedLike = None,
    *,
    n_draws: int = 4,
    keep_samples: bool = True,
    nthreads: int | None = None,
    _window: RowWindow = WHOLE_ROWS,
) -> GradientEstimate:
    """ARMS (Dimitriev & Zhou 2021): ``n_draws`` mutually antithetic Bernoulli draws through the
    Dirichlet copula, an RLOO-form estimate times a debiasing factor.

    Per group and coordinate: ``d ~ Dirichlet(1, ..., 1)``, ``u_j = 1 - (1 - d_j)^(n-1)``
    (uniform, pairwise negatively dependent), ``b_j = 1[u_j < theta]``, and
    ``g = 1/(1 - rho) * 1/(n-1) sum_j (f(b_j) - mean_k f(b_k)) (b_j - theta)`` with ``rho`` the
    correlation of two draws (closed form, evaluated stably). Unbiased; ``n_draws = 2`` has the law
    of :func:`disarm`; independent draws would make it RLOO.

    Parameters
    ----------
    objective : Objective
        A built-in objective or a :class:`~mixgrad.Callback` (its ``value`` only).
    distribution : Bernoulli
        With ``noise="logistic"``.
    n_samples : int
        Number of independent groups (>= 1); ``f`` is evaluated ``n_samples * n_draws`` times.
    seed : None, int, SeedSequence or Generator
    n_draws : int
        Mutually antithetic draws per group (>= 2).
    keep_samples : bool
        If False, ``samples`` is None and mean/variance are accumulated in C++.
    nthreads : int, optional

    Returns
    -------
    GradientEstimate
        ``samples[s]`` is the estimate of group ``s`` (i.i.d. over groups).
    """
    S = _check_args(objective, distribution, n_samples)
    n = _check_n_draws(n_draws)
    _check_logistic_bernoulli(distribution, "arms")
    diag: dict[str, Any] = {"estimator": "arms"}
    return _antithetic(objective, distribution, S, n, False, seed, keep_samples, nthreads, diag, _window)


def rloo(
    objective: Objective,
    distribution: _Discrete,
    n_samples: int,
    seed: SeedLike = None,
    *,
    keep_samples: bool = True,
    nthreads: int | None = None,
    _window: RowWindow = WHOLE_ROWS,
) -> GradientEstimate:
    """REINFORCE with the leave-one-out baseline (RLOO, Kool et al. 2019): the same estimator as
    ``reinforce(..., baseline="loo")``, under the name users know.

    ``g_s = (f(b_s) - mean_{s' != s} f(b_s')) d log p(b_s) / d alpha``, averaged over the
    ``n_samples`` (>= 2) draws. See :func:`reinforce` for the parameters and the standard error.

    Returns
    -------
    GradientEstimate
    """
    _check_args(objective, distribution, n_samples, 2, " for rloo (the leave-one-out baseline)")
    est = reinforce(
        objective,
        distribution,
        n_samples,
        seed,
        baseline="loo",
        keep_samples=keep_samples,
        nthreads=nthreads,
        _window=_window,
    )
    est.diagnostics["estimator"] = "rloo"
    return est


def _probs(dist: _Discrete) -> np.ndarray:
    """E[b]: theta per coordinate (Bernoulli) or class (categorical)."""
    if isinstance(dist, (Bernoulli, Categorical)):
        return dist.probs
    raise TypeError(f"distribution must be mixgrad.Bernoulli or mixgrad.Categorical, got {type(dist).__name__}")


def _d_expectation_linear(dist: _Discrete, c: np.ndarray) -> np.ndarray:
    """d/d alpha of E[c . b] (c held fixed), shape (R, E)."""
    a = dist._alpha2d
    if isinstance(dist, Categorical):
        th = _probs(dist).reshape(a.shape)
        return th * (c - (c * th).sum(axis=-1, keepdims=True))
    if dist.kind == 0:
        th = _probs(dist).reshape(a.shape)
        return c * th * (1.0 - th)
    return c * np.exp(-0.5 * a * a) / np.sqrt(2.0 * np.pi)


def double_cv(
    objective: Objective,
    distribution: _Discrete,
    n_samples: int,
    seed: SeedLike = None,
    *,
    keep_samples: bool = True,
    nthreads: int | None = None,
    _window: RowWindow = WHOLE_ROWS,
) -> GradientEstimate:
    """Double control variates (Titsias & Shi 2022): RLOO plus the first-order Taylor control
    variate ``h(b) = grad f(theta) . (b - theta)`` (``theta = E[b]``).

    ``g_s = [(f(b_s) - mean_{s'!=s} f(b_s')) - (h(b_s) - mean_{s'!=s} h(b_s'))] d log p(b_s)/d alpha
    + d E[h(b)] / d alpha`` with the last term in closed form (``c theta (1 - theta)`` for
    logistic Bernoulli, ``c phi(alpha)`` for probit, ``theta_k (c_k - c . theta)`` for
    categorical, ``c = grad f(theta)``). Unbiased; ``n_samples`` evaluations of ``f`` and one
    gradient of ``f`` per row.

    Parameters
    ----------
    objective : Objective
        A built-in objective or a :class:`~mixgrad.Callback` with ``grad``.
    distribution : Bernoulli or Categorical
    n_samples : int
        Number of draws (>= 2).
    seed : None, int, SeedSequence or Generator
    keep_samples : bool
        If False, ``samples`` is None.
    nthreads : int, optional

    Returns
    -------
    GradientEstimate
        The standard error is the first-order one of the leave-one-out estimators (see
        :class:`GradientEstimate`).
    """
    S = _check_args(objective, distribution, n_samples, 2, " for double_cv (the leave-one-out baseline)")
    dist = distribution
    R, E = dist.n_rows, dist.event_size
    key = philox_key(seed)
    nt = resolve_nthreads(nthreads)
    theta = np.ascontiguousarray(_probs(dist).reshape((1, *dist.shape)), dtype=np.float64)
    c = np.asarray(objective.grad(theta, dist), dtype=np.float64).reshape(R, E)
    if not np.all(np.isfinite(c)):
        raise ValueError("the objective's gradient at theta = E[b] is not finite")
    out, spec = _run(
        objective,
        dist,
        S,
        1,
        key=key,
        keep_samples=False,
        want_mean=False,
        want_stats=True,
        nthreads=nt,
        window=_window,
    )
    fb = out[3][0].reshape(S, R)
    noise = _core.rebar_noise(
        dist.kind, dist._alpha2d, S, 1.0, False, key[0], key[1], 0, nt, _window.r0, _window.R_whole
    )
    b = noise[1].reshape(S, R, E)
    h = np.einsum("sre,re->sr", b, c)
    base = np.ascontiguousarray((_loo_mean(fb, _window) + h - _loo_mean(h, _window)).reshape(-1))
    out, _ = _run(
        objective, dist, S, 1, key=key, baseline=base, keep_samples=keep_samples, nthreads=nt, spec=spec, window=_window
    )
    corr = _d_expectation_linear(dist, c)
    samples, mean, m2, _ = out
    mean = mean + corr.reshape(-1)
    if samples is not None:
        samples = (samples.reshape(S, R * E) + corr.reshape(1, -1)).reshape(-1)
    diag: dict[str, Any] = {"estimator": "double_cv", "taylor_gradient": c.reshape(dist.shape)}
    return _finish(dist, S, (samples, mean, m2, None), keep_samples, diag)
