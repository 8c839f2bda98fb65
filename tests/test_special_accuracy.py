"""Accuracy of mixgrad.special against mpmath (arbitrary precision) on >= 10^4 points each.

Points are spread logarithmically so that every binade of the ranges named in the issue is hit:
ndtr on [-38, 38], log_ndtr on [-1e5, 38], ndtri on p in [1e-300, 1 - 1e-16], ndtri_exp on
log_p in [-1e5, -1e-300], erfcx on [-26.5, 1e5]. Bound: 8 ulp in float64, 4 float32 ulp.
"""

import numpy as np
import pytest

mp = pytest.importorskip("mpmath")

import mixgrad.special as S

from helpers import ulp_error

mp.mp.dps = 60
N = 5000  # per sign/half; 10^4 points per function


def _both_signs(lo_exp, hi):
    mags = np.logspace(lo_exp, np.log10(hi), N)
    return np.concatenate([-mags[::-1], mags])


def _newton(x0, f, df, target, iters=6):
    x = mp.mpf(x0)
    for _ in range(iters):
        x -= (f(x) - target) / df(x)
    return x


def _log_ndtr_exact(v):
    return mp.log(mp.ncdf(v)) if v < 0 else mp.log1p(-mp.ncdf(-v))


def _ndtri_from_log(x0, log_p):
    # The root of log Phi(x) = log_p, or of log Phi(-x) = log(1 - p) in the upper half.
    return _newton(x0, lambda t: mp.log(mp.ncdf(t)), lambda t: mp.npdf(t) / mp.ncdf(t), log_p)


def _ndtri_exact(p, x0):
    p = mp.mpf(p)
    if p < 0.5:
        return _ndtri_from_log(x0, mp.log(p))
    return -_ndtri_from_log(-x0, mp.log(1 - p))


def _check(name, got, exact, bound, dtype=np.float64):
    got = np.asarray(got, dtype=np.float64)
    err = ulp_error(got, exact, dtype)
    worst = int(np.argmax(err))
    finite_exact = np.isfinite(exact)
    assert np.all(np.isfinite(got[finite_exact])), f"{name}: non-finite result where exact is finite"
    nonzero = finite_exact & (np.abs(exact) >= np.finfo(dtype).smallest_subnormal)
    assert np.all(got[nonzero] != 0), f"{name}: 0 where the exact value is representable"
    assert err[worst] <= bound, f"{name}: {err[worst]:.2f} ulp at index {worst} (bound {bound})"
    return err[worst]


def test_ndtr_float64():
    x = _both_signs(-300, 38.0)
    exact = np.array([float(mp.ncdf(mp.mpf(v))) for v in x])
    _check("ndtr", S.ndtr(x), exact, 8)


def test_log_ndtr_float64():
    x = np.concatenate([-np.logspace(-300, 5, N)[::-1], np.logspace(-300, np.log10(38.0), N)])
    exact = np.array([float(_log_ndtr_exact(mp.mpf(v))) for v in x])
    _check("log_ndtr", S.log_ndtr(x), exact, 8)


def test_ndtri_float64():
    p = np.concatenate([np.logspace(-300, np.log10(0.5), N), 1 - np.logspace(-16, np.log10(0.5), N)])
    got = S.ndtri(p)
    exact = np.array([float(_ndtri_exact(v, g)) for v, g in zip(p, got)])
    _check("ndtri", got, exact, 8)


def test_ndtri_exp_float64():
    lp = -np.logspace(-300, 5, 2 * N)
    got = S.ndtri_exp(lp)
    exact = []
    for v, g in zip(lp, got):
        v = mp.mpf(v)
        if v < -0.5:
            exact.append(float(_ndtri_from_log(g, v)))
        else:  # upper half: solve log Phi(-x) = log(1 - p) = log(-expm1(log_p))
            exact.append(float(-_ndtri_from_log(-g, mp.log(-mp.expm1(v)))))
    _check("ndtri_exp", got, np.array(exact), 8)


def test_erfcx_float64():
    x = np.concatenate([-np.logspace(-300, np.log10(26.5), N)[::-1], np.logspace(-300, 5, N)])
    exact = np.array([float(mp.exp(mp.mpf(v) ** 2) * mp.erfc(mp.mpf(v))) for v in x])
    _check("erfcx", S.erfcx(x), exact, 8)


def test_log_ndtr_diff_float64():
    rng = np.random.default_rng(7)
    # Regimes: both tails far left, near-equal points, straddling zero, both right, wide gaps.
    a = np.concatenate([
        -rng.uniform(1, 200, 1000),
        rng.uniform(-30, 30, 1000),
        -rng.uniform(0, 3, 1000),
        rng.uniform(0, 30, 1000),
    ])
    gap = np.concatenate([
        rng.uniform(0, 5, 1000),
        10.0 ** rng.uniform(-12, -1, 1000),
        rng.uniform(0, 6, 1000),
        10.0 ** rng.uniform(-8, 1, 1000),
    ])
    b = a + gap
    keep = b > a
    a, b = a[keep], b[keep]
    got = S.log_ndtr_diff(a, b)
    exact = np.array([
        float(mp.log(mp.ncdf(mp.mpf(y)) - mp.ncdf(mp.mpf(x))) if y <= 0
              else mp.log(mp.ncdf(-mp.mpf(x)) - mp.ncdf(-mp.mpf(y))))
        for x, y in zip(a, b)
    ])
    _check("log_ndtr_diff", got, exact, 8)


@pytest.mark.parametrize(
    "name, x, exact_fn",
    [
        ("ndtr", _both_signs(-40, 14.0), lambda v: mp.ncdf(v)),
        ("log_ndtr", np.concatenate([-np.logspace(-40, 4, N)[::-1], np.logspace(-40, 1, N)]), _log_ndtr_exact),
        ("erfcx", np.concatenate([-np.logspace(-40, 0.95, N)[::-1], np.logspace(-40, 5, N)]),
         lambda v: mp.exp(v * v) * mp.erfc(v)),
    ],
)
def test_float32_within_4_ulp(name, x, exact_fn):
    x32 = x.astype(np.float32)
    exact = np.array([float(exact_fn(mp.mpf(float(v)))) for v in x32])
    exact32_range = np.abs(exact) < np.finfo(np.float32).max
    got = getattr(S, name)(x32)
    assert got.dtype == np.float32
    _check(name, got[exact32_range], exact[exact32_range], 4, np.float32)


def test_ndtri_float32_within_4_ulp():
    p = np.concatenate([np.logspace(-44, np.log10(0.5), N), 1 - np.logspace(-7, np.log10(0.5), N)]).astype(np.float32)
    got = S.ndtri(p)
    assert got.dtype == np.float32
    exact = np.array([float(_ndtri_exact(float(v), float(g))) for v, g in zip(p, got)])
    _check("ndtri32", got, exact, 4, np.float32)
