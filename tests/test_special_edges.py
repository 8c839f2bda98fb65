"""The extreme ends of the float64 range (issue 12, item 11): every function is finite wherever
its exact value is, and right to a few ulp there. Expected values come from mpmath
(tests/mp_reference.py), never from mixgrad."""

import math

import numpy as np
import pytest

pytest.importorskip("mpmath")

import mixgrad.special as S
import mp_reference as R
from helpers import ulp_error

BOUND = 8  # float64 ulp, as in test_special_accuracy.py
MAX = np.finfo(np.float64).max


def _assert_close(got, x, ref):
    got = np.asarray(got, dtype=np.float64)
    exact = np.array([R.to_float(ref(*v)) if isinstance(v, tuple) else R.to_float(ref(v)) for v in x])
    assert np.all(np.isfinite(exact)), "test points must have finite exact values"
    assert np.all(np.isfinite(got)), f"non-finite results {got[~np.isfinite(got)]} where exact is finite"
    assert np.all(got != 0)
    err = ulp_error(got, exact)
    assert err.max() <= BOUND, f"{err.max():.1f} ulp at {x[int(np.argmax(err))]}"


def test_ndtri_exp_finite_down_to_the_most_negative_double():
    # Was NaN below log_p = -1.43e307 (log(4 pi a) and 2a overflowed in the starting point).
    lp = np.array([-1.42e307, -1.44e307, -1e308, -1.5e308, -MAX, np.nextafter(-MAX, 0)])
    _assert_close(S.ndtri_exp(lp), lp, R.ndtri_exp)
    assert S.ndtri_exp(np.float32(-3.4e38)) == np.float32(R.to_float(R.ndtri_exp(float(np.float32(-3.4e38)))))


def test_log_ndtr_finite_until_the_result_overflows():
    # Was -inf on [-1.9e154, -1.34e154]: x^2 overflowed although x^2/2 does not.
    x = np.array([-1.3407807929942597e154, -1.35e154, -1.5e154, -1.8e154, -1.8961e154])
    _assert_close(S.log_ndtr(x), x, R.log_ndtr)
    # Beyond -sqrt(2 * MAX) = -1.8962e154 the exact value is below -MAX: -inf is right.
    assert R.to_float(R.log_ndtr(-1.8963e154)) == -math.inf
    assert S.log_ndtr(-1.8963e154) == -math.inf


def test_normal_logpdf_is_used_consistently_at_huge_arguments():
    # log_ndtr_diff of close points far out uses log phi(m); finite where the answer is.
    a = np.array([-1.5e154, -1.8e154])
    b = np.nextafter(a, 0)
    _assert_close(S.log_ndtr_diff(a, b), list(zip(a, b)), R.log_ndtr_diff)


def test_erfcx_huge_argument_is_subnormal_not_zero():
    # Was 0 above 1.27e308 (x * sqrt 2 overflowed); the exact value 1/(x sqrt pi) is subnormal.
    x = np.array([1.2e308, 1.28e308, 1.5e308, MAX])
    _assert_close(S.erfcx(x), x, R.erfcx)


@pytest.mark.parametrize("sign", [-1.0, 1.0])
def test_log_ndtr_diff_same_far_tail_is_minus_inf_not_nan(sign):
    # Both limits beyond 1.9e154 in the same tail: log of a mass below exp(-MAX), i.e. -inf.
    a = np.array([2e154, 1e200, 1e300, 8.98846567431158e307, MAX / 2])
    b = np.array([3e154, 1e201, np.nextafter(1e300, np.inf), 1.0e308, MAX])
    lo, hi = (a, b) if sign > 0 else (-b, -a)
    exact = [R.to_float(R.log_ndtr_diff(u, v)) for u, v in zip(lo, hi)]
    assert exact == [-math.inf] * len(exact)
    got = S.log_ndtr_diff(lo, hi)
    assert np.all(got == -np.inf), got


def test_log_ndtr_diff_one_limit_in_the_overflow_zone():
    # Only the far limit's log_ndtr overflows: the result is the near limit's tail.
    a = np.array([-1e300, -2e154, -1e200])
    b = np.array([-1e154, -1.5e154, -40.0])
    _assert_close(S.log_ndtr_diff(a, b), list(zip(a, b)), R.log_ndtr_diff)
    _assert_close(S.log_ndtr_diff(-b, -a), list(zip(-b, -a)), R.log_ndtr_diff)


def test_log_ndtr_diff_subnormal_limits():
    # Straddling 0 with subnormal limits: the mass (b - a)/sqrt(2 pi) is subnormal, and was
    # rounded before the log (errors up to 1e8 ulp). Adjacent subnormals gave -inf (h = 0).
    tiny = 5e-324
    a = np.array([-1e-323, -6.4758e-319, -4.243991582e-314, -tiny, -1e-323, -2.781342323134e-309, 0.0, 8.095e-320])
    b = np.array([8.095e-320, 8.095e-320, 5.304989477e-315, tiny, -tiny, -2.781342323133997e-309, tiny, 8.0953e-320])
    _assert_close(S.log_ndtr_diff(a, b), list(zip(a, b)), R.log_ndtr_diff)


def test_special_values_of_log_ndtr_diff():
    inf = np.inf
    assert S.log_ndtr_diff(-inf, inf) == 0.0
    assert S.log_ndtr_diff(-inf, -inf) == -inf
    assert S.log_ndtr_diff(inf, inf) == -inf
    assert S.log_ndtr_diff(-inf, -2.0) == S.log_ndtr(-2.0)
    assert S.log_ndtr_diff(2.0, inf) == S.log_ndtr(-2.0)
    assert math.isnan(S.log_ndtr_diff(1.0, 0.0))
    assert math.isnan(S.log_ndtr_diff(np.nan, 0.0))
