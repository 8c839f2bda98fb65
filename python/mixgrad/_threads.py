"""Thread-count controls: get/set, a per-thread context manager, and MIXGRAD_NUM_THREADS.

Where a count comes from, first match wins: a call's ``nthreads=``; the innermost
:func:`threads` context of the calling thread (or asyncio task); :func:`set_num_threads` or
``MIXGRAD_NUM_THREADS`` (process-wide); OpenMP's default (which ``threadpoolctl`` limits).

Counts are at most :data:`MAX_THREADS` (1024; larger ones raise ValueError). Whatever was asked
for, one call starts at most 4 threads per processor the process may run on (more would only
add switching), and only one in a process forked from one that had imported mixgrad (OpenMP's
thread pool does not survive ``fork``: use the "spawn" or "forkserver" start method for parallel
workers). Results are bit-identical for any thread count, so these limits never change a result.
"""

from __future__ import annotations

import contextlib
import contextvars
import operator
import os
from collections.abc import Iterator
from typing import Any

from ._loader import _core

__all__ = ["MAX_THREADS", "get_num_threads", "resolve_nthreads", "set_num_threads", "threads"]

#: The largest thread count accepted by ``nthreads=``, :func:`set_num_threads`, :func:`threads`
#: and ``MIXGRAD_NUM_THREADS``.
MAX_THREADS: int = int(_core.MAX_THREADS)

# The count of the innermost threads() context: 0 outside any, _OPENMP_DEFAULT for threads(None).
# A ContextVar: each thread (and asyncio task) has its own, and a new thread starts outside any.
_OPENMP_DEFAULT = -1
_context_count: contextvars.ContextVar[int] = contextvars.ContextVar("mixgrad_threads", default=0)


def _context_nthreads() -> int:
    """This thread's context count for the core, or 0 (the process-wide default) outside any."""
    n = _context_count.get()
    return int(_core.openmp_default_threads()) if n == _OPENMP_DEFAULT else n


def _check_count(n: Any, name: str) -> int:
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
    """Number of threads kernels ask for when called with ``nthreads=None``.

    The count of the calling thread's innermost :func:`threads` context if any, else the
    process-wide count of :func:`set_num_threads` or ``MIXGRAD_NUM_THREADS``, else OpenMP's
    current default, so ``threadpoolctl.threadpool_limits(n, "openmp")`` also limits mixgrad.
    A call starts at most 4 threads per processor (one in a forked child), whatever this says.
    """
    n = _context_nthreads()
    return n if n else int(_core.get_num_threads())


def set_num_threads(n: int | None) -> None:
    """Set the process-wide default thread count for all kernels.

    :func:`threads` contexts take precedence in the threads that have one.

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
def threads(n: int | None) -> Iterator[None]:
    """Context manager: the default thread count for calls made in this thread inside it.

    Per thread (a :class:`contextvars.ContextVar`): other threads keep their own count, and on
    exit the previous state is back exactly, including "not set". The process-wide setting
    (:func:`set_num_threads`) is not changed: set inside the context, it stays after it. Calls
    that another library makes on threads of its own use the process-wide setting.

    Parameters
    ----------
    n : int or None
        A count from 1 to :data:`MAX_THREADS` (1024), or None for OpenMP's default.

    Examples
    --------
    >>> import mixgrad, numpy as np
    >>> with mixgrad.threads(1):
    ...     y = mixgrad.special.ndtr(np.zeros(3))
    """
    token = _context_count.set(_OPENMP_DEFAULT if n is None else _check_count(n, "n"))
    try:
        yield
    finally:
        _context_count.reset(token)


def resolve_nthreads(nthreads: int | None) -> int:
    """Validate a per-call ``nthreads`` argument (None: this thread's :func:`threads` context).

    Returns the count to pass to the core; 0 tells it to use the process-wide default.
    Every call into the core that takes a thread count goes through here.
    """
    return _context_nthreads() if nthreads is None else _check_count(nthreads, "nthreads")


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
