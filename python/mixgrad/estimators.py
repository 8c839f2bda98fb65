"""Gradient estimators for ``d/d alpha E_{b ~ p_alpha}[f(b)]`` with discrete ``b``.

All share one signature, ``name(objective, distribution, n_samples, seed=None, **options)``, and
return a :class:`GradientEstimate`:

* :func:`rebar` -- REBAR (Tucker et al. 2017), unbiased, with a tunable control-variate scale eta;
* :func:`reinforce` -- the score-function estimator ``f(b) * d log p(b)/d alpha``, optionally with
  a moving-average or leave-one-out baseline;
* :func:`concrete` -- the pathwise gradient of the relaxed objective (biased);
* :func:`straight_through` -- ``f'`` at the hard sample, back-propagated through the relaxation
  (biased);
* :func:`exact` -- exact enumeration (the truth, for small D or K).

For batched logits ``(B, E)`` the objective is per row: the estimate for row ``i`` is of
``d/d alpha_i E[f_i(b_i)]`` (see :mod:`mixgrad.objectives`). Sample ``s`` of row ``i`` uses the
Philox counter (s, i * E + e), so results are bit-identical for any thread count.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._checks import check_real, check_size, real_array
from ._loader import _core
from ._seeding import SeedLike, philox_key
from ._threads import resolve_nthreads
from .discrete import (
    MAX_SAMPLES,
    WHOLE_ROWS,
    Bernoulli,
    Categorical,
    RowWindow,
    _Discrete,
    check_coupling,
    check_temperature,
)
from .objectives import Callback, Objective

__all__ = ["ESTIMATORS", "GradientEstimate", "concrete", "exact", "rebar", "reinforce", "straight_through"]

_MODES = {"rebar": 0, "reinforce": 1, "concrete": 2, "straight_through": 3}


@dataclass
class GradientEstimate:
    """Result of an estimator.

    Attributes
    ----------
    mean : ndarray, logits shape
        The gradient estimate (average over samples).
    samples : ndarray of shape (n_samples, *logits.shape), or None
        One estimate per sample (None with ``keep_samples=False`` and for :func:`exact`).
    variance : ndarray, logits shape
        Per-coordinate variance of the single-sample estimates (ddof = 1; NaN when n_samples = 1;
        0 for :func:`exact`).
    stderr : ndarray, logits shape
        Standard error of ``mean``: ``sqrt(variance / n_samples)``. With leave-one-out baselines
        or ``eta="optimal"`` the per-sample estimates share the batch statistics; this is then the
        first-order (Hoeffding projection) standard error, which misses an O(1/n) term that only
        matters where the first-order term vanishes (e.g. REINFORCE + LOO at D = 1, theta = 1/2).
    n_samples : int
    diagnostics : dict
        Estimator settings and by-products (temperature, eta used, optimal eta, baseline state).
    """

    mean: np.ndarray
    samples: np.ndarray | None
    variance: np.ndarray
    stderr: np.ndarray
    n_samples: int
    diagnostics: dict[str, Any] = field(default_factory=dict)


def _check_args(objective, distribution, n_samples, minimum=1, why=""):
    if not isinstance(objective, Objective):
        raise TypeError(f"objective must be a mixgrad objective, got {type(objective).__name__}")
    if not isinstance(distribution, _Discrete):
        raise TypeError(
            f"distribution must be mixgrad.Bernoulli or mixgrad.Categorical, got {type(distribution).__name__}"
        )
    if not isinstance(n_samples, (int, np.integer)) or isinstance(n_samples, (bool, np.bool_)):
        raise TypeError(f"n_samples must be an integer, got {type(n_samples).__name__}")
    if n_samples < minimum:
        raise ValueError(f"n_samples must be >= {minimum}{why}, got {n_samples}")
    if n_samples > MAX_SAMPLES:
        raise ValueError(f"n_samples must be < 2**32, got {n_samples}")
    # per-sample estimates, noise and objective values: a few float64 numbers per logit
    check_size(int(n_samples), 6 * distribution.n_rows * distribution.event_size, 8, "n_samples")
    return int(n_samples)


def _check_eta(eta) -> float:
    if isinstance(eta, (bool, np.bool_)) or not isinstance(eta, (numbers.Real, np.integer, np.floating)):
        raise TypeError(f"eta must be a real number or 'optimal', got {eta!r}")
    value = float(eta)
    if not np.isfinite(value):
        raise ValueError(f"eta must be finite, got {eta!r}")
    return value


def _check_baseline_init(baseline_init, rows: int) -> np.ndarray:
    """The moving-average start: a finite real scalar or one value per row, shape (rows,)."""
    a = real_array(baseline_init, "baseline_init").astype(np.float64)
    if a.shape not in ((), (rows,)):
        raise ValueError(f"baseline_init must be a scalar or have shape ({rows},) (one per row), got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError("baseline_init must be finite")
    return np.ascontiguousarray(np.broadcast_to(a, (rows,)))


def _precomputed(
    objective: Callback, dist: _Discrete, mode: int, S: int, lam: float, coupled: bool, key, nthreads, window: RowWindow
):
    """Evaluate a callback at the points the C++ noise kernel draws; arrays for the 'precomputed' kind."""
    _z, b, _zt, _dzt, sz, szt = _core.rebar_noise(
        dist.kind, dist._alpha2d, S, lam, coupled, key[0], key[1], 0, nthreads, window.r0, window.R_whole
    )
    shape = (S, *dist.shape)
    R, E = dist.n_rows, dist.event_size
    vh = vt = gh = gr = gt = None
    if mode in (0, 1):
        vh = objective.value(b.reshape(shape)).reshape(S * R)
    if mode == 0:
        vt = objective.value(szt.reshape(shape)).reshape(S * R)
        gt = objective.grad(szt.reshape(shape)).reshape(S * R * E)
    if mode in (0, 2):
        gr = objective.grad(sz.reshape(shape)).reshape(S * R * E)
    if mode == 3:
        gh = objective.grad(b.reshape(shape)).reshape(S * R * E)
    return "precomputed", [np.ascontiguousarray(a) if a is not None else None for a in (vh, vt, gh, gr, gt)]


def _run(
    objective,
    dist,
    S,
    mode,
    *,
    lam=1.0,
    coupled=False,
    key,
    eta=None,
    eta_scalar=1.0,
    baseline=None,
    keep_samples=True,
    want_mean=True,
    want_stats=False,
    nthreads=0,
    spec=None,
    window: RowWindow = WHOLE_ROWS,
):
    if spec is None:
        spec = (
            _precomputed(objective, dist, mode, S, lam, coupled, key, nthreads, window)
            if isinstance(objective, Callback)
            else objective._spec(dist)
        )
    return _core.rebar_estimate(
        dist.kind,
        dist._alpha2d,
        S,
        lam,
        coupled,
        key[0],
        key[1],
        0,
        mode,
        eta,
        float(eta_scalar),
        baseline,
        keep_samples,
        want_mean,
        want_stats,
        spec[0],
        spec[1],
        nthreads,
        window.r0,
        window.R_whole,
    ), spec


def _finish(dist: _Discrete, S: int, out, keep_samples: bool, diagnostics) -> GradientEstimate:
    samples, mean, m2, _ = out
    shape = dist.shape
    mean = mean.reshape(shape)
    if S > 1:
        var = (m2 / (S - 1)).reshape(shape)
        stderr = np.sqrt(var / S)
    else:
        var = np.full(shape, np.nan)
        stderr = np.full(shape, np.nan)
    dt = dist.dtype
    if keep_samples:
        samples = samples.reshape((S, *shape)).astype(dt, copy=False)
    else:
        samples = None
    return GradientEstimate(
        mean.astype(dt, copy=False), samples, var.astype(dt, copy=False), stderr.astype(dt, copy=False), S, diagnostics
    )


def _loo_mean(x: np.ndarray, window: RowWindow = WHOLE_ROWS) -> np.ndarray:
    """Leave-one-out mean over axis 0 of an (S, R) array.

    numpy sums the samples of several rows one after another but those of a single row pairwise;
    one row of a window of a call on several rows is summed one after another, as in that call.
    """
    S = x.shape[0]
    if x.shape[1] == 1 and window.R_whole > 1:
        total = np.cumsum(x, axis=0)[-1:]
    else:
        total = x.sum(axis=0, keepdims=True)
    return (total - x) / (S - 1)


def _optimal_eta_loo(ab: np.ndarray, bb: np.ndarray):
    """Per-sample eta_s = -sum_{s' != s} A.B / sum_{s' != s} B.B (independent of sample s), and the
    eta from all samples (for a later batch)."""
    ab_s = ab.sum(axis=1)
    bb_s = bb.sum(axis=1)
    tab, tbb = ab_s.sum(), bb_s.sum()
    num = tab - ab_s
    den = tbb - bb_s
    with np.errstate(divide="ignore", invalid="ignore"):
        eta = np.where(den > 0, -num / np.where(den > 0, den, 1.0), 0.0)
    full = float(-tab / tbb) if tbb > 0 else 0.0
    return np.ascontiguousarray(eta), full


def rebar(
    objective: Objective,
    distribution: _Discrete,
    n_samples: int,
    seed: SeedLike = None,
    *,
    temperature: float = 0.5,
    eta: float | str = 1.0,
    coupling: str = "independent",
    baseline: str | None = None,
    keep_samples: bool = True,
    nthreads: int | None = None,
    _window: RowWindow = WHOLE_ROWS,
) -> GradientEstimate:
    """REBAR: ``g = [f(b) - eta f(sigma(z~))] dlogp(b)/dalpha + eta d f(sigma(z))/dalpha
    - eta d f(sigma(z~))/dalpha`` per sample (DESIGN.md section 4.2). Unbiased for any eta and
    temperature.

    Parameters
    ----------
    objective : Objective
    distribution : Bernoulli or Categorical
    n_samples : int
        Number of independent samples (>= 1; >= 2 with ``eta="optimal"`` or ``baseline="loo"``).
    seed : None, int, SeedSequence or Generator
    temperature : float
        lambda > 0 of the relaxation ``sigma(z / lambda)`` / ``softmax(z / lambda)``.
    eta : float or "optimal"
        Control-variate scale. ``"optimal"`` uses ``eta* = -sum E[A.B] / sum E[B.B]`` (``g = A +
        eta B``, sums over all rows and coordinates) estimated leave-one-out: sample ``s`` uses the
        value from the other samples, so the estimate stays unbiased. ``diagnostics["eta_optimal"]``
        is the value from all samples (to pass as ``eta`` for the next batch).
    coupling : {"independent", "coupled"}
        Fresh conditional noise for ``z~`` or noise derived from ``u`` (``z~ = z``).
    baseline : None or "loo"
        ``"loo"``: subtract, per row, the leave-one-out mean of ``f(b) - eta f(sigma(z~))`` over the
        other samples from the score-function weight (unbiased).
    keep_samples : bool
        If False, ``samples`` is None and mean/variance are accumulated in C++.
    nthreads : int, optional

    Returns
    -------
    GradientEstimate
    """
    optimal = isinstance(eta, str)
    if optimal and eta != "optimal":
        raise ValueError(f"eta must be a number or 'optimal', got {eta!r}")
    if baseline not in (None, "loo"):
        raise ValueError(f"baseline must be None or 'loo' for rebar, got {baseline!r}")
    need2 = optimal or baseline == "loo"
    S = _check_args(
        objective, distribution, n_samples, 2 if need2 else 1, " with eta='optimal' or baseline='loo'" if need2 else ""
    )
    lam = check_temperature(temperature)
    coupled = check_coupling(coupling)
    if not optimal:
        eta_value = _check_eta(eta)
    else:
        eta_value = 0.0
    key = philox_key(seed)
    nt = resolve_nthreads(nthreads)
    diag: dict[str, Any] = {"estimator": "rebar", "temperature": lam, "coupling": coupling, "baseline": baseline}
    eta_arr = None
    base = None
    spec = None
    if need2:
        out, spec = _run(
            objective,
            distribution,
            S,
            0,
            lam=lam,
            coupled=coupled,
            key=key,
            eta_scalar=eta_value,
            keep_samples=False,
            want_mean=False,
            want_stats=True,
            nthreads=nt,
            window=_window,
        )
        fb, fzt, ab, bb = (a.reshape(S, distribution.n_rows) for a in out[3])
        eta_s, full = _optimal_eta_loo(ab, bb)
        diag["eta_optimal"] = full
        if optimal:
            eta_arr = eta_s
            diag["eta"] = float(eta_s.mean())
        if baseline == "loo":
            e = eta_s[:, None] if optimal else eta_value
            base = np.ascontiguousarray((_loo_mean(fb, _window) - e * _loo_mean(fzt, _window)).reshape(-1))
    if not optimal:
        diag["eta"] = eta_value
    out, _ = _run(
        objective,
        distribution,
        S,
        0,
        lam=lam,
        coupled=coupled,
        key=key,
        eta=eta_arr,
        eta_scalar=eta_value,
        baseline=base,
        keep_samples=keep_samples,
        nthreads=nt,
        spec=spec,
        window=_window,
    )
    return _finish(distribution, S, out, keep_samples, diag)


def reinforce(
    objective: Objective,
    distribution: _Discrete,
    n_samples: int,
    seed: SeedLike = None,
    *,
    baseline: str | None = None,
    decay: float = 0.9,
    baseline_init=0.0,
    keep_samples: bool = True,
    nthreads: int | None = None,
    _window: RowWindow = WHOLE_ROWS,
) -> GradientEstimate:
    """The score-function estimator ``(f(b) - c) d log p(b) / d alpha``.

    Parameters
    ----------
    baseline : None, "moving_average" or "loo"
        None: ``c = 0`` (plain REINFORCE). ``"moving_average"``: per row, ``c`` for sample ``s``
        is the exponential moving average of ``f(b)`` over samples ``0..s-1``, started at
        ``baseline_init`` (``diagnostics["baseline_state"]`` continues it in the next call).
        ``"loo"``: the mean of ``f(b)`` over the other samples of the batch. All unbiased.
    decay : float
        Moving-average decay in [0, 1).
    baseline_init : float or array of shape (B,)
        Starting value of the moving average.

    Other parameters are those of :func:`rebar`.
    """
    if baseline not in (None, "moving_average", "loo"):
        raise ValueError(f"baseline must be None, 'moving_average' or 'loo', got {baseline!r}")
    loo = baseline == "loo"
    S = _check_args(objective, distribution, n_samples, 2 if loo else 1, " with baseline='loo'" if loo else "")
    if baseline == "moving_average":
        decay = check_real(decay, "decay")
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"decay must be in [0, 1), got {decay!r}")
        init = _check_baseline_init(baseline_init, distribution.n_rows)
    key = philox_key(seed)
    nt = resolve_nthreads(nthreads)
    diag: dict[str, Any] = {"estimator": "reinforce", "baseline": baseline}
    base = None
    spec = None
    if baseline is not None:
        out, spec = _run(
            objective,
            distribution,
            S,
            1,
            key=key,
            keep_samples=False,
            want_mean=False,
            want_stats=True,
            nthreads=nt,
            window=_window,
        )
        fb = out[3][0].reshape(S, distribution.n_rows)
        if loo:
            base = np.ascontiguousarray(_loo_mean(fb, _window).reshape(-1))
        else:
            c = _core.ema_baseline(np.ascontiguousarray(fb), float(decay), init)
            diag["baseline_state"] = float(decay) * c[-1] + (1 - float(decay)) * fb[-1]
            diag["decay"] = float(decay)
            base = np.ascontiguousarray(c.reshape(-1))
    out, _ = _run(
        objective,
        distribution,
        S,
        1,
        key=key,
        baseline=base,
        keep_samples=keep_samples,
        nthreads=nt,
        spec=spec,
        window=_window,
    )
    return _finish(distribution, S, out, keep_samples, diag)


def _pathwise(objective, distribution, n_samples, seed, temperature, keep_samples, nthreads, mode, name, window):
    """The relaxed estimators: mode 2 (Concrete) or 3 (straight-through) of the C++ kernel."""
    S = _check_args(objective, distribution, n_samples)
    lam = check_temperature(temperature)
    out, _ = _run(
        objective,
        distribution,
        S,
        mode,
        lam=lam,
        key=philox_key(seed),
        keep_samples=keep_samples,
        nthreads=resolve_nthreads(nthreads),
        window=window,
    )
    return _finish(distribution, S, out, keep_samples, {"estimator": name, "temperature": lam})


def concrete(
    objective: Objective,
    distribution: _Discrete,
    n_samples: int,
    seed: SeedLike = None,
    *,
    temperature: float = 0.5,
    keep_samples: bool = True,
    nthreads: int | None = None,
    _window: RowWindow = WHOLE_ROWS,
) -> GradientEstimate:
    """Concrete / Gumbel-softmax: ``d f(sigma_lambda(z)) / d alpha``, the pathwise gradient of the
    relaxed objective. Biased for ``E f(b)`` (the bias vanishes as lambda -> 0 while the variance
    grows)."""
    return _pathwise(
        objective, distribution, n_samples, seed, temperature, keep_samples, nthreads, 2, "concrete", _window
    )


def straight_through(
    objective: Objective,
    distribution: _Discrete,
    n_samples: int,
    seed: SeedLike = None,
    *,
    temperature: float = 1.0,
    keep_samples: bool = True,
    nthreads: int | None = None,
    _window: RowWindow = WHOLE_ROWS,
) -> GradientEstimate:
    """Straight-through: ``f'(b)`` at the hard sample, chained through ``d sigma_lambda(z)/d alpha``
    (forward hard, backward relaxed). Biased."""
    return _pathwise(
        objective, distribution, n_samples, seed, temperature, keep_samples, nthreads, 3, "straight_through", _window
    )


def _exact_callback(objective: Callback, dist: _Discrete):
    R, E = dist.n_rows, dist.event_size
    if isinstance(dist, Categorical):
        outcomes = np.eye(E)
    else:
        if E > 20:
            raise ValueError(f"exact enumeration of a callback needs D <= 20, got D = {E}")
        idx = np.arange(2**E)
        outcomes = ((idx[:, None] >> np.arange(E)) & 1).astype(np.float64)
    n = outcomes.shape[0]
    x = np.broadcast_to(outcomes[:, None, :], (n, R, E)).reshape((n, *dist.shape))
    f = objective.value(np.ascontiguousarray(x)).reshape(n, R)
    if isinstance(dist, Categorical):
        lp = dist._log_probs().reshape(1, R, E)
        logp = lp[0].T  # (E = n outcomes, R)
        score = outcomes[:, None, :] - dist.probs.reshape(1, R, E)
    else:
        la, lb = (a.reshape(1, R, E) for a in dist._log_probs())
        b = outcomes[:, None, :]
        logp = np.where(b == 1, la, lb).sum(axis=-1)
        score = dist.score(np.ascontiguousarray(x)).reshape(n, R, E)
    w = np.exp(logp) * f  # (n, R)
    return w.sum(axis=0), (w[:, :, None] * score).sum(axis=0)


def exact(
    objective: Objective,
    distribution: _Discrete,
    n_samples: int | None = None,
    seed: SeedLike = None,
    *,
    nthreads: int | None = None,
) -> GradientEstimate:
    """The exact gradient by enumeration of all outcomes (2^D for a Bernoulli row, K for a
    categorical row; D <= 24, callbacks D <= 20).

    For batched logits ``(B, E)`` row ``i`` gets ``d/d alpha_i E[f_i(b_i)]`` (equivalently the
    gradient of ``sum_i E[f_i(b_i)]``). ``n_samples`` and ``seed`` are accepted for the common
    signature and ignored. ``diagnostics["value"]`` holds ``E[f_i]`` per row.
    """
    _check_args(objective, distribution, 1 if n_samples is None else n_samples)
    dist = distribution
    if isinstance(objective, Callback):
        value, grad = _exact_callback(objective, dist)
    else:
        if isinstance(dist, Bernoulli) and dist.event_size > 24:
            raise ValueError(f"exact enumeration needs D <= 24, got D = {dist.event_size}")
        kind, arrays = objective._spec(dist)
        value, grad = _core.rebar_exact(dist.kind, dist._alpha2d, kind, arrays, resolve_nthreads(nthreads))
    shape = dist.shape
    mean = grad.reshape(shape).astype(dist.dtype, copy=False)
    zeros = np.zeros(shape, dtype=dist.dtype)
    val = value if dist.batched else value[0]
    return GradientEstimate(mean, None, zeros, zeros.copy(), 0, {"estimator": "exact", "value": val})


ESTIMATORS = {
    "rebar": rebar,
    "reinforce": reinforce,
    "concrete": concrete,
    "straight_through": straight_through,
    "exact": exact,
}

# DisARM, ARMS, RLOO and double control variates (DESIGN.md section 4.4), kept in their own module.
from ._arms import arms, disarm, double_cv, rloo  # noqa: E402

__all__ += ["arms", "disarm", "double_cv", "rloo"]
ESTIMATORS.update({"disarm": disarm, "arms": arms, "rloo": rloo, "double_cv": double_cv})
