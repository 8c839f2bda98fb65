"""Deterministic parallel random numbers from a counter-based Philox4x32-10 generator.

Element i of every array depends only on the key (derived from ``seed`` through
``numpy.random.SeedSequence``) and on i, so the same seed gives bit-identical arrays for any
thread count.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any, Union

import numpy as np

from ._arrays import check_nthreads
from ._loader import _core
from ._seeding import SeedLike, philox_key

__all__ = ["normal", "philox_key", "uniform"]

Shape = Union[int, Sequence[int]]


def _shape(size: Shape) -> tuple:
    if isinstance(size, np.ndarray) and size.ndim == 0:
        size = size[()]
    if isinstance(size, (int, np.integer)):
        shape: tuple = (size,)
    elif isinstance(size, (Sequence, np.ndarray)) and not isinstance(size, (str, bytes)):
        shape = tuple(size)
    else:
        raise TypeError(f"size must be an int or a tuple of ints, got {type(size).__name__} {size!r}")
    for s in shape:
        if not isinstance(s, (int, np.integer)) or isinstance(s, bool):
            raise TypeError(f"size must be an int or a tuple of ints, got {size!r}")
        if s < 0:
            raise ValueError(f"size must be non-negative, got {size!r}")
    return tuple(int(s) for s in shape)


def _dtype(dtype) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be float32 or float64, got {dtype!r}") from None
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"dtype must be float32 or float64, got {dt}")
    return dt


def _real_scalar(value: Any, name: str) -> float:
    """A real number (Python or numpy, or a 0-d real array) as float; anything else, complex
    and arrays included, is a TypeError naming the argument."""
    if isinstance(value, np.ndarray):
        if value.ndim != 0:
            raise TypeError(f"{name} must be a scalar (arrays are not broadcast), got an array of shape {value.shape}")
        value = value[()]
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        kind = "complex" if isinstance(value, numbers.Complex) else type(value).__name__
        raise TypeError(f"{name} must be a real number, got {kind} {value!r}")
    return float(value)


def _fill(kind, size, seed, dtype, nthreads, stream):
    # Every argument is checked before the output is allocated.
    shape = _shape(size)
    dt = _dtype(dtype)
    n = check_nthreads(nthreads)
    k0, k1 = philox_key(seed)
    out = np.empty(shape, dtype=dt)
    kind(out.reshape(-1), k0, k1, stream, n)
    return out


def uniform(
    size: Shape,
    seed: SeedLike = None,
    *,
    dtype=np.float64,
    nthreads: int | None = None,
    stream: int = 0,
) -> np.ndarray:
    """Uniform numbers on the open interval (0, 1).

    float64 values are (k + 1/2) 2^-52 with k a random 52-bit integer; float32 values are
    (k + 1/2) 2^-23 with k the top 23 of those bits, drawn in float32 directly, so neither
    0 nor 1 occurs in either precision (and the float32 array is the float64 one coarsened).

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
    nthreads: int | None = None,
    stream: int = 0,
) -> np.ndarray:
    """Normal numbers by exact inversion (sign bit + 52-bit lower-half probability).

    Parameters are those of :func:`uniform`, plus ``loc`` and ``scale``: real scalars
    (scale >= 0). float32 values are the float64 ones rounded.
    """
    loc = _real_scalar(loc, "loc")
    scale = _real_scalar(scale, "scale")
    if not np.isfinite(loc) or not np.isfinite(scale) or scale < 0:
        raise ValueError(f"loc must be finite and scale finite and >= 0, got loc={loc}, scale={scale}")
    out_dtype = _dtype(dtype)
    z = _fill(_core.fill_normal, size, seed, np.float64, nthreads, _stream(stream))
    if loc != 0.0 or scale != 1.0:
        z = loc + scale * z
    return z.astype(out_dtype, copy=False)


def _stream(stream: int) -> int:
    if not isinstance(stream, (int, np.integer)) or isinstance(stream, bool) or not 0 <= stream < 2**32:
        raise ValueError(f"stream must be an integer in [0, 2**32), got {stream!r}")
    return int(stream)
