"""Categorical DisARM (stick-breaking form, Dong, Mnih & Tucker 2021): unbiasedness against exact
enumeration and a closed form, its reduction to Bernoulli DisARM at K = 2, per-sample estimates
and streaming statistics, determinism across thread counts and Dask chunkings, variance against
RLOO at equal evaluations, errors.

Tolerance: |mean - exact| <= 4 standard errors (exact: the pairs are i.i.d.) + the allowance of
tests/test_estimators_arms.py for classes of probability p with p * n < 1e-3 (the logits of +-30).
"""

import zlib

import numpy as np
import pytest

import mixgrad as mg
from _helpers_unbiased import rare_bound
from test_estimators_arms import _assert_unbiased

N = 10**5  # pairs: 2 * 10^5 evaluations of f


def _logits(rng, rows, K):
    """N(0, 2^2) logits; with several rows, row 0 is shifted by +30 with one class at -30 and
    row 1 by -30: |alpha| ~ 30 where the classes still share the mass, so those rows keep their
    power (a row with one class at +30 alone would have every estimate 0 and pass anything)."""
    a = rng.normal(scale=2.0, size=(rows, K))
    if rows > 1:
        a[0] += 30.0
        a[0, 1] = -30.0
        a[1] -= 30.0
    return a


CASES = [(K, rows) for K in (3, 10) for rows in (1, 4)]


@pytest.mark.parametrize("case", CASES, ids=[f"K{K}-rows{rows}" for K, rows in CASES])
def test_unbiased_quadratic_form(case):
    K, rows = case
    rng = np.random.default_rng(zlib.crc32(repr(("catdisarm", case)).encode()))
    a = _logits(rng, rows, K)
    dist = mg.Categorical(a if rows > 1 else a[0])
    obj = mg.QuadraticForm(rng.normal(size=(K, K)), rng.normal(size=dist.shape), d=rng.normal())
    truth = mg.exact(obj, dist).mean
    est = mg.disarm(obj, dist, N, seed=7, keep_samples=False)
    _assert_unbiased(est, truth, rare_bound(dist, obj, 2 * N), f"disarm K={K} rows={rows}")


@pytest.mark.parametrize("K", [3, 10])
def test_unbiased_table_objective_closed_form(K):
    # f(b) = T[row, b]: E f = sum_k theta_k T_k and d E f / d alpha_k = theta_k (T_k - E f),
    # computed here from the softmax, independently of the estimator and of mg.exact.
    rows = 3
    rng = np.random.default_rng(100 + K)
    a = rng.normal(scale=3.0, size=(rows, K))
    T = rng.normal(size=(rows, K))
    th = np.exp(a - a.max(-1, keepdims=True))
    th /= th.sum(-1, keepdims=True)
    truth = th * (T - (th * T).sum(-1, keepdims=True))
    obj = mg.Callback(lambda x: (x * T).sum(-1))
    est = mg.disarm(obj, mg.Categorical(a), N, seed=8, keep_samples=False)
    _assert_unbiased(est, truth, 0.0, f"table K={K}")


def test_k2_is_bernoulli_disarm_on_the_logit_difference():
    # K = 2: b = 0 iff c_0 = 1, c_0 ~ Bernoulli(sigmoid(alpha_0 - alpha_1)), and every decision is
    # seen in the draws, so each pair's estimate must be (g, -g) with Bernoulli DisARM's
    # g = 1/2 (f(b) - f(b~)) (c_0 - c~_0) sigmoid(|alpha_0 - alpha_1|).
    rng = np.random.default_rng(4)
    a = rng.normal(scale=2.0, size=(5, 2))
    T = rng.normal(size=(5, 2))
    seen = []

    def value(x):
        seen.append(x.copy())
        return (x * T).sum(-1)

    S = 300
    est = mg.disarm(mg.Callback(value), mg.Categorical(a), S, seed=5)
    x = seen[0].reshape(S, 2, 5, 2)  # (pair, chain, row, class)
    c, ct = x[:, 0, :, 0], x[:, 1, :, 0]
    beta = a[:, 0] - a[:, 1]
    g = 0.5 * (value(x[:, 0]) - value(x[:, 1])) * (c - ct) / (1.0 + np.exp(-np.abs(beta)))
    np.testing.assert_allclose(est.samples[..., 0], g, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(est.samples[..., 1], -g, rtol=1e-12, atol=1e-15)
    assert np.any(est.samples != 0)


def test_draws_are_one_hot_categorical_and_estimates_sum_to_zero():
    a = np.array([[1.0, -0.5, 0.2, 2.0], [0.0, 0.0, 0.0, 0.0]])
    dist = mg.Categorical(a)
    seen = []

    def value(x):
        seen.append(x.copy())
        return (x * np.arange(4.0)).sum(-1) ** 2

    S = 20_000
    est = mg.disarm(mg.Callback(value), dist, S, seed=3)
    x = seen[0].reshape(S, 2, 2, 4)  # (pair, chain, row, class)
    assert np.all(x.sum(-1) == 1)
    assert np.all((x == 0) | (x == 1))
    # both chains of a pair are draws of theta: frequencies within 4 binomial standard errors
    freq = x.mean(0)
    sd = np.sqrt(dist.probs * (1 - dist.probs) / S)
    assert np.all(np.abs(freq - dist.probs[None]) <= 4 * sd[None])
    # softmax invariance: the estimate of every pair sums to 0 over the classes
    np.testing.assert_allclose(est.samples.sum(-1), 0.0, atol=1e-12)
    assert est.diagnostics["n_evaluations"] == 2 * S


def test_negative_infinite_logit_is_never_drawn_and_gets_zero_gradient():
    a = np.array([0.3, -np.inf, -1.0, 0.5])
    dist = mg.Categorical(a)
    T = np.array([1.0, 5.0, -2.0, 0.5])
    seen = []

    def value(x):
        seen.append(x.copy())
        return (x * T).sum(-1)

    est = mg.disarm(mg.Callback(value), dist, 20_000, seed=2)
    assert np.all(seen[0][..., 1] == 0)
    assert np.all(est.samples[:, 1] == 0)
    th = dist.probs
    truth = th * (T - (th * T).sum())
    _assert_unbiased(est, truth, 0.0, "-inf logit")


def test_samples_mean_variance_streaming_and_float32():
    a = np.random.default_rng(0).normal(size=(3, 7))
    obj = mg.Quadratic(0.4)
    e = mg.disarm(obj, mg.Categorical(a), 1000, seed=11)
    s = mg.disarm(obj, mg.Categorical(a), 1000, seed=11, keep_samples=False)
    assert e.samples.shape == (1000, 3, 7)
    assert s.samples is None
    np.testing.assert_allclose(e.samples.mean(0), e.mean, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(e.samples.var(0, ddof=1), e.variance, rtol=1e-10, atol=1e-15)
    np.testing.assert_array_equal(e.mean, s.mean)
    np.testing.assert_array_equal(e.variance, s.variance)
    f = mg.disarm(obj, mg.Categorical(a.astype(np.float32)), 1000, seed=11)
    assert f.mean.dtype == np.float32
    assert f.samples.dtype == np.float32
    np.testing.assert_allclose(f.mean, e.mean, rtol=1e-5, atol=1e-6)


def test_callback_equals_builtin():
    a = np.random.default_rng(6).normal(size=(4, 5))
    t = np.linspace(0.1, 0.9, 5)
    cb = mg.Callback(lambda x: ((x - t) ** 2).mean(-1))
    x = mg.disarm(mg.Quadratic(t), mg.Categorical(a), 500, seed=4)
    y = mg.disarm(cb, mg.Categorical(a), 500, seed=4)
    np.testing.assert_allclose(x.samples, y.samples, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("shape", [(4,), (40, 10), (300, 3)])
def test_bit_identical_for_any_thread_count(shape):
    dist = mg.Categorical(np.random.default_rng(1).normal(size=shape))
    obj = mg.Quadratic(0.3)
    S = 20_000 if len(shape) == 1 else 200
    r = [mg.disarm(obj, dist, S, seed=3, nthreads=t) for t in (1, 2, 3)]
    for x in r[1:]:
        np.testing.assert_array_equal(x.samples, r[0].samples)
        np.testing.assert_array_equal(x.mean, r[0].mean)
        np.testing.assert_array_equal(x.variance, r[0].variance)


def test_dask_rows_equal_the_in_memory_call():
    pytest.importorskip("dask")
    import mixgrad.dask as mgd

    dist = mg.Categorical(np.random.default_rng(2).normal(size=(30, 6)))
    obj = mg.Quadratic(0.3)
    ref = mg.disarm(obj, dist, 64, seed=9)
    got = mgd.disarm(obj, dist, 64, seed=9, chunks=7)
    np.testing.assert_array_equal(got.mean.compute(), ref.mean)
    np.testing.assert_array_equal(got.samples.compute(), ref.samples)
    np.testing.assert_array_equal(got.variance.compute(), ref.variance)


def test_variance_below_rloo_at_two_evaluations():
    # Toy problem: K = 3, f(b) = sum_k (b_k - t_k)^2, R independent replicates as rows. One DisARM
    # pair and RLOO over 2 draws both cost 2 evaluations of f; compare the variance of their
    # per-row estimates (summed over classes), with the sampling error of each variance estimate.
    R = 20_000
    a = np.tile(np.array([0.5, -0.3, 0.1]), (R, 1))
    dist = mg.Categorical(a)
    obj = mg.Quadratic(np.array([0.2, 0.9, 0.45]))
    d = mg.disarm(obj, dist, 1, seed=12).mean
    r = mg.rloo(obj, dist, 2, seed=13).mean
    vd, vr = d.var(0, ddof=1).sum(), r.var(0, ddof=1).sum()
    # the variances of R i.i.d. rows: relative standard error sqrt(2 / (R - 1)) (Gaussian) --
    # use 4x that and heavy-tail slack via the empirical fourth moment
    se_d = np.sqrt(((d - d.mean(0)) ** 2).sum(-1).var() / R)
    se_r = np.sqrt(((r - r.mean(0)) ** 2).sum(-1).var() / R)
    assert vd + 4 * se_d < vr - 4 * se_r, (vd, se_d, vr, se_r)


def test_errors():
    obj = mg.Quadratic(0.5)
    with pytest.raises(ValueError, match="K >= 2"):
        mg.disarm(obj, mg.Categorical(np.zeros(1)), 10)
    with pytest.raises(ValueError, match="n_samples must be >= 1"):
        mg.disarm(obj, mg.Categorical(np.zeros(3)), 0)
    with pytest.raises(ValueError, match="target"):
        mg.disarm(mg.Quadratic(np.zeros(4)), mg.Categorical(np.zeros(3)), 10)
    with pytest.raises(ValueError, match="NaN"):
        mg.disarm(mg.Callback(lambda x: np.full(x.shape[:-1], np.nan)), mg.Categorical(np.zeros(3)), 10)
    with pytest.raises(ValueError, match=r"noise='logistic'.*Categorical"):
        mg.arms(obj, mg.Categorical(np.zeros(3)), 10)
