"""Property-based tests (hypothesis) of the special functions against mpmath over their whole
domain: any float64 (or float32) the strategy can produce -- subnormals, the largest finite
values, both signs, -0.0 -- and log-uniform magnitudes so every binade is reached.

The number of examples comes from the hypothesis profile (tests/conftest.py): a small one by
default, many more with HYPOTHESIS_PROFILE=slow.
"""

import math

import numpy as np
import pytest

pytest.importorskip("mpmath")
hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import mixgrad.special as S  # noqa: E402
import mp_reference as R  # noqa: E402

BOUND64 = 8.0  # the bounds of test_special_accuracy.py
BOUND32 = 1.0


def _log_uniform(width):
    """sign * m * 2^e with e uniform over the whole exponent range of the format."""
    lo, hi = (-1074, 1023) if width == 64 else (-149, 127)
    dtype = np.float64 if width == 64 else np.float32

    def build(sign, m, e):
        with np.errstate(over="ignore", under="ignore"):
            v = dtype(sign * np.ldexp(m, e))
        return float(v)

    return st.builds(build, st.sampled_from([-1.0, 1.0]), st.floats(1.0, 2.0), st.integers(lo, hi)).filter(
        math.isfinite
    )


def reals(width=64):
    return st.one_of(st.floats(allow_nan=False, allow_infinity=False, width=width), _log_uniform(width))


def _check(name, arg, got, exact, dtype):
    bound = BOUND64 if dtype == np.float64 else BOUND32
    err = R.ulp_errors([got], [exact], dtype)[0]
    assert err <= bound, f"{name}{arg}: got {got!r}, exact {R.to_float(exact)!r}, {err:.2f} ulp"


@pytest.mark.parametrize("name", ["ndtr", "log_ndtr", "erfcx"])
@pytest.mark.parametrize("width", [64, 32])
def test_unary_against_mpmath(name, width):
    dtype = np.float64 if width == 64 else np.float32

    @given(reals(width))
    def check(x):
        got = getattr(S, name)(dtype(x))
        assert got.dtype == dtype
        _check(name, (x,), float(got), getattr(R, name)(float(dtype(x))), dtype)

    check()


def probabilities(width):
    tiny = _log_uniform(width).map(abs).filter(lambda p: p <= 0.5)
    return st.one_of(st.floats(0.0, 1.0, width=width), tiny, tiny.map(lambda p: 1.0 - p))


@pytest.mark.parametrize("width", [64, 32])
def test_ndtri_against_mpmath(width):
    dtype = np.float64 if width == 64 else np.float32

    @given(probabilities(width))
    def check(p):
        p = dtype(p)
        got = S.ndtri(p)
        assert got.dtype == dtype
        _check("ndtri", (p,), float(got), R.ndtri(float(p), float(got)), dtype)

    check()


@pytest.mark.parametrize("width", [64, 32])
def test_ndtri_exp_against_mpmath(width):
    dtype = np.float64 if width == 64 else np.float32

    @given(reals(width).map(lambda v: -abs(v)))
    def check(log_p):
        log_p = dtype(log_p)
        got = S.ndtri_exp(log_p)
        assert got.dtype == dtype
        _check("ndtri_exp", (log_p,), float(got), R.ndtri_exp(float(log_p), float(got)), dtype)

    check()


@pytest.mark.parametrize("width", [64, 32])
def test_log_ndtr_diff_against_mpmath(width):
    dtype = np.float64 if width == 64 else np.float32

    # Independent limits, and close pairs b = a + |a| 2^-k (the cancellation regime).
    def near(a, k):
        with np.errstate(over="ignore"):
            return a, float(dtype(a + max(abs(a), 1e-300) * 2.0**-k))

    close = st.builds(near, reals(width), st.integers(0, 52))
    pairs = st.one_of(st.tuples(reals(width), reals(width)), close)

    @given(pairs)
    def check(ab):
        a, b = sorted(float(dtype(v)) for v in ab)
        if not a < b or not math.isfinite(b):
            return
        got = S.log_ndtr_diff(dtype(a), dtype(b))
        assert got.dtype == dtype
        _check("log_ndtr_diff", (a, b), float(got), R.log_ndtr_diff(a, b), dtype)

    check()


@given(reals())
def test_log_ndtr_is_the_log_of_ndtr(x):
    # Where Phi(x) is a normal float64, exp(log_ndtr) and ndtr agree to the errors of both
    # (8 ulp of |log_ndtr| absolute, 8 ulp of ndtr relative) and of exp and the division.
    p = S.ndtr(x)
    if p < 1e-300:
        return
    lg = S.log_ndtr(x)
    assert abs(math.exp(lg) / p - 1) <= 8 * np.spacing(abs(lg)) + 11 * 2.0**-52
