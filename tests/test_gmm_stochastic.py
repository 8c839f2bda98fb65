"""The GMM application's stochastic gradients: unbiasedness, the report's defects 1, 4 and 5,
convergence of REBAR to EM's maximum-likelihood weights, determinism."""

import numpy as np
import pytest

import mixgrad
from mixgrad import estimators, gmm
from mixgrad.gmm.estimate import estimate_logit_gradient, latent_distribution, point_objective
from mixgrad.gmm.model import MixtureParams, exact_gradient, log_responsibilities, weights_from_logits
from mixgrad.gmm.numpy_reference import rebar_logit_gradient

REPORT_X = gmm.report_data(200, seed=0)
REPORT_INIT = {"weights": [0.5, 0.5], "means": [[-1.0], [1.0]], "scales": [[2.0], [2.0]]}


def _random_params(parametrization, k, d, seed):
    rng = np.random.default_rng(seed)
    logits = np.array([0.4]) if parametrization == "probit" else rng.normal(size=k)
    return MixtureParams(logits, 2.0 * rng.normal(size=(k, d)), 0.6 + rng.uniform(size=(k, d)), parametrization)


def _repeat_estimates(method, x, params, n_samples, repeats, seed, **options):
    seeds = np.random.SeedSequence(seed).spawn(repeats)
    return np.array([estimate_logit_gradient(method, x, params, n_samples, s, options)[0] for s in seeds])


@pytest.mark.parametrize("method", ["rebar", "reinforce"])
@pytest.mark.parametrize(("parametrization", "k"), [("probit", 2), ("softmax", 3)])
def test_defect1_points_and_samples_are_separate_axes(method, parametrization, k):
    """The report multiplied a per-point vector by a per-sample vector (both had length 200).
    With n = 37 points and S = 5 samples the estimate must still be unbiased for the exact
    gradient (within 4 standard errors over 400 independent estimates)."""
    rng = np.random.default_rng(11)
    x = 2.0 * rng.normal(size=(37, 2))
    params = _random_params(parametrization, k, 2, seed=5)
    exact = exact_gradient(x, params).logits
    est = _repeat_estimates(method, x, params, n_samples=5, repeats=400, seed=1)
    assert est.shape == (400, *params.logits.shape)
    se = est.std(axis=0, ddof=1) / np.sqrt(est.shape[0])
    z = (est.mean(axis=0) - exact) / se
    assert np.all(np.abs(z) < 4), f"exact {exact}, mean {est.mean(axis=0)}, z {z}"


def test_reported_variance_matches_the_spread_of_estimates():
    """The variance the estimator reports is that of the returned average (not of one sample)."""
    rng = np.random.default_rng(2)
    x = 2.0 * rng.normal(size=(40, 1))
    params = _random_params("softmax", 3, 1, seed=3)
    seeds = np.random.SeedSequence(4).spawn(400)
    pairs = [estimate_logit_gradient("reinforce", x, params, 8, s, {}) for s in seeds]
    spread = np.mean(np.var(np.array([g for g, _ in pairs]), axis=0, ddof=1))
    reported = np.mean([v for _, v in pairs])
    # Var of a sample variance of 400 draws: relative SE ~ sqrt(2/399) ~ 7% (heavier tails: more).
    assert abs(spread / reported - 1) < 0.3, (spread, reported)


@pytest.mark.parametrize(("parametrization", "k"), [("probit", 2), ("softmax", 4)])
def test_defect4_reinforce_is_the_score_function_estimator(parametrization, k):
    """The report's "REINFORCE" baseline was not the score-function estimator. Ours is exactly
    f(c) * d log p(c) / d alpha: every per-sample value is one of the K values f_i(c) * score(c),
    and mean and variance match their enumeration within 4 standard errors."""
    x = np.array([[0.7, -0.2]])
    params = _random_params(parametrization, k, 2, seed=8)
    n_samples = 200_000
    est = estimators.reinforce(point_objective(x, params), latent_distribution(params, 1), n_samples, seed=9)
    g = np.asarray(est.samples).reshape(n_samples, -1)
    joint, log_px = log_responsibilities(x, params)
    f = np.exp(joint[0] - log_px[0]) / weights_from_logits(params.logits, parametrization)  # p(x|c)/p(x)
    w = weights_from_logits(params.logits, parametrization)
    if parametrization == "probit":
        a = float(params.logits[0])
        phi = np.exp(-0.5 * a * a) / np.sqrt(2 * np.pi)
        score = np.array([[-phi / w[0]], [phi / w[1]]])  # d log p(c) / d alpha for c = 0, 1
    else:
        score = np.eye(k) - w[None, :]
    values = f[:, None] * score  # (K outcomes, n_logits)
    distance = np.min(np.max(np.abs(g[:, None, :] - values[None]), axis=2), axis=1)
    assert np.all(distance <= 1e-12 * (1 + np.abs(values).max()))
    mean = w @ values
    var = w @ values**2 - mean**2
    fourth = w @ (values - mean) ** 4
    se_mean = np.sqrt(var / n_samples)
    se_var = np.sqrt((fourth - var**2) / n_samples)
    assert np.all(np.abs(g.mean(axis=0) - mean) < 4 * se_mean)
    assert np.all(np.abs(g.var(axis=0) - var) < 4 * se_var)
    np.testing.assert_allclose(mean, exact_gradient(x, params).logits, rtol=1e-12, atol=1e-15)


def test_defect5_multiclass_fit_converges_to_em():
    """The report claimed multiclass support but was binary only: K = 4 categorical REBAR on
    2-D data reaches EM's weights and means."""
    rng = np.random.default_rng(3)
    centers = np.array([[-4.0, -4.0], [4.0, -4.0], [-4.0, 4.0], [4.0, 4.0]])
    weights = np.array([0.1, 0.2, 0.3, 0.4])
    c = rng.choice(4, size=400, p=weights)
    x = centers[c] + rng.normal(size=(400, 2))
    init = {"weights": np.full(4, 0.25), "means": centers + 1.0, "scales": np.full((4, 2), 2.0)}
    em = gmm.fit(x, 4, "em", n_iter=200, init=init)
    rebar = gmm.fit(x, 4, "rebar", n_iter=400, learning_rate=0.5, n_samples=8, init=init, seed=1)
    tail = rebar.history["weights"][-40:].mean(axis=0)
    assert np.max(np.abs(tail - em.weights)) < 0.03, (tail, em.weights)
    np.testing.assert_allclose(rebar.means, em.means, atol=0.1)
    assert rebar.parametrization == "softmax"


def test_report_setup_rebar_reaches_em_weights():
    """The report's experiment: 1-D, means -3 and 3, scales 2 and 1, weights 0.3 / 0.7, 200
    points. REBAR (probit, Gaussian noise) ends within 0.03 of EM's maximum-likelihood weights
    (mean over the last 10% of iterations)."""
    em = gmm.fit(REPORT_X, 2, "em", n_iter=300, init=REPORT_INIT)
    n_iter = 600
    rebar = gmm.fit(REPORT_X, 2, "rebar", n_iter=n_iter, learning_rate=0.2, n_samples=16, init=REPORT_INIT, seed=7)
    tail = rebar.history["weights"][-n_iter // 10 :].mean(axis=0)
    assert rebar.parametrization == "probit"
    assert np.max(np.abs(tail - em.weights)) < 0.03, (tail, em.weights)
    assert abs(rebar.log_likelihood - em.log_likelihood) < 5e-3


def test_fit_is_deterministic_across_thread_counts():
    runs = []
    for nt in (1, 2):
        with mixgrad.threads(nt):
            runs.append(gmm.fit(REPORT_X, 2, "rebar", n_iter=20, init=REPORT_INIT, seed=3).history["weights"])
    np.testing.assert_array_equal(runs[0], runs[1])


def test_numpy_reference_step_is_unbiased():
    """The numpy baseline that the benchmarks compare against computes the same quantity."""
    rng = np.random.default_rng(0)
    x = 2.0 * rng.normal(size=(9, 2))
    params = _random_params("softmax", 3, 2, seed=1)
    exact = exact_gradient(x, params).logits
    est = np.array([rebar_logit_gradient(x, params.means, params.scales, params.logits, 20, rng) for _ in range(300)])
    z = (est.mean(axis=0) - exact) / (est.std(axis=0, ddof=1) / np.sqrt(len(est)))
    assert np.all(np.abs(z) < 4), z


def test_point_objective_is_finite_for_far_points():
    """f_i(k) = p(x_i | k) / p(x_i) is built in log space: for a point 60 scales away (p(x_i)
    underflows to 0) the table is still finite and sum_k w_k f_i(k) = 1 exactly as it must be."""
    x = np.array([[0.3], [-2.0], [60.0], [-75.0]])
    params = MixtureParams(
        np.array([0.2, -0.4, 0.1]), np.array([[-1.0], [0.5], [2.0]]), np.array([[1.0], [0.7], [1.3]]), "softmax"
    )
    table = point_objective(x, params).table()
    assert np.all(np.isfinite(table))
    w = weights_from_logits(params.logits, "softmax")
    np.testing.assert_allclose(table @ w, 1.0, rtol=1e-12)
    # Where p(x_i) is representable, the plain normalizer gives the same table.
    _, log_px = log_responsibilities(x[:2], params)
    near = mixgrad.GMMComponentLikelihood(x[:2], params.means, params.scales, normalizer=np.exp(log_px)).table()
    np.testing.assert_allclose(near, table[:2], rtol=1e-13)
    with pytest.raises(ValueError, match="at most one"):
        mixgrad.GMMComponentLikelihood(x, params.means, params.scales, normalizer=1.0, log_normalizer=0.0)
