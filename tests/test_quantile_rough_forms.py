"""The quantile solver's rough forms against mpmath: the first evaluation of each coordinate takes
Q(y) = Phi(-y) e^{y^2/2} and e^y from shorter approximations (mixture/diag/quantile.hpp), whose
errors set its threshold kRoughHError. They are held here to the accuracy their comments state:
Q to 3e-13 relative on [0, 10] and e^y to 2e-12 relative down to the flush at -708."""

import mpmath as mp
import numpy as np
import pytest

from mixgrad import _core


def _relative_errors(got, exact):
    return np.abs(got / exact - 1.0)


def test_rough_scaled_tail_is_within_3e_13_on_its_range():
    rng = np.random.default_rng(0)
    y = np.concatenate([np.linspace(0.0, 10.0, 4001), rng.uniform(0.0, 10.0, 4000), [5e-324, 1e-300, 1e-8]])
    with mp.workdps(40):
        exact = np.array([float(mp.ncdf(-mp.mpf(v)) * mp.exp(mp.mpf(v) ** 2 / 2)) for v in y])
    err = _relative_errors(_core._scaled_lower_tail_rough(y), exact)
    assert err.max() <= 3e-13, (err.max(), y[err.argmax()])
    # It is an approximation of that order, not the exact form under another name.
    assert err.max() > 1e-15


def test_rough_exponential_is_within_2e_12_down_to_the_flush():
    rng = np.random.default_rng(1)
    x = np.concatenate(
        [np.linspace(-708.0, 0.0, 8001), -rng.exponential(5.0, 4000), -np.logspace(-300, 0, 200), [0.0, -0.0]]
    )
    with mp.workdps(40):
        exact = np.array([float(mp.exp(mp.mpf(v))) for v in x])
    err = _relative_errors(_core._relative_exp_rough(x), exact)
    assert err.max() <= 2e-12, (err.max(), x[err.argmax()])
    assert err.max() > 1e-15


@pytest.mark.parametrize(("x", "expected"), [(0.0, 1.0), (-708.5, 0.0), (-1e300, 0.0), (-np.inf, 0.0)])
def test_rough_exponential_edges(x, expected):
    assert _core._relative_exp_rough(np.array([x]))[0] == expected


def test_rough_forms_pass_nan_through():
    nan = np.array([np.nan])
    assert np.isnan(_core._relative_exp_rough(nan)[0])
    assert np.isnan(_core._scaled_lower_tail_rough(nan)[0])
