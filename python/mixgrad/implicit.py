"""Implicit reparameterization gradients in one dimension for user-supplied distributions.

For a sample x of a density f(x; theta) with CDF F(x; theta), holding u = F(x; theta) fixed
gives (Graves 2016, Eq 6; DESIGN.md section 2)

    dx/dtheta = -(dF/dtheta)(x; theta) / f(x; theta).

:func:`implicit_grad` evaluates this from callables. When dF/dtheta has no closed form but
d log f/dtheta has, :func:`sampled_implicit_grad` estimates the integral
dF/dtheta(x) = F(x) E[d log f(t)/dtheta | t <= x] (Graves Eq 9) without bias, drawing the
truncated samples exactly through the quantile and using the tail with the smaller mass.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ._checks import check_count, check_real, check_size, real_array
from ._seeding import SeedLike
from .random import uniform

__all__ = ["implicit_grad", "sampled_implicit_grad"]

ArrayFn = Callable[..., np.ndarray]


def _theta(theta) -> np.ndarray:
    t = np.atleast_1d(real_array(theta, "theta").astype(np.float64))
    if t.ndim != 1:
        raise ValueError(f"theta: expected a scalar or a 1-D array of parameters, got shape {t.shape}")
    if not np.isfinite(t).all():
        raise ValueError("theta must be finite")
    return t


def _x(x) -> np.ndarray:
    a = real_array(x, "x").astype(np.float64)
    if a.ndim > 1:
        raise ValueError(f"x: expected a scalar or a 1-D array of samples, got shape {a.shape}")
    return np.atleast_1d(a)


def _per_param(v, n: int, p: int, name: str) -> np.ndarray:
    a = real_array(v, f"{name} result").astype(np.float64)
    if a.shape == (n,) and p == 1:
        a = a[:, None]
    if a.shape != (n, p):
        raise ValueError(f"{name} must return shape (n, p) = ({n}, {p}), got {a.shape}")
    return a


def implicit_grad(
    x,
    theta,
    pdf: ArrayFn,
    cdf: ArrayFn | None = None,
    dcdf_dtheta: ArrayFn | None = None,
    *,
    fd_step: float = 1e-6,
) -> np.ndarray:
    """dx/dtheta = -(dF/dtheta)/f at samples x (Graves Eq 6).

    Parameters
    ----------
    x : array_like, shape (n,)
        Samples (drawn by any method).
    theta : array_like, shape (p,)
        Parameters.
    pdf : callable
        ``pdf(x, theta) -> (n,)``, the density.
    cdf : callable, optional
        ``cdf(x, theta) -> (n,)``; used (by central differences in theta, step
        ``fd_step * max(1, |theta_j|)``) only when ``dcdf_dtheta`` is not given.
    dcdf_dtheta : callable, optional
        ``dcdf_dtheta(x, theta) -> (n, p)``, the exact derivative of the CDF.

    Returns
    -------
    ndarray, shape (n, p)
    """
    fd_step = check_real(fd_step, "fd_step", positive=True)
    xs, th = _x(x), _theta(theta)
    n, p = xs.size, th.size
    if dcdf_dtheta is not None:
        dF = _per_param(dcdf_dtheta(xs, th), n, p, "dcdf_dtheta")
    elif cdf is not None:
        dF = np.empty((n, p))
        for j in range(p):
            h = fd_step * max(1.0, abs(th[j]))
            tp, tm = th.copy(), th.copy()
            tp[j] += h
            tm[j] -= h
            dF[:, j] = (np.asarray(cdf(xs, tp), dtype=np.float64) - np.asarray(cdf(xs, tm), dtype=np.float64)) / (2 * h)
    else:
        raise ValueError("give dcdf_dtheta or cdf")
    f = np.asarray(pdf(xs, th), dtype=np.float64).reshape(n)
    return -dF / f[:, None]


def sampled_implicit_grad(
    x,
    theta,
    pdf: ArrayFn,
    cdf: ArrayFn,
    quantile: ArrayFn,
    dlogpdf_dtheta: ArrayFn,
    *,
    n_inner: int = 16,
    tail: str = "smaller",
    seed: SeedLike = None,
) -> np.ndarray:
    """Unbiased estimate of dx/dtheta from the score function (Graves Eq 9, exact truncation).

    Uses dF/dtheta(x) = F(x) E[s(t) | t <= x] = -(1 - F(x)) E[s(t) | t > x] with
    s = d log f/dtheta (the score has mean zero). The truncated draws are exact:
    t = Q(F(x) v) below x, t = Q(F(x) + (1 - F(x)) v) above, v ~ U(0, 1).

    Parameters
    ----------
    x, theta, pdf, cdf
        As in :func:`implicit_grad` (``cdf`` is required here).
    quantile : callable
        ``quantile(u, theta) -> same shape as u`` (u may be 2-D), the inverse CDF.
    dlogpdf_dtheta : callable
        ``dlogpdf_dtheta(t, theta) -> t.shape + (p,)``, the score.
    n_inner : int
        Truncated draws per sample; the variance falls as 1/n_inner.
    tail : {'smaller', 'lower', 'upper'}
        Which conditional to average over; 'smaller' picks, per sample, the tail with the smaller
        mass (the lower variance choice).
    seed : None, int, SeedSequence or Generator

    Returns
    -------
    ndarray, shape (n, p)
    """
    if tail not in ("smaller", "lower", "upper"):
        raise ValueError(f"tail must be 'smaller', 'lower' or 'upper', got {tail!r}")
    n_inner = check_count(n_inner, "n_inner", minimum=1)
    xs, th = _x(x), _theta(theta)
    n, p = xs.size, th.size
    check_size(n_inner, max(1, n * p), 8, "n_inner")
    F = np.asarray(cdf(xs, th), dtype=np.float64).reshape(n)
    f = np.asarray(pdf(xs, th), dtype=np.float64).reshape(n)
    if tail == "smaller":
        lower = F <= 0.5
    else:
        lower = np.full(n, tail == "lower")
    v = uniform((n, int(n_inner)), seed=seed)
    Fc = F[:, None]
    u = np.where(lower[:, None], Fc * v, Fc + (1.0 - Fc) * v)
    t = np.asarray(quantile(u, th), dtype=np.float64)
    score = np.asarray(dlogpdf_dtheta(t, th), dtype=np.float64)
    if score.shape == (n, int(n_inner)) and p == 1:
        score = score[..., None]
    if score.shape != (n, int(n_inner), p):
        raise ValueError(f"dlogpdf_dtheta must return shape {(n, int(n_inner), p)}, got {score.shape}")
    mean_score = score.mean(axis=1)
    mass = np.where(lower, F, -(1.0 - F))[:, None]
    return -(mass * mean_score) / f[:, None]
