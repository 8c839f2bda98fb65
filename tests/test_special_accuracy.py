"""Accuracy of mixgrad.special against mpmath (tests/mp_reference.py) on >= 10^4 points per
function, spread logarithmically over the whole float64 range (every exponent, both signs)
and, with the same count again, over the range where the value is not trivially 0, 1 or inf.

Errors are measured against the unrounded exact value, in units in the last place of the exact
value's binade. Bound enforced: BOUND64 = 8 ulp in float64, BOUND32 = 1 float32 ulp (float32 is
computed in float64 and rounded once). The README's accuracy table lists the measured maxima;
print them with ``python tests/test_special_accuracy.py``.
"""

import sys

import numpy as np
import pytest

pytest.importorskip("mpmath")

import mixgrad.special as S
import mp_reference as R

BOUND64 = 8.0
BOUND32 = 1.0
N = 2600  # per sign and range; 2 ranges x 2 signs > 10^4 points per float64 function


def _log_spread(lo_exp, hi, n=N):
    """n points from 10**lo_exp to hi (both included), evenly spaced in log."""
    return np.geomspace(10.0**lo_exp, hi, n)


def _sym(mags):
    return np.concatenate([-mags[::-1], mags])


def points(name, dtype=np.float64, n=N):
    """The inputs of ``name`` (for log_ndtr_diff, a pair of arrays)."""
    with np.errstate(over="ignore", under="ignore"):  # past the float32 range: inf, dropped
        return _points(name, dtype, n)


def _points(name, dtype, n):
    fi = np.finfo(dtype)
    tiny, big = float(fi.smallest_subnormal), float(fi.max)
    whole = _sym(np.geomspace(tiny, big, n))
    if name == "ndtr":
        x = np.concatenate([whole, _sym(_log_spread(-300, 38.5, n))])
    elif name == "log_ndtr":
        x = np.concatenate([whole, -_log_spread(-300, 1.8e154, n), _log_spread(-300, 38.5, n)])
    elif name == "erfcx":
        x = np.concatenate([whole, -_log_spread(-300, 26.6, n), _log_spread(-300, 1e10, n)])
    elif name == "ndtri":
        lower = np.geomspace(tiny, 0.5, 2 * n)
        upper = 1 - _log_spread(-16, 0.5, 2 * n)
        x = np.concatenate([lower, upper])
    elif name == "ndtri_exp":
        x = np.concatenate([-np.geomspace(tiny, big, 2 * n), -_log_spread(-20, 1e5, 2 * n)])
    elif name == "log_ndtr_diff":
        rng = np.random.default_rng(12)
        hi = np.log10(big) if dtype == np.float64 else 38
        lo = np.log10(tiny)
        n = n * 5 // 4  # some pairs are dropped below (b rounds to a, or overflows)
        mags = 10.0 ** rng.uniform(lo, hi, n)
        a1 = np.where(rng.random(n) < 0.5, -1.0, 1.0) * mags
        b1 = a1 + np.abs(a1) * 10.0 ** rng.uniform(-15, 1, n)  # relative gaps, whole range
        a2 = -(10.0 ** rng.uniform(-300, 3, n))
        b2 = a2 + 10.0 ** rng.uniform(-300, 2, n)  # absolute gaps near the center
        a3 = -(10.0 ** rng.uniform(lo, 3, n))
        b3 = 10.0 ** rng.uniform(lo, 3, n)  # straddling 0
        a4 = rng.uniform(-40, 40, n)
        b4 = a4 + 10.0 ** rng.uniform(-16, 1.5, n)  # the tails where the values are not trivial
        a = np.concatenate([a1, a2, a3, a4]).astype(dtype)
        b = np.concatenate([b1, b2, b3, b4]).astype(dtype)
        keep = np.isfinite(a) & np.isfinite(b) & (a < b)
        return a[keep], b[keep]
    else:
        raise KeyError(name)
    x = x.astype(dtype)
    return x[np.isfinite(x)]


def _exact(name, x, got):
    if name == "ndtri":
        return [R.ndtri(float(v), float(g)) for v, g in zip(x, got)]
    if name == "ndtri_exp":
        return [R.ndtri_exp(float(v), float(g)) for v, g in zip(x, got)]
    ref = getattr(R, name)
    return [ref(float(v)) for v in x]


def measure(name, dtype=np.float64, n=N):
    """(max ulp error, argument where it occurs, number of points)."""
    if name == "log_ndtr_diff":
        a, b = points(name, dtype, n)
        got = S.log_ndtr_diff(a, b)
        exact = [R.log_ndtr_diff(float(u), float(v)) for u, v in zip(a, b)]
        args = list(zip(a, b))
    else:
        x = points(name, dtype, n)
        got = getattr(S, name)(x)
        exact = _exact(name, x, got)
        args = list(x)
    assert got.dtype == dtype
    err = R.ulp_errors(got, exact, dtype)
    i = int(np.argmax(err))
    return float(err[i]), args[i], len(args)


NAMES = ["ndtr", "log_ndtr", "ndtri", "ndtri_exp", "erfcx", "log_ndtr_diff"]


@pytest.mark.parametrize("name", NAMES)
def test_float64_within_bound(name):
    worst, where, count = measure(name)
    assert count >= 10_000, count
    assert worst <= BOUND64, f"{name}: {worst:.2f} ulp at {where} (bound {BOUND64})"


@pytest.mark.parametrize("name", NAMES)
def test_float32_within_bound(name):
    worst, where, _ = measure(name, np.float32, n=500)
    assert worst <= BOUND32, f"{name} float32: {worst:.2f} ulp at {where} (bound {BOUND32})"


# Where a function switches formula, dense points on both sides (steps of one ulp, then relative
# offsets up to 1e-3): ndtri's central rational and tails at |p - 1/2| = 0.47, erfcx's rational
# and its asymptote 1/(x sqrt pi) at x = 1e24.
SWITCHES = [("ndtri", 0.03), ("ndtri", 0.97), ("erfcx", 1e24)]


def _around(c, n=150):
    rel = np.geomspace(1e-16, 1e-3, n)
    steps = c + np.spacing(c) * np.arange(-40, 41)
    return np.unique(np.concatenate([c * (1 - rel), c * (1 + rel), steps]))


@pytest.mark.parametrize(("name", "switch"), SWITCHES)
def test_float64_within_bound_where_the_formula_switches(name, switch):
    x = _around(switch)
    got = getattr(S, name)(x)
    err = R.ulp_errors(got, _exact(name, x, got), np.float64)
    i = int(np.argmax(err))
    assert err[i] <= BOUND64, f"{name}: {err[i]:.2f} ulp at {x[i]!r} (bound {BOUND64})"


def main(scale=1):
    """Print the measured maxima as a markdown table; ``scale`` multiplies the point counts."""
    print("| function | points | max error (float64) | max error (float32) |")
    print("|---|---|---|---|")
    for name in NAMES:
        w64, at64, n64 = measure(name, n=N * scale)
        w32, _, _ = measure(name, np.float32, n=500 * scale)
        print(f"| {name} | {n64} | {w64:.1f} ulp (at {at64}) | {w32:.2f} ulp |", flush=True)


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 1))
