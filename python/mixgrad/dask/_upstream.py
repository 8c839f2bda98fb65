"""Upstream gradients (dL/dx) for the blocks of a chunked array of samples."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import dask.array as da
import numpy as np

from ._graph import starts

__all__ = ["Upstream"]


class Upstream:
    """dL/dx for every block of an array of ``shape`` and ``chunks``.

    A Dask array is broadcast and rechunked like the samples. A numpy array (or scalar) is not
    turned into a Dask array: each task gets its piece of it, kept as small as broadcasting
    allows (a ``(D,)`` vector stays ``(1, D)``), so that a shared gradient costs no memory and
    no transfers of the samples' size.
    """

    def __init__(self, g: Any, shape: tuple[int, ...], chunks: tuple[tuple[int, ...], ...], name: str) -> None:
        self.dependencies: list[da.Array] = []
        self._dask: da.Array | None = None
        if isinstance(g, da.Array):
            if g.dtype.kind not in "fiub":
                raise TypeError(f"{name} must be real numbers, got dtype {g.dtype}")
            try:
                g = da.broadcast_to(g, shape)
            except ValueError:
                raise ValueError(f"{name}: expected a shape broadcastable to {shape}, got {g.shape}") from None
            self._dask = g.rechunk(chunks)
            self.dependencies.append(self._dask)
            return
        arr = np.asarray(g)
        if arr.dtype.kind not in "fiub":
            raise TypeError(f"{name} must be real numbers, got dtype {arr.dtype}")
        try:
            ok = np.broadcast_shapes(arr.shape, shape) == tuple(shape)
        except ValueError:
            ok = False
        if not ok:
            raise ValueError(f"{name}: expected a shape broadcastable to {shape}, got {arr.shape}")
        self._arr = arr.reshape((1,) * (len(shape) - arr.ndim) + arr.shape)
        self._chunks = chunks
        self._starts = [starts(c) for c in chunks]

    def block(self, idx: tuple[int, ...]) -> Hashable | np.ndarray:
        """The key of block ``idx`` (Dask input), or its piece (numpy input)."""
        if self._dask is not None:
            return (self._dask.name, *idx)
        sl: list[slice] = []
        for axis, i in enumerate(idx):
            if self._arr.shape[axis] == 1:  # broadcast along this axis: keep it of size one
                sl.append(slice(None))
            else:
                sl.append(slice(self._starts[axis][i], self._starts[axis][i] + self._chunks[axis][i]))
        return np.ascontiguousarray(self._arr[tuple(sl)])
