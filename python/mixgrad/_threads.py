"""Thread-count controls: get/set, a context manager, and MIXGRAD_NUM_THREADS."""

from __future__ import annotations

import contextlib
import operator
import os
from typing import Iterator, Optional

from ._loader import _core

__all__ = ["get_num_threads", "set_num_threads", "threads", "resolve_nthreads"]


def _check_count(n: object, name: str) -> int:
    try:
        value = operator.index(n)  # rejects floats and bools-as-floats, accepts numpy ints
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {type(n).__name__}") from None
    if isinstance(n, bool):
        raise TypeError(f"{name} must be an integer, got bool")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return value


def get_num_threads() -> int:
    """Number of threads kernels use when called with ``nthreads=None``.

    Unless :func:`set_num_threads` or ``MIXGRAD_NUM_THREADS`` fixed it, this follows OpenMP's
    current default, so ``threadpoolctl.threadpool_limits(n, "openmp")`` also limits mixgrad.
    """
    return int(_core.get_num_threads())


def set_num_threads(n: Optional[int]) -> None:
    """Set the default thread count for all kernels.

    Parameters
    ----------
    n : int or None
        A positive count, or None to go back to OpenMP's default.
    """
    _core.set_num_threads(0 if n is None else _check_count(n, "n"))


@contextlib.contextmanager
def threads(n: Optional[int]) -> Iterator[None]:
    """Context manager that sets the default thread count and restores it on exit.

    Examples
    --------
    >>> import mixgrad, numpy as np
    >>> with mixgrad.threads(1):
    ...     y = mixgrad.special.ndtr(np.zeros(3))
    """
    previous = int(_core._explicit_num_threads())
    set_num_threads(n)
    try:
        yield
    finally:
        _core.set_num_threads(previous)


def resolve_nthreads(nthreads: Optional[int]) -> int:
    """Validate a per-call ``nthreads`` argument; 0 tells the core to use the default."""
    return 0 if nthreads is None else _check_count(nthreads, "nthreads")


def _init_from_environment() -> None:
    value = os.environ.get("MIXGRAD_NUM_THREADS", "").strip()
    if not value:
        return
    try:
        n = int(value)
    except ValueError:
        raise ValueError(f"MIXGRAD_NUM_THREADS must be a positive integer, got {value!r}") from None
    if n < 1:
        raise ValueError(f"MIXGRAD_NUM_THREADS must be a positive integer, got {value!r}")
    _core.set_num_threads(n)


_init_from_environment()
