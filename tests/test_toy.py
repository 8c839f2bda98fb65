"""The toy study: the variance table's orderings (measured, not hard-coded) and SGD histories."""

import numpy as np

import mixgrad as mg
from mixgrad.experiments import toy


def test_quick_run_shapes_and_histories():
    res = toy.run_toy(quick=True)
    assert set(res.theta) == {0.45, 0.49, 0.499}
    for t in res.theta:
        assert set(res.theta[t]) == set(toy.ESTIMATOR_SETTINGS)
        for label, th in res.theta[t].items():
            assert th.shape == (res.iterations + 1,)
            assert th[0] == 0.5
            assert np.all((th >= 0) & (th <= 1))
            assert res.log_variance[t][label].shape == res.variance_iterations.shape
    # the unbiased estimators drive theta down for t = 0.45 (the gradient is 0.1 theta(1-theta))
    for label in ("REINFORCE", "REINFORCE + LOO", "REBAR eta=1", "REBAR + LOO"):
        assert res.theta[0.45][label][-50:].mean() < 0.2, label


def test_variance_table_orderings():
    rows = toy.variance_table(targets=(0.45,), n_samples_1d=200000, n_samples_100d=2000, seed=3)
    v = {(r["D"], r["label"]): r for r in rows}
    # D = 1: REBAR with eta = 1 is worse than plain REINFORCE, the optimal eta only matches it,
    # and a leave-one-out baseline beats both by orders of magnitude
    assert v[(1, "REBAR eta=1")]["variance"] > 1.2 * v[(1, "REINFORCE")]["variance"]
    assert v[(1, "REBAR eta*")]["variance"] < 1.05 * v[(1, "REINFORCE")]["variance"]
    assert v[(1, "REINFORCE + LOO")]["variance"] < 1e-3 * v[(1, "REINFORCE")]["variance"]
    # D = 100: REBAR with the optimal eta cuts the variance by a large factor
    assert v[(100, "REBAR eta*")]["ratio"] > 50
    assert v[(100, "REBAR eta*")]["variance"] < v[(100, "REBAR eta=1")]["variance"]
    # unbiased rows stay within a few standard errors; Concrete is biased at D = 1. (The stderr
    # of a leave-one-out batch is first-order exact; at D = 1, theta = 1/2 the first-order term of
    # REINFORCE + LOO vanishes -- (f - Ef) * score is constant -- so its O(1/n) second-order
    # error is not covered by the stderr: that row is left out.)
    for key, r in v.items():
        if key[1] != "Concrete" and key != (1, "REINFORCE + LOO"):
            assert r["bias_z"] < 5, key
    assert v[(1, "Concrete")]["bias_z"] > 5
    text = toy.format_table(rows)
    assert "REBAR eta*" in text
    assert text.count("\n") == len(rows) + 1


def test_exact_toy_gradient_matches_enumeration():
    a = np.array([0.3, -1.0, 2.0])
    np.testing.assert_allclose(
        toy.exact_toy_gradient(a, 0.45), mg.exact(mg.Quadratic(0.45), mg.Bernoulli(a)).mean, rtol=1e-12
    )
