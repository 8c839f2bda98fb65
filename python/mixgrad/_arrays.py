"""Array-argument handling shared by the ufunc-like functions: dtype rules, broadcasting, out=."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ._threads import resolve_nthreads

__all__ = ["as_float_array", "call_elementwise", "check_nthreads", "result_dtype"]

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_INT_MAX = 2**31 - 1  # the core takes a C int


def check_nthreads(nthreads: Any) -> int:
    """``nthreads`` validated for the core (0 = the default): an integer type, >= 1, and within
    a C int, so that a huge Python int raises ValueError naming the argument rather than
    pybind11's overload error."""
    n = resolve_nthreads(nthreads)
    if n > _INT_MAX:
        raise ValueError(f"nthreads must be at most {_INT_MAX}, got {n}")
    return n


def _float_dtype_of(a: np.ndarray, name: str) -> np.dtype:
    kind = a.dtype.kind
    if kind == "f":
        if a.dtype.itemsize > 8:
            raise TypeError(f"{name}: long double is not supported; cast to float64")
        return np.dtype(np.float32) if a.dtype.itemsize <= 4 else np.dtype(np.float64)
    if kind in "biu":
        return np.dtype(np.float64)
    raise TypeError(f"{name} must be real numbers (float32, float64 or integers), got dtype {a.dtype}")


def as_float_array(x: Any, name: str, dtype: np.dtype | None = None) -> np.ndarray:
    """``x`` as a C-contiguous float32/float64 array; no copy when it already is one.

    Integers and booleans become float64, float16 becomes float32; complex, object and string
    inputs raise TypeError naming ``name``.
    """
    a = np.asarray(x)
    target = _float_dtype_of(a, name) if dtype is None else np.dtype(dtype)
    return np.ascontiguousarray(a, dtype=target)


def result_dtype(*args: Any, names: tuple[str, ...]) -> np.dtype:
    """float32 when numpy's promotion of the arguments gives float32 or narrower (Python scalars
    adapt to arrays, as in numpy), else float64."""
    for a, n in zip(args, names):
        _float_dtype_of(np.asarray(a), n)
    # Python int/float stay scalars so they adapt to the array's precision (NEP 50).
    promoted = np.result_type(
        *(a if isinstance(a, (int, float, np.generic, np.ndarray)) else np.asarray(a) for a in args)
    )
    if promoted.kind == "f" and promoted.itemsize <= 4:
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def _check_out(out: Any, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a numpy array, got {type(out).__name__}")
    if out.shape != shape:
        raise ValueError(f"out has shape {out.shape}, expected {shape}")
    if out.dtype != dtype:
        raise TypeError(f"out has dtype {out.dtype}, expected {dtype}")
    if not out.flags.writeable:
        raise ValueError("out is read-only")
    return out


def _overlaps_partially(out: np.ndarray, inputs: tuple[np.ndarray, ...]) -> bool:
    """True unless every input is either disjoint from ``out`` or the very same contiguous
    elements (element i read and written at the same address, which an element-wise kernel
    handles in place). Like numpy, a possible overlap is treated as one: may_share_memory only
    compares bounds, so strided but disjoint views take the (correct, slower) temporary too."""
    for a in inputs:
        if not np.may_share_memory(out, a):
            continue
        same = (
            a.ctypes.data == out.ctypes.data
            and a.dtype == out.dtype
            and a.size == out.size
            and a.flags.c_contiguous
            and out.flags.c_contiguous
        )
        if not same:
            return True
    return False


def call_elementwise(
    kernel: Callable[..., np.ndarray],
    args: tuple[Any, ...],
    names: tuple[str, ...],
    out: np.ndarray | None,
    nthreads: int,
) -> Any:
    """Broadcast ``args``, run ``kernel(*flat_args, out=..., nthreads=...)``, reshape.

    Scalars in give a numpy scalar out, as numpy ufuncs do. An ``out`` that overlaps an input
    other than element for element gets the result through a temporary, as in numpy. If the
    call is interrupted (KeyboardInterrupt, or whatever a signal handler raised) after it
    started writing into a caller's ``out``, ``out`` is filled with NaN before the exception
    propagates, so no partial result looks valid.
    """
    dtype = result_dtype(*args, names=names)
    raw = [np.asarray(a) for a in args]
    try:
        shape = np.broadcast_shapes(*(r.shape for r in raw)) if len(raw) > 1 else raw[0].shape
    except ValueError:
        shapes = ", ".join(f"{n} {r.shape}" for n, r in zip(names, raw))
        raise ValueError(f"{' and '.join(names)} cannot be broadcast together: {shapes}") from None
    flat = []
    for r in raw:
        b = np.broadcast_to(r, shape) if r.shape != shape else r
        flat.append(np.ascontiguousarray(b, dtype=dtype).reshape(-1))
    if out is not None:
        target = _check_out(out, shape, dtype)
        if target.flags.c_contiguous and not _overlaps_partially(target, tuple(flat)):
            try:
                kernel(*flat, out=target.reshape(-1), nthreads=nthreads)
            except (TypeError, ValueError):
                raise  # rejected before anything was written
            except BaseException:
                target[...] = np.nan  # interrupted part way
                raise
            return target
        target[...] = kernel(*flat, out=None, nthreads=nthreads).reshape(shape)
        return target
    result = kernel(*flat, out=None, nthreads=nthreads).reshape(shape)
    if all(r.ndim == 0 for r in raw):
        return result[()]
    return result
