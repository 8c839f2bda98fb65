"""Property tests (hypothesis) of the discrete-gradient estimators on random small problems
(issue 12: keep the hardening found):

* determinism: the same seed gives bit-identical estimates with 1 and 2 threads;
* ``exact`` equals a brute-force enumeration written here in numpy (Bernoulli D <= 6 with
  logistic or probit noise, categorical K <= 5; random quadratic objectives, built in or as a
  numpy callback), differentiated by the product rule -- not by the score function;
* REBAR and REINFORCE are unbiased: their mean is within 4 standard errors of ``exact``.

Bounded so that the file runs in well under 30 s: few examples, no deadline.
"""

import itertools

import numpy as np
import pytest
from scipy import special as sp
from scipy import stats

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import mixgrad as mg  # noqa: E402


@st.composite
def problems(draw, max_bernoulli=6, max_classes=5, max_abs_logit=4.0):
    """(distribution, QuadraticForm objective, (A, c, d) as arrays) with 1-3 rows."""
    family = draw(st.sampled_from(["logistic", "gaussian", "categorical"]))
    E = draw(st.integers(1, max_bernoulli) if family != "categorical" else st.integers(2, max_classes))
    rows = draw(st.integers(1, 3))
    batched = rows > 1 or draw(st.booleans())
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    alpha = rng.uniform(-max_abs_logit, max_abs_logit, size=(rows, E))
    if not batched:
        alpha = alpha[0]
    dist = mg.Categorical(alpha) if family == "categorical" else mg.Bernoulli(alpha, noise=family)
    A = rng.normal(size=(E, E))
    c = rng.normal(size=(E,))
    d = float(rng.normal())
    return dist, mg.QuadraticForm(A, c, d), (A, c, d)


def _quadratic(b, A, c, d):
    return np.einsum("...i,ij,...j->...", b, A, b) + b @ c + d


def _brute_force(dist, A, c, d):
    """(E f per row, d E f / d alpha) by enumerating outcomes; the derivative by the product rule
    on the outcome probabilities (scipy's expit / normal cdf and pdf)."""
    alpha = np.atleast_2d(dist.logits)
    R, E = alpha.shape
    values = np.empty(R)
    grads = np.empty((R, E))
    for r in range(R):
        a = alpha[r]
        if isinstance(dist, mg.Categorical):
            theta = sp.softmax(a)
            f = np.array([_quadratic(np.eye(E)[k], A, c, d) for k in range(E)])
            values[r] = theta @ f
            # d theta_k / d alpha_j = theta_k (delta_kj - theta_j)
            jac = np.diag(theta) - np.outer(theta, theta)
            grads[r] = f @ jac
            continue
        if dist.noise_type == "logistic":
            theta, dtheta = sp.expit(a), sp.expit(a) * sp.expit(-a)
        else:
            theta, dtheta = stats.norm.cdf(a), stats.norm.pdf(a)
        values[r] = 0.0
        grads[r] = 0.0
        for bits in itertools.product((0.0, 1.0), repeat=E):
            b = np.array(bits)
            p_each = np.where(b == 1, theta, 1 - theta)
            f = _quadratic(b, A, c, d)
            values[r] += np.prod(p_each) * f
            for j in range(E):
                others = np.prod(np.delete(p_each, j))
                grads[r, j] += f * others * (dtheta[j] if b[j] == 1 else -dtheta[j])
    return values, grads.reshape(dist.shape)


@settings(max_examples=60, deadline=None)
@given(problems(), st.booleans())
def test_exact_matches_brute_force_enumeration(problem, as_callback):
    dist, objective, (A, c, d) = problem
    if as_callback:
        objective = mg.Callback(
            lambda s: _quadratic(s, A, c, d),
            lambda s: s @ (A + A.T) + c,
        )
    value, grad = _brute_force(dist, A, c, d)
    got = mg.exact(objective, dist)
    scale = 1.0 + np.abs(grad).max()
    np.testing.assert_allclose(got.mean, grad, rtol=1e-10, atol=1e-12 * scale)
    np.testing.assert_allclose(np.atleast_1d(got.diagnostics["value"]), value, rtol=1e-10, atol=1e-12)


ESTIMATOR_CALLS = {
    "rebar": lambda o, dist, n, seed, nt: mg.rebar(o, dist, n, seed=seed, eta=0.7, nthreads=nt),
    "rebar_optimal_coupled": lambda o, dist, n, seed, nt: mg.rebar(
        o, dist, n, seed=seed, eta="optimal", coupling="coupled", baseline="loo", nthreads=nt
    ),
    "reinforce": lambda o, dist, n, seed, nt: mg.reinforce(o, dist, n, seed=seed, nthreads=nt),
    "reinforce_loo": lambda o, dist, n, seed, nt: mg.reinforce(o, dist, n, seed=seed, baseline="loo", nthreads=nt),
    "concrete": lambda o, dist, n, seed, nt: mg.concrete(o, dist, n, seed=seed, nthreads=nt),
    "straight_through": lambda o, dist, n, seed, nt: mg.straight_through(o, dist, n, seed=seed, nthreads=nt),
}


@settings(max_examples=50, deadline=None)
@given(problems(), st.sampled_from(sorted(ESTIMATOR_CALLS)), st.integers(2, 300), st.integers(0, 2**63 - 1))
def test_bit_identical_for_one_and_two_threads(problem, name, n_samples, seed):
    dist, objective, _ = problem
    call = ESTIMATOR_CALLS[name]
    one = call(objective, dist, n_samples, seed, 1)
    two = call(objective, dist, n_samples, seed, 2)
    np.testing.assert_array_equal(one.mean, two.mean)
    np.testing.assert_array_equal(one.variance, two.variance)
    np.testing.assert_array_equal(one.samples, two.samples)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(problems(max_bernoulli=4, max_classes=4, max_abs_logit=3.0), st.sampled_from(["rebar", "reinforce"]))
def test_rebar_and_reinforce_are_unbiased(problem, name):
    """|mean - exact| < 4 standard errors per coordinate (20,000 samples; logits within +-3 so
    that every outcome has probability >= 1e-3 and is seen). Derandomized: a fixed set of
    problems, so that the 4-SE test does not fail at random."""
    dist, objective, _ = problem
    n = 20_000
    est = ESTIMATOR_CALLS[name](objective, dist, n, 12345, None)
    truth = mg.exact(objective, dist).mean
    z = (est.mean - truth) / np.where(est.stderr > 0, est.stderr, np.inf)
    assert np.all(np.abs(z) < 4), f"z = {z}"
    # where the estimate has no spread at all it must be exact
    assert np.all(np.abs(est.mean - truth)[est.stderr == 0] <= 1e-12 * (1 + np.abs(truth).max()))


@settings(max_examples=40, deadline=None)
@given(
    st.one_of(problems(), problems(max_bernoulli=1)),
    st.sampled_from(sorted(ESTIMATOR_CALLS)),
    st.integers(2, 3000),
    st.integers(0, 2**63 - 1),
)
def test_mean_and_variance_match_the_samples(problem, name, n_samples, seed):
    """The running moments (fixed tiles, Welford, Chan; one pass about the first estimate for
    chunks of one coordinate) against numpy's two-pass mean and variance of the kept samples."""
    dist, objective, _ = problem
    g = ESTIMATOR_CALLS[name](objective, dist, n_samples, seed, None)
    size = float(np.abs(g.samples).max(initial=0.0))
    np.testing.assert_allclose(g.mean, g.samples.mean(0), rtol=1e-11, atol=1e-14 * size)
    np.testing.assert_allclose(g.variance, g.samples.var(0, ddof=1), rtol=1e-9, atol=1e-14 * size * size)
