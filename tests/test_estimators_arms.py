"""DisARM, ARMS, RLOO and double control variates: unbiasedness against exact enumeration,
per-sample estimates and streaming statistics, determinism across thread counts, errors.

Tolerance: |mean - exact| <= 4 standard errors + `rare` (as tests/test_estimators_unbiased.py:
outcomes of probability p with p * n < 1e-3, e.g. the |alpha| = 30 coordinates, are almost surely
never drawn, and contribute at most 2 p sup|g| to the mean). Logits of +-30 go only into events
that keep other coordinates (rows) drawn both ways, so every case can fail. For disarm and arms the standard
error is exact (i.i.d. pairs / groups); for rloo and double_cv it is the first-order one.
"""

import zlib

import numpy as np
import pytest

import mixgrad as mg
from _helpers_unbiased import random_logits, rare_bound

N = 2 * 10**5


def _make(case):
    kind, noise, rows, E = case
    rng = np.random.default_rng(zlib.crc32(repr(case).encode()))
    if kind == "bern":
        dist = mg.Bernoulli(random_logits(rng, 1, E, E >= 5)[0], noise=noise)
    else:
        a = random_logits(rng, rows, E, rows > 1)
        dist = mg.Categorical(a if rows > 1 else a[0])
    obj = mg.QuadraticForm(rng.normal(size=(E, E)), rng.normal(size=dist.shape), d=rng.normal())
    return dist, obj


def _z(est, truth, bound):
    """|mean - exact| in standard errors, after the rare-outcome allowance."""
    err = np.maximum(np.abs(est.mean - truth) - bound, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(err > 0, err / est.stderr, 0.0)


def _assert_unbiased(est, truth, bound, what):
    assert np.all(np.isfinite(est.mean)), what
    assert np.all(np.isfinite(est.stderr)), what
    z = _z(est, truth, bound)
    assert np.all(z <= 4.0), f"{what}: z {z.max():.2f} at {np.argmax(z)}; mean {est.mean} truth {truth}"


BERN = [("bern", "logistic", 1, D) for D in (1, 5, 12)]
CAT = [("cat", None, rows, K) for K in (3, 10) for rows in (1, 4)]


@pytest.mark.parametrize("case", BERN, ids=[f"D{c[3]}" for c in BERN])
def test_disarm_and_arms_are_unbiased_bernoulli(case):
    dist, obj = _make(case)
    truth = mg.exact(obj, dist).mean
    d = mg.disarm(obj, dist, N, seed=1, keep_samples=False)
    _assert_unbiased(d, truth, rare_bound(dist, obj, 2 * N), "disarm")
    for n_draws in (2, 3, 5):
        S = N // n_draws
        a = mg.arms(obj, dist, S, seed=2, n_draws=n_draws, keep_samples=False)
        _assert_unbiased(a, truth, rare_bound(dist, obj, S * n_draws), f"arms n={n_draws}")


@pytest.mark.parametrize("case", [*BERN, ("bern", "gaussian", 1, 5), *CAT])
def test_rloo_and_double_cv_are_unbiased(case):
    dist, obj = _make(case)
    truth = mg.exact(obj, dist).mean
    n = N // dist.n_rows
    bound = rare_bound(dist, obj, n)
    _assert_unbiased(mg.rloo(obj, dist, n, seed=3, keep_samples=False), truth, bound, "rloo")
    _assert_unbiased(mg.double_cv(obj, dist, n, seed=4, keep_samples=False), truth, bound, "double_cv")


def test_arms_debiasing_factor_is_needed():
    # Power check: without the factor 1/(1 - rho) the ARMS mean is off by (1 - rho) - 1 ~ 16 %
    # (n = 4, theta = 1/2); the 4-standard-error test must reject that.
    dist, obj = mg.Bernoulli(np.zeros(3)), mg.Quadratic(np.array([0.1, 0.45, 0.9]))
    truth = mg.exact(obj, dist).mean
    a = mg.arms(obj, dist, 50_000, seed=5, n_draws=4)
    assert np.all(_z(a, truth, 0.0) <= 4.0)
    t = 1.0 - 0.5 ** (1.0 / 3.0)
    one_minus_rho = -np.expm1(3.0 * np.log1p(-t / (1.0 - t))) / 0.5
    raw = a.mean * one_minus_rho  # the plain RLOO form on the antithetic draws
    assert np.all(np.abs(raw - truth) > 4.0 * a.stderr * one_minus_rho)


def test_disarm_matches_its_formula():
    # per-pair estimate from the draws: g = 1/2 (f(b) - f(b~)) (-1)^{b~} 1[b != b~] sigmoid(|alpha|)
    alpha = np.array([-1.5, 0.0, 0.3, 2.0])
    dist = mg.Bernoulli(alpha)
    seen = []

    def value(x):
        seen.append(x.copy())
        return ((x - 0.3) ** 2).sum(-1) + x[..., 0] * x[..., 3]

    est = mg.disarm(mg.Callback(value), dist, 64, seed=9)
    x = seen[0].reshape(64, 2, 4)
    b, bt = x[:, 0], x[:, 1]
    f = value(b), value(bt)
    g = 0.5 * (f[0] - f[1])[:, None] * (-1.0) ** bt * (b != bt) / (1.0 + np.exp(-np.abs(alpha)))
    np.testing.assert_allclose(est.samples, g, rtol=1e-13, atol=1e-15)
    # b and b~ are Bernoulli(theta) draws of the same u: b~ = 1[1 - u < theta]
    assert np.all((b == 1) | (bt == 1) | (alpha < 0))


@pytest.mark.parametrize("name", ["disarm", "arms"])
def test_samples_mean_variance_and_streaming(name):
    dist = mg.Bernoulli(np.random.default_rng(0).normal(size=(3, 7)))
    obj = mg.Quadratic(0.4)
    fn = getattr(mg, name)
    a = fn(obj, dist, 1000, seed=11)
    b = fn(obj, dist, 1000, seed=11, keep_samples=False)
    assert a.samples.shape == (1000, 3, 7)
    assert b.samples is None
    np.testing.assert_allclose(a.samples.mean(0), a.mean, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(a.samples.var(0, ddof=1), a.variance, rtol=1e-10, atol=1e-15)
    np.testing.assert_array_equal(a.mean, b.mean)
    np.testing.assert_array_equal(a.variance, b.variance)
    assert a.diagnostics["n_evaluations"] == 1000 * a.diagnostics["n_draws"]


@pytest.mark.parametrize("name", ["disarm", "arms"])
@pytest.mark.parametrize("shape", [(1,), (40, 50), (300,)])
def test_bit_identical_for_any_thread_count(name, shape):
    dist = mg.Bernoulli(np.random.default_rng(1).normal(size=shape))
    obj = mg.Quadratic(0.3)
    fn = getattr(mg, name)
    S = 40_000 if shape == (1,) else 200
    r = [fn(obj, dist, S, seed=3, nthreads=t) for t in (1, 2, 3)]
    for x in r[1:]:
        np.testing.assert_array_equal(x.samples, r[0].samples)
        np.testing.assert_array_equal(x.mean, r[0].mean)
        np.testing.assert_array_equal(x.variance, r[0].variance)


def test_callback_equals_builtin():
    dist = mg.Bernoulli(np.linspace(-2, 2, 6))
    t = np.linspace(0.1, 0.9, 6)
    cb = mg.Callback(lambda x: ((x - t) ** 2).mean(-1), lambda x: 2 * (x - t) / 6)
    for name, opts in (("disarm", {}), ("arms", {"n_draws": 3}), ("rloo", {}), ("double_cv", {})):
        fn = getattr(mg, name)
        a = fn(mg.Quadratic(t), dist, 500, seed=4, **opts)
        b = fn(cb, dist, 500, seed=4, **opts)
        np.testing.assert_allclose(a.samples, b.samples, rtol=1e-12, atol=1e-14, err_msg=name)


def test_rloo_is_reinforce_loo_and_double_cv_cuts_variance():
    dist = mg.Bernoulli(np.random.default_rng(2).normal(size=20))
    obj = mg.Quadratic(0.45)
    a = mg.rloo(obj, dist, 300, seed=5)
    b = mg.reinforce(obj, dist, 300, seed=5, baseline="loo")
    np.testing.assert_array_equal(a.samples, b.samples)
    assert a.diagnostics["estimator"] == "rloo"
    # f nearly linear in x: the Taylor control variate at theta removes most of the spread (for
    # Quadratic above it need not: on {0,1} the chord slope differs from f'(theta))
    rng = np.random.default_rng(3)
    lin = mg.QuadraticForm(0.02 * rng.normal(size=(20, 20)), rng.normal(size=20))
    r, c = mg.rloo(lin, dist, 300, seed=5), mg.double_cv(lin, dist, 300, seed=5)
    assert c.variance.sum() < 0.1 * r.variance.sum()
    assert set(mg.estimators.ESTIMATORS) >= {"disarm", "arms", "rloo", "double_cv"}


def test_float32():
    dist = mg.Bernoulli(np.zeros(4, dtype=np.float32))
    for name in ("disarm", "arms", "rloo", "double_cv"):
        e = getattr(mg, name)(mg.Quadratic(0.2), dist, 50, seed=0)
        assert e.mean.dtype == np.float32, name
        assert e.samples.dtype == np.float32, name


def test_errors():
    bern, obj = mg.Bernoulli(np.zeros(3)), mg.Quadratic(0.5)
    for name in ("rloo", "double_cv"):
        with pytest.raises(ValueError, match="n_samples must be >= 2"):
            getattr(mg, name)(obj, bern, 1)
    with pytest.raises(ValueError, match="n_draws must be >= 2"):
        mg.arms(obj, bern, 10, n_draws=1)
    with pytest.raises(TypeError, match="n_draws must be an integer"):
        mg.arms(obj, bern, 10, n_draws=2.0)
    for name in ("disarm", "arms"):
        fn = getattr(mg, name)
        with pytest.raises(ValueError, match="n_samples must be >= 1"):
            fn(obj, bern, 0)
        if name == "arms":  # disarm takes Categorical (tests/test_estimators_categorical_disarm.py)
            with pytest.raises(ValueError, match=r"noise='logistic'.*Categorical"):
                fn(obj, mg.Categorical(np.zeros(3)), 10)
        with pytest.raises(ValueError, match=r"noise='logistic'.*gaussian"):
            fn(obj, mg.Bernoulli(np.zeros(3), noise="gaussian"), 10)
        with pytest.raises(TypeError, match="objective must be"):
            fn(lambda x: x, bern, 10)
        with pytest.raises(ValueError, match="target"):
            fn(mg.Quadratic(np.zeros(4)), bern, 10)
        with pytest.raises(ValueError, match="NaN"):
            fn(mg.Callback(lambda x: np.full(x.shape[:-1], np.nan)), bern, 10)
        with pytest.raises(ValueError, match="shape"):
            fn(mg.Callback(lambda x: np.zeros(x.shape)), bern, 10)
    with pytest.raises(ValueError, match="NaN"):
        mg.rloo(mg.Callback(lambda x: np.full(x.shape[:-1], np.nan)), bern, 10)
    with pytest.raises(ValueError, match="pass grad="):
        mg.double_cv(mg.Callback(lambda x: x.sum(-1)), bern, 10)
    with pytest.raises(ValueError, match=r"infinite|not finite"):
        mg.double_cv(mg.Callback(lambda x: x.sum(-1), lambda x: np.full(x.shape, np.inf)), bern, 10)
