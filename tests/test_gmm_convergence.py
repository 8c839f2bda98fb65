"""gmm.fit converges with its defaults and guards its inputs (issue 12, item 10).

References are independent of the code under test: scikit-learn's GaussianMixture (diagonal
covariances, tight tolerance, ten initializations) for the maximum likelihood, closed forms for
one Gaussian, EM's update written out here in numpy.
"""

import warnings

import numpy as np
import pytest

from mixgrad import gmm
from mixgrad.gmm import ConvergenceWarning

mixture = pytest.importorskip("sklearn.mixture")


def _sklearn_ml(x, k=2):
    """Maximum-likelihood (weights, means, scales, average log-likelihood), components sorted by
    their first mean coordinate."""
    x2 = x.reshape(len(x), -1)
    sk = mixture.GaussianMixture(
        k, covariance_type="diag", tol=1e-12, max_iter=100_000, n_init=10, reg_covar=1e-6, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn's own ConvergenceWarning, if any
        sk.fit(x2)
    order = np.argsort(sk.means_[:, 0])
    return sk.weights_[order], sk.means_[order], np.sqrt(sk.covariances_[order]), float(sk.score(x2))


def _sorted(res):
    order = np.argsort(res.means[:, 0])
    return res.weights[order], res.means[order], res.scales[order]


# ---------------------------------------------------------------- the report's data


@pytest.mark.parametrize("data_seed", [0, 1, 2])
@pytest.mark.parametrize("method", ["em", "exact"])
def test_deterministic_defaults_reach_the_maximum_likelihood(method, data_seed):
    """The issue: with its defaults, 'exact' ended at weights 0.46/0.54 after 300 iterations
    where the maximum likelihood is 0.33/0.67. Now the defaults (k-means++ start, natural
    steps, tol = 1e-6 on the average log-likelihood) reach scikit-learn's maximum likelihood:
    weights within 1e-3, means and scales within 1e-2, log-likelihood within 1e-5 per point (a
    linearly converging run stopped at a change of 1e-6 per iteration is that close)."""
    x = gmm.report_data(200, seed=data_seed)
    w_ml, mu_ml, s_ml, ll_ml = _sklearn_ml(x)
    res = gmm.fit(x, 2, method, seed=0)
    assert res.converged_
    assert res.n_iter_ < 100
    w, mu, s = _sorted(res)
    np.testing.assert_allclose(w, w_ml, atol=1e-3)
    np.testing.assert_allclose(mu, mu_ml, atol=1e-2)
    np.testing.assert_allclose(s, s_ml, atol=1e-2)
    assert abs(res.log_likelihood - ll_ml) < 1e-5


@pytest.mark.parametrize("method", ["rebar", "reinforce"])
def test_stochastic_defaults_reach_the_maximum_likelihood_within_their_noise(method):
    """REBAR and REINFORCE with their defaults (natural steps of 0.25, the result averaged over
    the last 50 iterations): over R = 8 seeds every run converges, and the mean of the returned
    weights and means is within 4 standard errors (their spread over the seeds / sqrt(R)) of
    scikit-learn's maximum likelihood."""
    x = gmm.report_data(200, seed=0)
    w_ml, mu_ml, _, ll_ml = _sklearn_ml(x)
    runs = [gmm.fit(x, 2, method, seed=s) for s in range(8)]
    assert all(r.converged_ for r in runs)
    w = np.array([_sorted(r)[0][1] for r in runs])
    mu = np.array([_sorted(r)[1][:, 0] for r in runs])
    for got, want, name in ((w, w_ml[1], "weight"), (mu, mu_ml[:, 0], "means")):
        se = got.std(axis=0, ddof=1) / np.sqrt(len(runs))
        z = (got.mean(axis=0) - want) / se
        assert np.all(np.abs(z) < 4), f"{name}: mean {got.mean(axis=0)} vs ML {want}, z = {z}"
    # the noise itself is small: one run's weight is within 0.01 of the maximum likelihood
    assert np.all(np.abs(w - w_ml[1]) < 0.01), w
    assert all(r.log_likelihood <= ll_ml + 1e-9 for r in runs)


def test_natural_step_at_rate_one_is_the_em_update():
    """One exact natural step with learning_rate = 1 is EM's update (written out here): weights
    and means exactly, variances up to reg_covar (EM adds it, the gradient step floors at it)."""
    x = gmm.report_data(200, seed=0)
    init = {"weights": [0.4, 0.6], "means": [[-1.0], [1.0]], "scales": [[1.5], [2.5]]}
    res = gmm.fit(x, 2, "exact", n_iter=1, learning_rate=1.0, init=init, parametrization="softmax")
    w0, mu0, s0 = (np.asarray(init[k], dtype=float).reshape(2) for k in ("weights", "means", "scales"))
    dens = w0 * np.exp(-0.5 * ((x[:, None] - mu0) / s0) ** 2) / (s0 * np.sqrt(2 * np.pi))
    r = dens / dens.sum(axis=1, keepdims=True)
    nk = r.sum(axis=0)
    mu1 = (r * x[:, None]).sum(axis=0) / nk
    var1 = (r * (x[:, None] - mu1) ** 2).sum(axis=0) / nk
    np.testing.assert_allclose(res.weights, nk / len(x), rtol=1e-12)
    np.testing.assert_allclose(res.means[:, 0], mu1, rtol=1e-12)
    np.testing.assert_allclose(res.scales[:, 0] ** 2, var1, rtol=1e-10)


# ---------------------------------------------------------------- stopping rule and warnings


def test_convergence_warning_when_max_iter_is_too_small():
    assert issubclass(ConvergenceWarning, UserWarning)
    x = gmm.report_data(200, seed=0)
    init = {"weights": [0.5, 0.5], "means": [[-1.0], [1.0]], "scales": [[2.0], [2.0]]}
    with pytest.warns(ConvergenceWarning, match="max_iter=3"):
        res = gmm.fit(x, 2, "exact", max_iter=3, init=init)
    assert not res.converged_
    assert res.n_iter_ == 3
    assert res.history["log_likelihood"].shape == (4,)


def test_n_iter_is_the_old_name_for_a_fixed_number_of_iterations():
    x = gmm.report_data(200, seed=0)
    res = gmm.fit(x, 2, "em", n_iter=40)  # no warning: the caller asked for exactly 40 steps
    assert res.n_iter_ == 40
    assert not res.converged_
    assert res.history["weights"].shape == (41, 2)
    with pytest.raises(ValueError, match="n_iter"):
        gmm.fit(x, 2, "em", n_iter=5, max_iter=5)


def test_tol_stops_early_and_larger_tol_stops_earlier():
    x = gmm.report_data(200, seed=1)
    tight = gmm.fit(x, 2, "em", tol=1e-9, seed=0)
    loose = gmm.fit(x, 2, "em", tol=1e-3, seed=0)
    assert tight.converged_
    assert loose.converged_
    assert loose.n_iter_ < tight.n_iter_
    ll = tight.history["log_likelihood"]
    assert abs(ll[-1] - ll[-2]) <= 1e-9 < abs(ll[-2] - ll[-3])


# ---------------------------------------------------------------- guards


def _outlier_data():
    return np.append(gmm.report_data(200, seed=0), 1e6)


REPORT_INIT = {"weights": [0.5, 0.5], "means": [[-1.0], [1.0]], "scales": [[2.0], [2.0]]}


@pytest.mark.parametrize("init", [None, REPORT_INIT], ids=["default_init", "report_init"])
@pytest.mark.parametrize("method", ["em", "exact"])
def test_one_outlier_exact_and_em_reach_the_maximum_likelihood(method, init):
    """One point at 1e6 made 'exact' return NaN weights. The maximum likelihood gives the outlier
    a component of its own: weight 1/201, mean 1e6, scale sqrt(reg_covar); the other component
    is the other 200 points' mean and standard deviation (closed form; scikit-learn agrees on
    the weights and means, but its variance of the one-point cluster is cancellation noise,
    E[x^2] - E[x]^2 at x = 1e6)."""
    x = _outlier_data()
    main = x[:-1]
    w_ml = np.array([200 / 201, 1 / 201])
    mu_ml = np.array([main.mean(), 1e6])
    s_ml = np.sqrt(np.array([main.var() + 1e-6, 1e-6]))
    sk_w, sk_mu, _, _ = _sklearn_ml(x)
    np.testing.assert_allclose(sk_w, w_ml, atol=1e-9)
    np.testing.assert_allclose(sk_mu[:, 0], mu_ml, rtol=1e-9)
    res = gmm.fit(x, 2, method, init=init, seed=0)
    assert res.converged_
    w, mu, s = _sorted(res)
    np.testing.assert_allclose(w, w_ml, rtol=1e-9)
    np.testing.assert_allclose(mu[:, 0], mu_ml, rtol=1e-9)
    np.testing.assert_allclose(s[:, 0], s_ml, rtol=1e-6)


@pytest.mark.parametrize("init", [None, REPORT_INIT], ids=["default_init", "report_init"])
@pytest.mark.parametrize("method", ["rebar", "reinforce", "concrete"])
def test_one_outlier_stochastic_methods_stay_finite(method, init):
    """'rebar' raised an internal message ("logits must be finite" / "scales must be finite")
    on the same data. Now every method returns finite parameters and weights that sum to 1,
    with a log-likelihood above the single Gaussian's (closed form) -- a mixture with the
    outlier on its own component is far better."""
    x = _outlier_data()
    res = gmm.fit(x, 2, method, init=init, seed=0, max_iter=300, tol=0)
    for v in (res.weights, res.means, res.scales):
        assert np.all(np.isfinite(v))
    assert np.all(res.weights >= 0)
    assert res.weights.sum() == pytest.approx(1.0, abs=1e-12)
    single = -0.5 * np.log(2 * np.pi * x.var()) - 0.5
    assert res.log_likelihood > single + 5


def test_plain_gradient_steps_that_diverge_raise_a_clear_error():
    # the report's rule on the outlier data: a log-scale step of ~1e9 (exp overflows)
    with pytest.raises(FloatingPointError, match="diverged at iteration 1"):
        gmm.fit(_outlier_data(), 2, "exact", optimizer="gradient", init=REPORT_INIT)


@pytest.mark.parametrize("method", ["em", "exact", "rebar", "reinforce", "concrete"])
@pytest.mark.parametrize("parametrization", ["probit", "softmax"])
def test_a_zero_initial_weight_is_valid_and_stays_zero(method, parametrization):
    """init weights [0, 1] were refused ('logits must be finite, got inf') or gave NaN. With one
    live component the fit is the single Gaussian: mean and standard deviation of the data."""
    x = gmm.report_data(200, seed=0)
    init = {"weights": [0.0, 1.0], "means": [[-1.0], [1.0]], "scales": [[2.0], [2.0]]}
    res = gmm.fit(x, 2, method, init=init, parametrization=parametrization, seed=0)
    assert res.converged_
    np.testing.assert_array_equal(res.weights, [0.0, 1.0])
    assert res.means[1, 0] == pytest.approx(x.mean(), abs=1e-6)
    assert res.scales[1, 0] == pytest.approx(x.std(), rel=1e-5)
    # the dead component is left where it was (up to the rounding of the running average)
    assert res.means[0, 0] == pytest.approx(-1.0, rel=1e-12)
    assert res.scales[0, 0] == pytest.approx(2.0, rel=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"reg_covar": -1.0}, ValueError, "reg_covar"),
        ({"reg_covar": np.nan}, ValueError, "reg_covar"),
        ({"reg_covar": np.inf}, ValueError, "reg_covar"),
        ({"tol": -1e-3}, ValueError, "tol"),
        ({"tol": np.nan}, ValueError, "tol"),
        ({"max_iter": -1}, ValueError, "max_iter"),
        ({"max_iter": 10.0}, TypeError, "max_iter"),
        ({"n_iter": True}, TypeError, "n_iter"),
        ({"n_components": True}, TypeError, "n_components"),
        ({"n_samples": 2.0}, TypeError, "n_samples"),
        ({"n_samples": 2**32}, ValueError, "n_samples"),
        ({"learning_rate": 0.0}, ValueError, "learning_rate"),
        ({"learning_rate": 1.5}, ValueError, "learning_rate"),
        ({"learning_rate": 1j}, TypeError, "learning_rate"),
        ({"optimizer": "adam"}, ValueError, "optimizer"),
        ({"method": "rebar", "temperature": -1.0}, ValueError, "temperature"),
        ({"method": "rebar", "eta": "best"}, ValueError, "eta"),
        ({"init": {"weights": [0.5, 0.5], "means": [[0.0], [1.0]]}}, ValueError, "scales"),
        ({"init": {"weights": [0.5, 0.6], "means": [[0.0], [1.0]], "scales": [[1.0], [1.0]]}}, ValueError, "sum"),
        ({"init": {"weights": [-0.5, 1.5], "means": [[0.0], [1.0]], "scales": [[1.0], [1.0]]}}, ValueError, "weights"),
        ({"init": {"means": [[0.0], [1.0]], "scales": [[1.0], [1.0]], "w": 1}}, ValueError, "unknown keys"),
        ({"init": {"means": [[0.0, 1.0]], "scales": [[1.0], [1.0]]}}, ValueError, "means"),
        ({"init": {"means": [[0.0], [1.0j]], "scales": [[1.0], [1.0]]}}, TypeError, "means"),
    ],
)
def test_bad_arguments_are_refused_naming_them(kwargs, exc, match):
    x = gmm.report_data(50, seed=0)
    args = {"n_components": 2, "method": "em", **kwargs}
    with pytest.raises(exc, match=match):
        gmm.fit(x, **args)
