"""Objectives ``f`` for the discrete-gradient estimators.

Semantics for a distribution batch: the objective value is **per row**. For logits of shape
``(B, E)`` row ``i`` has its own objective ``f_i`` of that row's event ``x_i`` (``E`` numbers: a
hard sample ``b_i`` or a relaxed one), and the estimate for row ``i`` concerns
``d/d alpha_i E[f_i(b_i)]``. Equivalently, the estimators differentiate ``sum_i E[f_i(b_i)]``
(each row's logits only enter their own term). Unbatched logits ``(E,)`` are one row.

Built-in objectives (:class:`Quadratic`, :class:`QuadraticForm`, :class:`GMMComponentLikelihood`)
are evaluated entirely in the C++ core. :class:`Callback` wraps vectorized numpy functions.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ._loader import _core
from ._threads import resolve_nthreads
from .discrete import Bernoulli, Categorical, _Discrete

__all__ = ["Callback", "GMMComponentLikelihood", "Objective", "Quadratic", "QuadraticForm"]


def _real(name: str, a) -> np.ndarray:
    """``a`` as float64, refusing complex (its imaginary part would be dropped), object and
    string arrays with a TypeError naming ``name``."""
    try:
        raw = np.asarray(a)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an array of real numbers") from None
    if raw.dtype.kind not in "fiub":
        raise TypeError(f"{name} must be an array of real numbers, got dtype {raw.dtype}")
    return raw.astype(np.float64, copy=False)


def _finite(name: str, a) -> np.ndarray:
    arr = _real(name, a)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite")
    return arr


def _per_row(name: str, a: np.ndarray, dist: _Discrete, width: int | None) -> np.ndarray:
    """``a`` as a C-contiguous array of one shared row or R rows (width entries each)."""
    R = dist.n_rows
    target = (width,) if width is not None else ()
    for shape in (target, (R, *target)):
        if a.shape == shape:
            return np.ascontiguousarray(a)
    if a.ndim == 0:
        return np.full(target, float(a))
    raise ValueError(
        f"{name} has shape {a.shape}; expected {target} (shared) or {(R, *target)} (one per row) "
        f"for logits of shape {dist.shape}"
    )


class Objective:
    """Base class. Subclasses give ``_spec(dist)`` (C++ kind and arrays) and numpy ``value``/``grad``."""

    def _spec(self, dist: _Discrete) -> tuple[str, list[np.ndarray | None]]:
        raise NotImplementedError

    def value(self, x, dist: _Discrete) -> np.ndarray:
        """f at points ``x`` of shape ``(n, *logits.shape)`` -> ``(n, *batch)`` (the C++ code).

        Runs without the GIL, on :func:`mixgrad.get_num_threads` threads for large ``x``.
        """
        return self._evaluate(x, dist, gradient=False)

    def grad(self, x, dist: _Discrete) -> np.ndarray:
        """df/dx at points ``x`` of shape ``(n, *logits.shape)`` -> same shape (the C++ code, as
        for :meth:`value`)."""
        return self._evaluate(x, dist, gradient=True)

    def _evaluate(self, x, dist, gradient):
        x = np.asarray(x, dtype=np.float64)
        if x.shape[1:] != dist.shape:
            raise ValueError(f"x must have shape (n, {', '.join(map(str, dist.shape))}), got {x.shape}")
        kind, arrays = self._spec(dist)
        x3 = np.ascontiguousarray(x.reshape(x.shape[0], dist.n_rows, dist.event_size))
        out = _core.objective_evaluate(kind, arrays, x3, dist.n_rows, gradient, resolve_nthreads(None))
        return out.reshape(x.shape if gradient else x.shape[:-1])


class Quadratic(Objective):
    """``f(x) = mean_e (x_e - t_e)^2`` over the event (the toy objective of Tucker et al.).

    Parameters
    ----------
    target : float or array_like
        A scalar, an ``(E,)`` vector shared by all rows, or ``(B, E)`` one per row.
    """

    def __init__(self, target):
        self.target = _finite("target", target)

    def _spec(self, dist):
        t = self.target
        if t.ndim == 0:
            t = np.full(dist.event_size, float(t))
        return "quadratic", [_per_row("target", t, dist, dist.event_size)]

    def __repr__(self) -> str:
        return f"Quadratic(target={self.target!r})"


class QuadraticForm(Objective):
    """``f(x) = x^T A x + c . x + d`` (a linear form when ``A = 0``).

    Parameters
    ----------
    A : array_like, shape (E, E)
        Shared by all rows.
    c : array_like, shape (E,) or (B, E), optional
        Linear term (default 0).
    d : float or array_like of shape (B,), optional
        Constant (default 0).
    """

    def __init__(self, A, c=None, d=0.0):
        self.A = _finite("A", A)
        if self.A.ndim != 2 or self.A.shape[0] != self.A.shape[1]:
            raise ValueError(f"A must be a square matrix, got shape {self.A.shape}")
        self.c = None if c is None else _finite("c", c)
        self.d = _finite("d", d)

    def _spec(self, dist):
        E = dist.event_size
        if self.A.shape != (E, E):
            raise ValueError(f"A has shape {self.A.shape}, expected {(E, E)} for logits of shape {dist.shape}")
        c = np.zeros(E) if self.c is None else _per_row("c", self.c, dist, E)
        d = np.array([float(self.d)]) if self.d.ndim == 0 else _per_row("d", self.d, dist, None)
        return "quadratic_form", [np.ascontiguousarray(self.A), c, np.ascontiguousarray(d.reshape(-1))]


class GMMComponentLikelihood(Objective):
    """Per-data-point component likelihood for learning mixture weights (DESIGN.md section 5).

    Row ``i`` of the distribution batch is data point ``x_i``. With ``p_ik = p(x_i | component k)``
    (diagonal Gaussian components) divided by ``normalizer_i``:

    * :class:`Categorical` logits ``(B, K)``: ``f_i(c) = p_ic`` for a one-hot class ``c``, relaxed
      ``f_i(s) = sum_k s_k p_ik``;
    * :class:`Bernoulli` logits ``(B, 1)`` (K = 2; class ``b`` in {0, 1} is the component index):
      ``f_i(b) = (1 - b) p_i0 + b p_i1``, the same formula for a relaxed ``s``.

    The ``B x K`` density table is computed in C++ once per estimator call.

    Parameters
    ----------
    x : array_like, shape (B,) or (B, Dx)
    means, scales : array_like, shape (K,) or (K, Dx)
        Scales > 0.
    normalizer : float or array_like of shape (B,), optional
        Positive divisor per data point (e.g. the current mixture density p(x_i)); default 1.
    log_normalizer : float or array_like of shape (B,), optional
        The same divisor given by its logarithm (for densities that underflow, e.g.
        log p(x_i) < -745); at most one of ``normalizer`` and ``log_normalizer``.
    """

    def __init__(self, x, means, scales, normalizer=None, *, log_normalizer=None):
        x = _finite("x", x)
        self.x = np.ascontiguousarray(x.reshape(-1, 1) if x.ndim == 1 else x)
        if self.x.ndim != 2:
            raise ValueError(f"x must have shape (B,) or (B, Dx), got {x.shape}")
        m = _finite("means", means)
        s = _finite("scales", scales)
        self.means = np.ascontiguousarray(m.reshape(-1, 1) if m.ndim == 1 else m)
        self.scales = np.ascontiguousarray(s.reshape(-1, 1) if s.ndim == 1 else s)
        Dx = self.x.shape[1]
        if self.means.ndim != 2 or self.means.shape[1] != Dx:
            raise ValueError(f"means must have shape (K, {Dx}) to match x, got {m.shape}")
        if self.scales.shape != self.means.shape:
            raise ValueError(f"scales must have the shape of means {self.means.shape}, got {s.shape}")
        if np.any(self.scales <= 0):
            raise ValueError("scales must be > 0")
        B = self.x.shape[0]
        if normalizer is not None and log_normalizer is not None:
            raise ValueError("give at most one of normalizer and log_normalizer")
        if log_normalizer is not None:
            lz = _finite("log_normalizer", log_normalizer)
            if lz.ndim == 0:
                lz = np.full(B, float(lz))
            if lz.shape != (B,):
                raise ValueError(f"log_normalizer must be a scalar or have shape ({B},), got {lz.shape}")
            self.log_normalizer: np.ndarray | None = np.ascontiguousarray(lz, dtype=np.float64)
        elif normalizer is None:
            self.log_normalizer = None
        else:
            nz = _finite("normalizer", normalizer)
            if nz.ndim == 0:
                nz = np.full(B, float(nz))
            if nz.shape != (B,):
                raise ValueError(f"normalizer must be a scalar or have shape ({B},), got {nz.shape}")
            if np.any(nz <= 0):
                raise ValueError("normalizer must be > 0")
            self.log_normalizer = np.log(nz)

    @property
    def n_components(self) -> int:
        """K, the number of mixture components."""
        return self.means.shape[0]

    def table(self) -> np.ndarray:
        """``p(x_i | k) / normalizer_i``, shape (B, K), computed in C++."""
        return _core.gmm_component_table(self.x, self.means, self.scales, self.log_normalizer, resolve_nthreads(None))

    def _spec(self, dist):
        B, K = self.x.shape[0], self.n_components
        if not dist.batched or dist.n_rows != B:
            raise ValueError(
                f"GMMComponentLikelihood needs batched logits with one row per data point ({B} rows), "
                f"got logits of shape {dist.shape}"
            )
        P = self.table()
        if isinstance(dist, Categorical):
            if dist.event_size != K:
                raise ValueError(f"Categorical logits have {dist.event_size} classes but there are {K} components")
            return "linear", [P, np.zeros(B)]
        if isinstance(dist, Bernoulli):
            if K != 2 or dist.event_size != 1:
                raise ValueError(
                    f"a Bernoulli GMM objective needs K = 2 components and logits of shape ({B}, 1); "
                    f"got K = {K} and logits of shape {dist.shape}"
                )
            return "linear", [np.ascontiguousarray((P[:, 1] - P[:, 0]).reshape(B, 1)), np.ascontiguousarray(P[:, 0])]
        raise TypeError(f"unsupported distribution {type(dist).__name__}")


class Callback(Objective):
    """A user objective given as vectorized numpy functions.

    Parameters
    ----------
    value : callable
        ``value(s) -> array of shape s.shape[:-1]``: ``s`` has shape ``(n, E)`` for unbatched
        logits (returns ``(n,)``) or ``(n, B, E)`` for batched logits (returns ``(n, B)``).
    grad : callable
        ``grad(s) -> array of shape s.shape``, the gradient of ``f`` with respect to ``s``.

    Notes
    -----
    The estimators draw the noise in C++, call these functions once each on all points, then
    combine in C++; so memory is ``O(n_samples x logits.size)`` for callbacks.
    """

    def __init__(self, value: Callable[[np.ndarray], np.ndarray], grad: Callable | None = None):
        if not callable(value):
            raise TypeError("value must be callable")
        if grad is not None and not callable(grad):
            raise TypeError("grad must be callable or None")
        self._value = value
        self._grad = grad

    def value(self, x, dist=None) -> np.ndarray:
        """The user's ``value(x)``, checked: shape ``x.shape[:-1]``, no NaN."""
        x = np.asarray(x, dtype=np.float64)
        out = _real("callback value", self._value(x))
        if out.shape != x.shape[:-1]:
            raise ValueError(f"callback value returned shape {out.shape}, expected {x.shape[:-1]} (s.shape[:-1])")
        if not np.all(np.isfinite(out)):
            raise ValueError("callback value returned NaN or infinite values")
        return out

    def grad(self, x, dist=None) -> np.ndarray:
        """The user's ``grad(x)``, checked: shape ``x.shape``, no NaN."""
        if self._grad is None:
            raise ValueError("this estimator needs the gradient of the objective: pass grad= to Callback")
        x = np.asarray(x, dtype=np.float64)
        out = _real("callback grad", self._grad(x))
        if out.shape != x.shape:
            raise ValueError(f"callback grad returned shape {out.shape}, expected {x.shape} (s.shape)")
        if not np.all(np.isfinite(out)):
            raise ValueError("callback grad returned NaN or infinite values")
        return out

    def _spec(self, dist):  # pragma: no cover - callbacks go through the precomputed path
        raise TypeError("Callback objectives are evaluated in Python")
