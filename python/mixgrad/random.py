"""Deterministic parallel random numbers from a counter-based Philox4x32-10 generator.

Element i of every array depends only on the key (derived from ``seed`` through
``numpy.random.SeedSequence``) and on i, so the same seed gives bit-identical arrays for any
thread count.
"""

from __future__ import annotations

from typing import Optional, Sequence, Union

import numpy as np

from ._loader import _core
from ._seeding import SeedLike, philox_key
from ._threads import resolve_nthreads

__all__ = ["uniform", "normal", "philox_key"]

Shape = Union[int, Sequence[int]]


def _shape(size: Shape) -> tuple:
    shape = (size,) if isinstance(size, (int, np.integer)) else tuple(size)
    for s in shape:
        if not isinstance(s, (int, np.integer)) or isinstance(s, bool):
            raise TypeError(f"size must be an int or a tuple of ints, got {size!r}")
        if s < 0:
            raise ValueError(f"size must be non-negative, got {size!r}")
    return tuple(int(s) for s in shape)


def _dtype(dtype) -> np.dtype:
    dt = np.dtype(dtype)
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"dtype must be float32 or float64, got {dt}")
    return dt


def _fill(kind, size, seed, dtype, nthreads, stream):
    shape = _shape(size)
    dt = _dtype(dtype)
    k0, k1 = philox_key(seed)
    out = np.empty(shape, dtype=np.float64)
    kind(out.reshape(-1), k0, k1, stream, resolve_nthreads(nthreads))
    return out if dt == np.float64 else out.astype(dt)


def uniform(
    size: Shape,
    seed: SeedLike = None,
    *,
    dtype=np.float64,
    nthreads: Optional[int] = None,
    stream: int = 0,
) -> np.ndarray:
    """Uniform numbers on the open interval (0, 1), 52 random bits each.

    Parameters
    ----------
    size : int or tuple of ints
        Output shape.
    seed : None, int, SeedSequence or Generator
        See :func:`mixgrad.random.philox_key`.
    dtype : float32 or float64
    nthreads : int, optional
    stream : int
        Independent streams for the same seed (0 <= stream < 2**32).
    """
    return _fill(_core.fill_uniform, size, seed, dtype, nthreads, _stream(stream))


def normal(
    size: Shape,
    seed: SeedLike = None,
    *,
    loc: float = 0.0,
    scale: float = 1.0,
    dtype=np.float64,
    nthreads: Optional[int] = None,
    stream: int = 0,
) -> np.ndarray:
    """Normal numbers by exact inversion (sign bit + 52-bit lower-half probability).

    Parameters are those of :func:`uniform`, plus ``loc`` and ``scale`` (scale >= 0).
    """
    if not np.isfinite(loc) or not np.isfinite(scale) or scale < 0:
        raise ValueError(f"loc must be finite and scale finite and >= 0, got loc={loc}, scale={scale}")
    z = _fill(_core.fill_normal, size, seed, np.float64, nthreads, _stream(stream))
    if loc != 0.0 or scale != 1.0:
        z = loc + scale * z
    return z.astype(_dtype(dtype), copy=False)


def _stream(stream: int) -> int:
    if not isinstance(stream, (int, np.integer)) or isinstance(stream, bool) or not 0 <= stream < 2**32:
        raise ValueError(f"stream must be an integer in [0, 2**32), got {stream!r}")
    return int(stream)
