"""Unbiasedness of REBAR and REINFORCE against exact enumeration; bias of Concrete and
straight-through.

Tolerance: |mean - exact| <= 4 standard errors + `rare`, where `rare` bounds what no finite run can
see: outcomes of probability p with p * n_samples < 1e-3 (coordinates with |alpha| ~ 30 have
p ~ 1e-13 (logistic) or 1e-198 (probit)) contribute at most 2 p sup|g| to the mean, and are
almost surely never drawn. sup|g| is bounded generously by 10 (max|f| + max|f'| / lambda) max(1,
|score|). All other coordinates are held to 4 standard errors.
"""

import zlib

import numpy as np
import pytest

import mixgrad as mg
from _helpers_unbiased import random_logits, rare_bound

N = 10**6
LAM = 0.5


def _random_objective(rng, dist):
    E = dist.event_size
    A = rng.normal(size=(E, E))
    c = rng.normal(size=dist.shape)
    return mg.QuadraticForm(A, c, d=rng.normal())


CASES = []
for noise in ("logistic", "gaussian"):
    for D in (1, 5, 12):
        CASES.append(("bern", noise, 1, D))
for K in (3, 10):
    for rows in (1, 5, 12):
        CASES.append(("cat", None, rows, K))


def _make(case, seed):
    kind, noise, rows, E = case
    rng = np.random.default_rng(seed)
    if kind == "bern":
        dist = mg.Bernoulli(random_logits(rng, 1, E, True)[0], noise=noise)
    else:
        a = random_logits(rng, rows, E, True)
        dist = mg.Categorical(a if rows > 1 else a[0])
    return dist, _random_objective(rng, dist)


def _assert_unbiased(est, truth, bound, what):
    err = np.abs(est.mean - truth)
    tol = 4 * est.stderr + bound
    assert np.all(np.isfinite(est.mean)), what
    assert np.all(np.isfinite(est.stderr)), what
    bad = err > tol
    assert not bad.any(), f"{what}: err {err[bad]} stderr {est.stderr[bad]} at {np.argwhere(bad)}"


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-{c[1]}-rows{c[2]}-E{c[3]}" for c in CASES])
def test_rebar_and_reinforce_are_unbiased(case):
    # A fixed seed per case (hash() of a str tuple changes with PYTHONHASHSEED).
    dist, obj = _make(case, zlib.crc32(repr(case).encode()))
    truth = mg.exact(obj, dist).mean
    bound = rare_bound(dist, obj, N, LAM)
    n = N // dist.n_rows  # batched categorical rows: 10^6 draws of K classes in all
    bound = rare_bound(dist, obj, n, LAM)
    r = mg.rebar(obj, dist, n, seed=1, temperature=LAM, keep_samples=False)
    _assert_unbiased(r, truth, bound, "rebar")
    f = mg.reinforce(obj, dist, n, seed=2, keep_samples=False)
    _assert_unbiased(f, truth, bound, "reinforce")


@pytest.mark.parametrize("case", [CASES[1], CASES[4], CASES[7]], ids=["logistic-D5", "probit-D5", "cat-K3-rows5"])
def test_rebar_variants_are_unbiased(case):
    dist, obj = _make(case, 7)
    truth = mg.exact(obj, dist).mean
    bound = rare_bound(dist, obj, N, LAM)
    n = N // dist.n_rows
    bound = rare_bound(dist, obj, n, LAM)
    for opts in (
        {"coupling": "coupled"},
        {"eta": "optimal"},
        {"baseline": "loo", "eta": 0.7},
        {"eta": "optimal", "baseline": "loo", "coupling": "coupled"},
        {"eta": -1.3, "temperature": 3.0},
    ):
        lam = opts.pop("temperature", LAM)
        r = mg.rebar(obj, dist, n, seed=3, temperature=lam, keep_samples=False, **opts)
        _assert_unbiased(r, truth, bound * max(1.0, LAM / lam), f"rebar {opts}")
    for baseline in ("loo", "moving_average"):
        f = mg.reinforce(obj, dist, n, seed=4, baseline=baseline, keep_samples=False)
        _assert_unbiased(f, truth, bound, f"reinforce {baseline}")


@pytest.mark.parametrize("noise", ["logistic", "gaussian"])
def test_gmm_bernoulli_probit_unbiased(noise):
    rng = np.random.default_rng(5)
    x = np.concatenate([rng.normal(-1, 0.7, 20), rng.normal(1.5, 1.0, 20)])
    means, scales = np.array([[-1.0], [1.5]]), np.array([[0.7], [1.0]])
    logits = rng.normal(size=(40, 1))
    dist = mg.Bernoulli(logits, noise=noise)
    # normalizer = the mixture density under the current weights: f_i(c) = p(x_i|c) / p(x_i)
    th = dist.probs[:, 0]
    dens = mg.GMMComponentLikelihood(x, means, scales).table()
    norm = (1 - th) * dens[:, 0] + th * dens[:, 1]
    obj = mg.GMMComponentLikelihood(x, means, scales, normalizer=norm)
    ex = mg.exact(obj, dist)
    np.testing.assert_allclose(ex.diagnostics["value"], 1.0, rtol=1e-12)  # E f_i = 1 by construction
    for est in (
        mg.rebar(obj, dist, 200000, seed=6, keep_samples=False),
        mg.reinforce(obj, dist, 200000, seed=7, keep_samples=False),
    ):
        _assert_unbiased(est, ex.mean, 0.0, est.diagnostics["estimator"])


def test_gmm_categorical_unbiased_and_exact_is_analytic():
    rng = np.random.default_rng(8)
    K, Dx, B = 3, 2, 30
    means = rng.normal(size=(K, Dx)) * 2
    scales = rng.uniform(0.5, 1.5, size=(K, Dx))
    x = rng.normal(size=(B, Dx)) * 2
    logits = rng.normal(size=(B, K))
    dist = mg.Categorical(logits)
    # exact density by hand (independent of the C++ table)
    dens = np.exp(
        -0.5 * (((x[:, None, :] - means) / scales) ** 2).sum(-1) - np.log(scales).sum(-1) - Dx * 0.5 * np.log(2 * np.pi)
    )
    theta = dist.probs
    norm = (theta * dens).sum(-1)
    obj = mg.GMMComponentLikelihood(x, means, scales, normalizer=norm)
    np.testing.assert_allclose(obj.table(), dens / norm[:, None], rtol=1e-12)
    ex = mg.exact(obj, dist)
    # d/dalpha_k sum_c theta_c p_c / norm = theta_k (p_k / norm - 1): the responsibility minus theta
    np.testing.assert_allclose(ex.mean, theta * dens / norm[:, None] - theta, rtol=1e-10, atol=1e-14)
    for est in (
        mg.rebar(obj, dist, 200000, seed=9, keep_samples=False),
        mg.rebar(obj, dist, 200000, seed=9, eta="optimal", baseline="loo", keep_samples=False),
        mg.reinforce(obj, dist, 200000, seed=10, keep_samples=False),
    ):
        _assert_unbiased(est, ex.mean, 0.0, est.diagnostics["estimator"])


@pytest.mark.parametrize(
    "dist",
    [
        mg.Bernoulli(np.array([0.4, -1.0, 1.5])),
        mg.Bernoulli(np.array([0.4, -1.0, 1.5]), noise="gaussian"),
        mg.Categorical(np.array([0.4, -1.0, 1.5])),
    ],
)
def test_concrete_and_straight_through_are_biased(dist):
    obj = mg.QuadraticForm(np.array([[2.0, -1.0, 0.5], [0.0, 1.0, 3.0], [1.0, 0.0, -2.0]]), np.array([0.3, 0.0, 1.0]))
    truth = mg.exact(obj, dist).mean
    for est in (
        mg.concrete(obj, dist, 200000, seed=1, temperature=0.5, keep_samples=False),
        mg.straight_through(obj, dist, 200000, seed=1, keep_samples=False),
    ):
        z = np.abs(est.mean - truth) / est.stderr
        assert z.max() > 20, (est.diagnostics, z)


def test_callback_matches_builtin_and_is_unbiased():
    rng = np.random.default_rng(3)
    A = rng.normal(size=(4, 4))
    c = rng.normal(size=4)
    dist = mg.Bernoulli(rng.normal(size=4))
    builtin = mg.QuadraticForm(A, c)
    cb = mg.Callback(lambda s: np.einsum("...i,ij,...j->...", s, A, s) + s @ c, lambda s: s @ (A + A.T) + c)
    np.testing.assert_allclose(mg.exact(cb, dist).mean, mg.exact(builtin, dist).mean, rtol=1e-12)
    for name in ("rebar", "reinforce", "concrete", "straight_through"):
        a = getattr(mg, name)(cb, dist, 5000, seed=4)
        b = getattr(mg, name)(builtin, dist, 5000, seed=4)
        np.testing.assert_allclose(a.samples, b.samples, rtol=1e-10, atol=1e-12)
    r = mg.rebar(cb, dist, 200000, seed=5, keep_samples=False)
    _assert_unbiased(r, mg.exact(builtin, dist).mean, 0.0, "rebar callback")
