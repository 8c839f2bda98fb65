"""The GMM application's deterministic parts: model conventions, exact gradients, EM, errors."""

import warnings

import numpy as np
import pytest

from mixgrad import gmm, random
from mixgrad.gmm.em import logits_from_weights
from mixgrad.gmm.model import MixtureParams, average_log_likelihood, exact_gradient, weights_from_logits

REPORT_X = gmm.report_data(200, seed=0)


def _params(parametrization, k=2, d=1, seed=0):
    rng = np.random.default_rng(seed)
    logits = np.array([0.3]) if parametrization == "probit" else rng.normal(size=k)
    return MixtureParams(logits, rng.normal(size=(k, d)) * 2, 0.5 + rng.uniform(size=(k, d)), parametrization)


@pytest.mark.parametrize(
    ("parametrization", "k", "d"), [("probit", 2, 1), ("probit", 2, 3), ("softmax", 2, 1), ("softmax", 4, 2)]
)
def test_exact_gradient_matches_finite_differences(parametrization, k, d):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(50, d)) * 2
    p = _params(parametrization, k, d)
    g = exact_gradient(x, p)
    h = 1e-6

    log_scales0 = np.log(p.scales)

    def f(logits=p.logits, means=p.means, log_scales=log_scales0):
        return average_log_likelihood(x, MixtureParams(logits, means, np.exp(log_scales), parametrization))

    for name, base, grad in (
        ("logits", p.logits, g.logits),
        ("means", p.means, g.means),
        ("log_scales", np.log(p.scales), g.log_scales),
    ):
        fd = np.zeros_like(base)
        for idx in np.ndindex(base.shape):
            e = np.zeros_like(base)
            e[idx] = h
            fd[idx] = (f(**{name: base + e}) - f(**{name: base - e})) / (2 * h)
        # Central differences with h = 1e-6 on O(1) values: truncation ~1e-12, rounding ~1e-10.
        np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-8, err_msg=name)


def test_defect2_probit_class_probability_matches_the_sampler():
    """The report wrote P(c=1) = Phi(-theta) while drawing c = 1[theta + n >= 0]: Phi(theta)."""
    alpha = 0.7
    n = random.normal(1_000_000, seed=3)
    freq = np.mean(alpha + n >= 0)
    w = weights_from_logits(np.array([alpha]), "probit")
    se = np.sqrt(w[1] * (1 - w[1]) / n.size)
    assert abs(freq - w[1]) < 4 * se, f"P(c=1) {w[1]} vs sampled {freq} ({(freq - w[1]) / se:.1f} SE)"
    assert w[1] > 0.5  # alpha > 0 favours class 1, not class 0
    # The likelihood uses the same convention: moving alpha up moves weight to component 1.
    x = np.array([[3.0]])
    p = MixtureParams(np.array([alpha]), np.array([[-3.0], [3.0]]), np.ones((2, 1)), "probit")
    assert exact_gradient(x, p).logits[0] > 0


def test_defect3_no_hidden_constant_in_the_update():
    """The report divided its update by an unexplained 1000. Here a plain gradient step (the
    report's rule, optimizer="gradient") is lr * gradient of the *average* log-likelihood,
    exactly."""
    init = {"weights": [0.5, 0.5], "means": [[-1.0], [1.0]], "scales": [[1.5], [1.5]]}
    res = gmm.fit(REPORT_X, 2, "exact", n_iter=1, optimizer="gradient", learning_rate=0.1, init=init, seed=0)
    p0 = MixtureParams(
        logits_from_weights(np.array([0.5, 0.5]), "probit"),
        np.array([[-1.0], [1.0]]),
        np.array([[1.5], [1.5]]),
        "probit",
    )
    g = exact_gradient(REPORT_X[:, None], p0)
    np.testing.assert_allclose(res.logits, p0.logits + 0.1 * g.logits, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(res.history["means"][1], p0.means + 0.1 * g.means, rtol=1e-14)
    # Doubling the data set (same points twice) leaves the gradient unchanged: it is an average.
    g2 = exact_gradient(np.concatenate([REPORT_X, REPORT_X])[:, None], p0)
    np.testing.assert_allclose(g2.logits, g.logits, rtol=1e-12)


def test_em_agrees_with_scikit_learn():
    mixture = pytest.importorskip("sklearn.mixture")
    x = REPORT_X[:, None]
    init_means = np.array([[-1.0], [1.0]])
    init_var = np.array([[4.0], [4.0]])
    ours = gmm.fit(
        x, 2, "em", n_iter=300, init={"weights": [0.5, 0.5], "means": init_means, "scales": np.sqrt(init_var)}
    )
    sk = mixture.GaussianMixture(
        2,
        covariance_type="diag",
        tol=0,
        max_iter=300,
        reg_covar=1e-6,
        weights_init=[0.5, 0.5],
        means_init=init_means,
        precisions_init=1 / init_var,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn's ConvergenceWarning at tol=0 is expected
        sk.fit(x)
    np.testing.assert_allclose(ours.weights, sk.weights_, atol=1e-4)
    np.testing.assert_allclose(ours.means, sk.means_, atol=1e-4)
    np.testing.assert_allclose(ours.scales**2, sk.covariances_, atol=1e-4)


def test_exact_gradient_ascent_reaches_the_em_fixed_point():
    em = gmm.fit(REPORT_X, 2, "em", n_iter=500, seed=1)
    ex = gmm.fit(REPORT_X, 2, "exact", n_iter=3000, learning_rate=0.2, seed=1)
    np.testing.assert_allclose(ex.weights, em.weights, atol=1e-5)
    np.testing.assert_allclose(ex.means, em.means, atol=1e-4)
    np.testing.assert_allclose(ex.scales, em.scales, atol=1e-4)
    assert ex.log_likelihood == pytest.approx(em.log_likelihood, abs=1e-10)
    # EM's fixed point is a stationary point of the likelihood.
    g = exact_gradient(REPORT_X[:, None], MixtureParams(em.logits, em.means, em.scales, "probit"))
    assert np.max(np.abs(g.logits)) < 1e-6
    assert np.max(np.abs(g.means)) < 1e-6


def test_em_increases_the_likelihood_monotonically():
    x = np.random.default_rng(2).normal(size=(300, 2)) + np.repeat(np.eye(2) * 4, 150, axis=0)
    res = gmm.fit(x, 3, "em", n_iter=50, seed=0)
    ll = res.history["log_likelihood"]
    assert np.all(np.diff(ll) >= -1e-12)
    assert res.weights.shape == (3,)
    assert np.isclose(res.weights.sum(), 1.0)


def test_history_shapes():
    res = gmm.fit(REPORT_X, 2, "exact", n_iter=7, seed=0)
    assert res.history["weights"].shape == (8, 2)
    assert res.history["means"].shape == (8, 2, 1)
    assert res.history["log_likelihood"].shape == (8,)
    assert res.history["gradient_variance"].shape == (8,)


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"n_components": 0}, ValueError, "n_components"),
        ({"n_components": 201}, ValueError, "n_components"),
        ({"n_components": 2.0}, TypeError, "n_components"),
        ({"n_components": 2, "method": "sgd"}, ValueError, "method"),
        ({"n_components": 3, "parametrization": "probit"}, ValueError, "probit"),
        ({"n_components": 2, "learning_rate": -1.0}, ValueError, "learning_rate"),
        ({"n_components": 2, "n_samples": 0}, ValueError, "n_samples"),
        (
            {"n_components": 2, "init": {"weights": [0.5, 0.5], "means": [[0.0], [np.nan]], "scales": [[1.0], [1.0]]}},
            ValueError,
            "means",
        ),
        (
            {"n_components": 2, "init": {"weights": [0.5, 0.5], "means": [[0.0], [1.0]], "scales": [[1.0], [-1.0]]}},
            ValueError,
            "scales",
        ),
    ],
)
def test_bad_input(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        gmm.fit(REPORT_X, **kwargs)


def test_nan_in_data_is_rejected():
    x = REPORT_X.copy()
    x[5] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        gmm.fit(x, 2, "em")
    with pytest.raises(TypeError):
        gmm.fit(np.array(["a", "b"]), 1, "em")
