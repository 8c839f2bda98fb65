"""Argument checks shared by the public entry points: counts, real arrays, finite scalars.

Every check raises TypeError (wrong kind of object) or ValueError (wrong value) with a message
that names the argument, before any work starts.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

__all__ = ["check_count", "check_real", "check_size", "real_array"]

# The C++ core indexes with 64-bit sizes and numpy arrays hold at most intp-max bytes; counts of
# samples are 32-bit Philox counters in the discrete estimators.
MAX_INTP = int(np.iinfo(np.intp).max)


def check_count(n: Any, name: str, *, minimum: int = 0, maximum: int | None = None) -> int:
    """``n`` as a Python int in [minimum, maximum].

    Refuses bools, floats (even integral ones), complex numbers and other non-integers
    (TypeError), and values out of range (ValueError), naming ``name``.
    """
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {type(n).__name__} {n!r}")
    value = int(n)
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return value


def check_size(n: int, per_item: int, itemsize: int, name: str) -> None:
    """Refuse ``n`` when an output of ``n * per_item`` elements of ``itemsize`` bytes cannot exist."""
    limit = MAX_INTP // max(1, per_item * itemsize)
    if n > limit:
        raise ValueError(
            f"{name} = {n} is too large: the result would have {n} x {per_item} elements of {itemsize} bytes, "
            f"more than an array can hold (at most {limit} here)"
        )


def real_array(x: Any, name: str, *, allow_bool: bool = True) -> np.ndarray:
    """``np.asarray(x)``, refusing complex, object, string and (optionally) boolean dtypes."""
    a = np.asarray(x)
    kinds = "fiub" if allow_bool else "fiu"
    if a.dtype.kind not in kinds:
        raise TypeError(f"{name} must be real numbers, got dtype {a.dtype}")
    return a


def check_real(value: Any, name: str, *, finite: bool = True, positive: bool = False, nonnegative: bool = False):
    """A real scalar as a float: refuses bools, complex, strings, arrays and (by default) NaN/inf."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    v = float(value)
    if finite and not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if math.isnan(v):
        raise ValueError(f"{name} must not be NaN")
    if positive and not v > 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    if nonnegative and not v >= 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return v
