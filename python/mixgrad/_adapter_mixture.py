"""numpy side of the torch/JAX mixture adapters: build the mixture, draw samples, take the VJP."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import random as _random
from ._seeding import SeedLike
from .mixture import DiagGaussianMixture, MixtureGradient

__all__ = ["METHODS", "check_method", "draw", "draw_from", "vjp"]

METHODS = ("exact", "quantile")


def check_method(method: str) -> str:
    """Validate a sampling method name ("exact" or "quantile")."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    return method


def draw(
    logits: np.ndarray,
    means: np.ndarray,
    scales: np.ndarray,
    n: int | None,
    seed: SeedLike,
    method: str,
) -> np.ndarray:
    """Samples of shape (n, *batch, D) (or (*batch, D) for n=None) of a diagonal mixture; see
    :func:`draw_from`."""
    return draw_from(DiagGaussianMixture(logits, means, scales), n, seed, method)


def draw_from(mix: Any, n: int | None, seed: SeedLike, method: str) -> np.ndarray:
    """Samples of shape (n, *batch, D) (or (*batch, D) for n=None) of ``mix``, a
    :class:`DiagGaussianMixture` or :class:`GaussianMixture`.

    ``method="exact"`` is ``mix.sample`` (component, then Gaussian); ``method="quantile"`` is
    ``mix.quantile(u)`` with u = :func:`mixgrad.random.uniform` of the same shape and seed, a map
    that is smooth in the parameters for fixed u (its derivative is the implicit gradient), which
    is what finite-difference checks need.
    """
    if method == "exact":
        return np.asarray(mix.sample(n, seed))
    shape = ((n,) if n is not None else ()) + mix.batch_shape + mix.event_shape
    u = _random.uniform(shape, seed)
    if mix.dtype == np.float32:  # rounding to float32 must not reach 0 or 1
        u = np.clip(u.astype(np.float32), np.finfo(np.float32).tiny, np.nextafter(np.float32(1), np.float32(0)))
    return np.asarray(mix.quantile(u))


def vjp(
    logits: np.ndarray, means: np.ndarray, scales: np.ndarray, x: np.ndarray, grad_x: np.ndarray
) -> MixtureGradient:
    """:meth:`DiagGaussianMixture.vjp` of freshly built parameters (gradients summed over the
    sample dimensions of x)."""
    return DiagGaussianMixture(logits, means, scales).vjp(x, grad_x)


def words_to_seed(words: np.ndarray) -> int:
    """Two uint32 words (low, high) -> the non-negative Python int they encode."""
    w = np.asarray(words).astype(np.uint64).reshape(-1)
    if w.shape != (2,):
        raise ValueError(f"seed words must have shape (2,), got {np.asarray(words).shape}")
    return int(w[0]) | (int(w[1]) << 32)


def seed_to_words(seed: int) -> tuple[int, int]:
    """A non-negative int below 2**64 -> its (low, high) uint32 words."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not (0 <= seed < 2**64):
        raise ValueError(f"seed must be an int in [0, 2**64), got {seed!r}")
    seed = int(seed)
    return seed & 0xFFFFFFFF, seed >> 32
