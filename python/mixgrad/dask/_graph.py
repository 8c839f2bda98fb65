"""Dask graph helpers shared by mixgrad.dask: inputs as Dask arrays, chunk offsets, new arrays from
task layers, and the fixed-order tree reduction."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import dask.array as da
import numpy as np
from dask.base import tokenize
from dask.highlevelgraph import HighLevelGraph

__all__ = ["as_dask", "new_array", "starts", "token", "tree_sum", "tree_sum_keys"]


def as_dask(a: Any, name: str) -> da.Array:
    """``a`` as a Dask array (numpy arrays become one chunk); real dtypes only."""
    arr = a if isinstance(a, da.Array) else da.from_array(np.asarray(a), chunks=-1)
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{name} must be real numbers, got dtype {arr.dtype}")
    return arr


def starts(chunks: Sequence[int]) -> list[int]:
    """The first index of every chunk along one axis."""
    return [0, *itertools.accumulate(chunks)][:-1]


def new_array(
    name: str,
    layer: dict[Any, Any],
    dependencies: Sequence[Any],
    chunks: tuple[tuple[int, ...], ...],
    dtype: np.dtype,
) -> da.Array:
    """A Dask array from the tasks of ``layer`` (keys ``(name, *block_index)``), with an explicit
    empty ``meta`` so that Dask never calls a kernel to guess the output type."""
    graph = HighLevelGraph.from_collections(name, layer, dependencies=list(dependencies))
    meta = np.empty((0,) * len(chunks), dtype=dtype)
    return da.Array(graph, name, chunks, meta=meta)


def _add(a: Any, b: Any) -> Any:
    """``a + b`` for arrays, or element by element for tuples of arrays (float64 sums)."""
    if isinstance(a, tuple):
        return tuple(_add(x, y) for x, y in zip(a, b))
    return np.add(a, b, dtype=np.float64)


def tree_sum_keys(
    layer: dict[Any, Any], name: str, keys: Sequence[Hashable], add: Callable[[Any, Any], Any] = _add
) -> Hashable:
    """Add tasks to ``layer`` that sum the values at ``keys`` pairwise; return the key of the sum.

    The order is fixed by ``len(keys)`` alone: level by level, neighbours ``(2i, 2i+1)`` are
    added and an odd last one moves up unchanged -- the order of :func:`tree_sum`.
    """
    level: list[Hashable] = list(keys)
    depth = 0
    while len(level) > 1:
        nxt: list[Hashable] = []
        for i in range(0, len(level) - 1, 2):
            key = (name, depth, i // 2)
            layer[key] = (add, level[i], level[i + 1])
            nxt.append(key)
        if len(level) % 2:
            nxt.append(level[-1])
        level, depth = nxt, depth + 1
    return level[0]


def tree_sum(parts: Sequence[Any]) -> Any:
    """Sum numpy arrays (or tuples of them) in the fixed pairwise order of the Dask reductions.

    Level by level, neighbours ``(parts[2i], parts[2i+1])`` are added in float64 and an odd last
    one moves up unchanged, until one is left: for five parts, ``((p0 + p1) + (p2 + p3)) + p4``.
    The order depends on the number of parts only, never on the scheduler or the workers, so a
    reduction over the same chunking gives the same bits everywhere; it equals the sequential sum
    to rounding. The gradients of :class:`mixgrad.dask.DiagGaussianMixture` summed over sample
    chunks are this sum of the per-chunk gradients, rounded to the mixture's dtype at the end.

    Parameters
    ----------
    parts : sequence of ndarray, or of tuples of ndarrays
        At least one.

    Returns
    -------
    ndarray or tuple of ndarrays
        float64 (the caller rounds to its dtype).
    """
    if len(parts) == 0:
        raise ValueError("parts: need at least one")
    level = [_as_float64(p) for p in parts]
    while len(level) > 1:
        nxt = [_add(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def _as_float64(p: Any) -> Any:
    if isinstance(p, tuple):
        return tuple(np.asarray(x, dtype=np.float64) for x in p)
    return np.asarray(p, dtype=np.float64)


def token(*args: Any) -> str:
    """A deterministic name suffix for a graph layer."""
    return tokenize(*args)
