"""The functions that Dask tasks of mixgrad.dask run on the workers: one numpy call per block.

Every call names the block's place in the whole array (a :class:`mixgrad.mixture.Window`), so
that it draws with the whole array's Philox counters and picks the whole call's parameter layout.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from ..mixture import DiagGaussianMixture, Window

__all__ = ["cdf_block", "finish_gradient", "getitem", "log_prob_block", "sample_block", "sample_vjp_block", "vjp_block"]

getitem = operator.getitem


def _mixture(logits: np.ndarray, means: np.ndarray, scales: np.ndarray) -> DiagGaussianMixture:
    # Validates the chunk's parameters (finite, scales > 0) where it is computed.
    return DiagGaussianMixture(logits, means, scales)


def log_prob_block(x, logits, means, scales, window: Window, nthreads: int | None) -> np.ndarray:
    return _mixture(logits, means, scales)._log_prob(x, nthreads, window)


def cdf_block(x, logits, means, scales, window: Window, nthreads: int | None) -> np.ndarray:
    return _mixture(logits, means, scales)._cdf_transform(x, nthreads, window)


def sample_block(logits, means, scales, n: int | None, key: tuple[int, int], window: Window, nthreads: int | None):
    return _mixture(logits, means, scales)._sample(n, key, nthreads, window)


def sample_vjp_block(
    logits, means, scales, n: int | None, grad, key: tuple[int, int], window: Window, nthreads: int | None
) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    x, g = _mixture(logits, means, scales)._sample_and_vjp(n, grad, key, nthreads, window)
    return x, tuple(g)


def vjp_block(x, grad_x, logits, means, scales, window: Window, nthreads: int | None):
    return tuple(_mixture(logits, means, scales)._vjp(x, grad_x, nthreads, window))


def finish_gradient(total: Any, dtype: np.dtype) -> tuple[np.ndarray, ...]:
    """The reduced gradient, rounded once to the mixture's dtype."""
    return tuple(np.asarray(t, dtype=dtype) for t in total)
