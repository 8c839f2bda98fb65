"""The normal special functions of :mod:`mixgrad.special` on Dask arrays, element-wise.

Any chunking: each block goes through the numpy function, whose value at an element does not
depend on the block it sits in, so the result is bit-identical to the in-memory call. The output
dtype follows the numpy rules (float32 for float32 input, float64 otherwise) and is given to
Dask explicitly: it never calls a kernel on a dummy array to find it.
"""

from __future__ import annotations

from typing import Any

import dask.array as da
import numpy as np

from .. import special as _special
from .._arrays import result_dtype
from ._graph import as_dask

__all__ = ["erfcx", "log_ndtr", "log_ndtr_diff", "ndtr", "ndtri", "ndtri_exp"]


def _block(*blocks: np.ndarray, function: str, nthreads: int | None) -> np.ndarray:
    # Runs on the worker: one numpy call per block (0-d blocks come back as 0-d arrays).
    return np.asarray(getattr(_special, function)(*blocks, nthreads=nthreads))


def _elementwise(function: str, args: tuple[Any, ...], names: tuple[str, ...], nthreads: int | None) -> da.Array:
    arrays = [as_dask(a, n) for a, n in zip(args, names)]
    dtype = result_dtype(*(np.empty(0, a.dtype) for a in arrays), names=names)
    if len(arrays) > 1:
        try:
            arrays = list(da.broadcast_arrays(*arrays))
        except ValueError:
            shapes = ", ".join(f"{n} {a.shape}" for a, n in zip(arrays, names))
            raise ValueError(f"shapes do not broadcast: {shapes}") from None
        pairs = [x for a in arrays for x in (a, tuple(range(a.ndim)))]
        arrays = list(da.core.unify_chunks(*pairs)[1])
    meta = np.empty((0,) * arrays[0].ndim, dtype=dtype)
    return da.map_blocks(
        _block, *arrays, dtype=dtype, meta=meta, token=f"mixgrad-{function}", function=function, nthreads=nthreads
    )


def ndtr(x: Any, *, nthreads: int | None = None) -> da.Array:
    """Standard normal CDF Phi(x), element-wise (see :func:`mixgrad.special.ndtr`).

    Parameters
    ----------
    x : dask.array.Array or array_like
    nthreads : int, optional
        Threads per task (default: mixgrad's default in the process that runs the task; in a
        ``distributed`` worker that is one, see ``docs/dask.md``).

    Returns
    -------
    dask.array.Array
        Lazy; bit-identical to :func:`mixgrad.special.ndtr` on the computed input.
    """
    return _elementwise("ndtr", (x,), ("x",), nthreads)


def log_ndtr(x: Any, *, nthreads: int | None = None) -> da.Array:
    """log Phi(x), element-wise (:func:`mixgrad.special.log_ndtr`).

    ``x``: a Dask array or array_like.
    See :func:`ndtr` for ``nthreads`` and the result.
    """
    return _elementwise("log_ndtr", (x,), ("x",), nthreads)


def ndtri(p: Any, *, nthreads: int | None = None) -> da.Array:
    """Inverse standard normal CDF, element-wise (:func:`mixgrad.special.ndtri`).

    ``p``: probabilities in [0, 1], a Dask array or array_like.
    See :func:`ndtr` for ``nthreads`` and the result.
    """
    return _elementwise("ndtri", (p,), ("p",), nthreads)


def ndtri_exp(log_p: Any, *, nthreads: int | None = None) -> da.Array:
    """Phi^{-1}(exp(log_p)), element-wise (:func:`mixgrad.special.ndtri_exp`).

    ``log_p``: log-probabilities <= 0, a Dask array or array_like.
    See :func:`ndtr` for ``nthreads`` and the result.
    """
    return _elementwise("ndtri_exp", (log_p,), ("log_p",), nthreads)


def erfcx(x: Any, *, nthreads: int | None = None) -> da.Array:
    """Scaled complementary error function exp(x^2) erfc(x), element-wise.

    ``x``: a Dask array or array_like.
    See :func:`ndtr` for ``nthreads`` and the result.
    """
    return _elementwise("erfcx", (x,), ("x",), nthreads)


def log_ndtr_diff(a: Any, b: Any, *, nthreads: int | None = None) -> da.Array:
    """log(Phi(b) - Phi(a)), element-wise with broadcasting (:func:`mixgrad.special.log_ndtr_diff`).

    ``a``, ``b``: broadcastable Dask arrays or array_likes (their chunks are unified first).
    See :func:`ndtr` for ``nthreads`` and the result.
    """
    return _elementwise("log_ndtr_diff", (a, b), ("a", "b"), nthreads)
