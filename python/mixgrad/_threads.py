"""Thread-count controls: get/set, a context manager, and MIXGRAD_NUM_THREADS.

Counts are at most :data:`MAX_THREADS` (1024; larger ones raise ValueError). Whatever was asked
for, one call starts at most 4 threads per processor the process may run on (more would only
add switching), and only one in a process forked from one that had imported mixgrad (OpenMP's
thread pool does not survive ``fork``: use the "spawn" or "forkserver" start method for parallel
workers). Results are bit-identical for any thread count, so these limits never change a result.
"""

from __future__ import annotations

import contextlib
import operator
import os
from typing import Iterator, Optional

from ._loader import _core

__all__ = ["MAX_THREADS", "get_num_threads", "set_num_threads", "threads", "resolve_nthreads"]

#: The largest thread count accepted by ``nthreads=``, :func:`set_num_threads`, :func:`threads`
#: and ``MIXGRAD_NUM_THREADS``.
MAX_THREADS: int = int(_core.MAX_THREADS)


def _check_count(n: object, name: str) -> int:
    if isinstance(n, bool):
        raise TypeError(f"{name} must be an integer, got bool")
    try:
        value = operator.index(n)  # rejects floats and strings, accepts numpy integers
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {type(n).__name__}") from None
    if not 1 <= value <= MAX_THREADS:
        raise ValueError(f"{name} must be between 1 and {MAX_THREADS}, got {value}")
    return value


def get_num_threads() -> int:
    """Number of threads kernels use when called with ``nthreads=None``.

    Unless :func:`set_num_threads` or ``MIXGRAD_NUM_THREADS`` fixed it, this follows OpenMP's
    current default, so ``threadpoolctl.threadpool_limits(n, "openmp")`` also limits mixgrad.
    A call starts at most 4 threads per processor (one in a forked child), whatever this says.
    """
    return int(_core.get_num_threads())


def set_num_threads(n: Optional[int]) -> None:
    """Set the default thread count for all kernels.

    Parameters
    ----------
    n : int or None
        A count from 1 to :data:`MAX_THREADS` (1024), or None to go back to OpenMP's default.
        Counts above 4 per processor are allowed but start no more threads than that.

    Raises
    ------
    TypeError
        If ``n`` is not an integer (or None).
    ValueError
        If ``n`` is outside 1..1024.
    """
    _core.set_num_threads(0 if n is None else _check_count(n, "n"))


@contextlib.contextmanager
def threads(n: Optional[int]) -> Iterator[None]:
    """Context manager that sets the default thread count and restores it on exit.

    Parameters
    ----------
    n : int or None
        As in :func:`set_num_threads`.

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
    """Validate a per-call ``nthreads`` argument; 0 tells the core to use the default.

    Every call into the core that takes a thread count goes through here.
    """
    return 0 if nthreads is None else _check_count(nthreads, "nthreads")


def _init_from_environment() -> None:
    value = os.environ.get("MIXGRAD_NUM_THREADS", "").strip()
    if not value:
        return
    try:
        n = int(value)
    except ValueError:
        n = 0
    if not 1 <= n <= MAX_THREADS:
        raise ValueError(f"MIXGRAD_NUM_THREADS must be an integer from 1 to {MAX_THREADS}, got {value!r}")
    _core.set_num_threads(n)


_init_from_environment()
