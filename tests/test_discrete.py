"""Distributions and their noise transforms (DESIGN.md section 4.1)."""

import numpy as np
import pytest
from scipy import special as sp
from scipy import stats

import mixgrad as mg
from helpers import ulp_error

EXTREME = np.array([-30.0, -8.0, -1.3, 0.0, 0.7, 5.0, 30.0])


def _bernoullis(alpha):
    return [mg.Bernoulli(alpha, noise="logistic"), mg.Bernoulli(alpha, noise="gaussian")]


@pytest.mark.parametrize("coupling", ["independent", "coupled"])
def test_bernoulli_conditional_threshold_holds_every_draw(coupling):
    for d in _bernoullis(np.tile(EXTREME, (3, 1))):
        nd = d.noise(20000, seed=3, coupling=coupling)
        H = (nd.z_tilde >= 0) if d.noise_type == "gaussian" else (nd.z_tilde > 0)
        assert np.array_equal(H.astype(float), nd.b)
        Hz = (nd.z >= 0) if d.noise_type == "gaussian" else (nd.z > 0)
        assert np.array_equal(Hz.astype(float), nd.b)
        for a in nd:
            assert np.all(np.isfinite(a))
        if coupling == "coupled":
            np.testing.assert_array_equal(nd.z_tilde, nd.z)


@pytest.mark.parametrize("coupling", ["independent", "coupled"])
def test_categorical_argmax_of_conditional_is_b(coupling):
    rng = np.random.default_rng(0)
    for K in (3, 10):
        alpha = rng.normal(scale=3, size=(4, K))
        alpha[0, 0] = 30.0
        alpha[1, 1] = -30.0
        d = mg.Categorical(alpha)
        nd = d.noise(20000, seed=5, coupling=coupling)
        b = nd.b.argmax(-1)
        assert np.array_equal(nd.z.argmax(-1), b)
        assert np.array_equal(nd.z_tilde.argmax(-1), b)
        assert np.all(np.isfinite(nd.z_tilde))
        assert np.all(np.isfinite(nd.dz_tilde_dalpha))
        if coupling == "coupled":
            np.testing.assert_allclose(nd.z_tilde, nd.z, rtol=1e-12, atol=1e-12)


def test_sample_frequencies_match_probs():
    n = 200000
    alpha = np.array([-2.0, 0.0, 0.4, 3.0])
    for d in _bernoullis(alpha):
        freq = d.sample(n, seed=1).mean(0)
        p = d.probs
        assert np.all(np.abs(freq - p) < 5 * np.sqrt(p * (1 - p) / n))
    c = mg.Categorical(np.array([0.1, -1.0, 2.0]))
    counts = np.bincount(c.sample(n, seed=2), minlength=3)
    chi2 = ((counts - n * c.probs) ** 2 / (n * c.probs)).sum()
    assert chi2 < stats.chi2.ppf(0.9999, 2)


def test_probs_log_prob_score_against_scipy():
    alpha = np.array([-30.0, -3.0, 0.2, 4.0, 30.0])
    b = np.array([[1, 0, 1, 0, 0], [0, 1, 0, 1, 1]], dtype=float)
    lo = mg.Bernoulli(alpha)
    np.testing.assert_allclose(lo.probs, sp.expit(alpha), rtol=1e-14)
    lp = np.where(b == 1, sp.log_expit(alpha), sp.log_expit(-alpha)).sum(-1)
    np.testing.assert_allclose(lo.log_prob(b), lp, rtol=1e-13)
    np.testing.assert_allclose(lo.score(b), b - sp.expit(alpha), rtol=1e-13, atol=1e-300)
    pr = mg.Bernoulli(alpha, noise="gaussian")
    np.testing.assert_allclose(pr.probs, stats.norm.cdf(alpha), rtol=1e-13)
    lp = np.where(b == 1, sp.log_ndtr(alpha), sp.log_ndtr(-alpha)).sum(-1)
    np.testing.assert_allclose(pr.log_prob(b), lp, rtol=1e-12)
    # score = d/dalpha log Phi(+-alpha), checked by finite differences of scipy's log_ndtr
    h = 1e-6
    fd = np.where(
        b == 1,
        (sp.log_ndtr(alpha + h) - sp.log_ndtr(alpha - h)) / (2 * h),
        (sp.log_ndtr(-alpha - h) - sp.log_ndtr(-alpha + h)) / (2 * h),
    )
    np.testing.assert_allclose(pr.score(b), fd, rtol=1e-6)
    c = mg.Categorical(np.array([[0.5, -1.0, 2.0], [0.0, 0.0, -np.inf]]))
    idx = np.array([[2, 1], [0, 0]])
    np.testing.assert_allclose(
        c.log_prob(idx), np.take_along_axis(sp.log_softmax(c.logits, -1)[None].repeat(2, 0), idx[..., None], -1)[..., 0]
    )
    np.testing.assert_allclose(c.score(idx), np.eye(3)[idx] - sp.softmax(c.logits, -1))


def _fd_same_branch(dist_cls, alpha, h, kw, seed, coupling):
    """Central finite differences of z_tilde in alpha with the noise fixed (same seed), kept where
    b does not change."""
    lo = dist_cls(alpha - h, **kw).noise(4000, seed=seed, coupling=coupling)
    hi = dist_cls(alpha + h, **kw).noise(4000, seed=seed, coupling=coupling)
    mid = dist_cls(alpha, **kw).noise(4000, seed=seed, coupling=coupling)
    same = (lo.b == hi.b) & (lo.b == mid.b)
    return mid, (hi.z_tilde - lo.z_tilde) / (2 * h), same


def _mills_mpmath(x):
    """phi(x) / Phi(x) in 120-digit arithmetic, rounded to float64.

    mpmath's ncdf is accurate to x = -1e15 at this precision (checked against 200 digits);
    below that the asymptotic series |x| + 1/|x| - 2/|x|^3, whose next term is below 1e-75
    relative, is the closed-form reference.
    """
    mpmath = pytest.importorskip("mpmath")
    with mpmath.workdps(120):
        v = mpmath.mpf(float(x))
        if v < -1e15:
            t = -v
            return float(t + 1 / t - 2 / t**3)
        return float(mpmath.npdf(v) / mpmath.ncdf(v))


def test_probit_score_matches_mpmath_for_huge_logits():
    """The probit score is an inverse Mills ratio, phi(alpha)/Phi(alpha) (b = 1) and
    -phi(alpha)/Phi(-alpha) (b = 0). Its old form exp(log phi - log Phi) cancelled two numbers of
    size alpha^2/2, losing every digit at |alpha| >= 1e9. Against mpmath: at most 8 ulp."""
    mags = np.concatenate([np.logspace(-3, 2, 11), np.logspace(3, 300, 12), [1e9, 3.5e9, 1e12]])
    alpha = np.concatenate([-mags, [0.0], mags])
    d = mg.Bernoulli(alpha, noise="gaussian")
    got1 = d.score(np.ones_like(alpha))
    got0 = d.score(np.zeros_like(alpha))
    ref1 = np.array([_mills_mpmath(a) for a in alpha])
    ref0 = np.array([-_mills_mpmath(-a) for a in alpha])
    for got, ref in ((got1, ref1), (got0, ref0)):
        assert np.all(np.isfinite(got))
        err = ulp_error(got, ref)
        assert err.max() <= 8, f"worst alpha {alpha[err.argmax()]}: {got[err.argmax()]} vs {ref[err.argmax()]}"


@pytest.mark.parametrize("noise", ["logistic", "gaussian"])
def test_bernoulli_dz_tilde_matches_finite_differences(noise):
    alpha = np.array([-6.0, -1.0, 0.0, 0.5, 2.5, 9.0])
    mid, fd, same = _fd_same_branch(mg.Bernoulli, alpha, 1e-6, {"noise": noise}, 11, "independent")
    assert same.mean() > 0.99
    np.testing.assert_allclose(mid.dz_tilde_dalpha[same], fd[same], rtol=2e-5, atol=2e-6)


def test_bernoulli_coupled_derivative_is_the_conditional_one_at_the_implied_v():
    """Coupled noise: dz~/dalpha holds the implied v fixed (not u), so it must equal the
    fresh-noise formula of DESIGN 4.1 evaluated at v derived from u."""
    alpha = np.array([-6.0, -1.0, 0.0, 0.5, 2.5, 9.0])
    nd = mg.Bernoulli(alpha).noise(3000, seed=2, coupling="coupled")
    th = sp.expit(alpha)
    u = sp.expit(nd.z - alpha)
    v = np.where(nd.b == 1, (u - (1 - th)) / th, u / (1 - th))
    up = np.where(nd.b == 1, (1 - th) + v * th, v * (1 - th))
    dup = np.where(nd.b == 1, -(1 - v), -v)
    expect = 1 + dup * th * (1 - th) / (up * (1 - up))
    np.testing.assert_allclose(nd.dz_tilde_dalpha, expect, rtol=1e-6, atol=1e-8)
    nd = mg.Bernoulli(alpha, noise="gaussian").noise(3000, seed=2, coupling="coupled")
    eps = nd.z - alpha
    v = np.where(nd.b == 1, stats.norm.cdf(-eps) / stats.norm.cdf(alpha), stats.norm.cdf(eps) / stats.norm.cdf(-alpha))
    expect = 1 - v * stats.norm.pdf(alpha) / stats.norm.pdf(eps)
    np.testing.assert_allclose(nd.dz_tilde_dalpha, expect, rtol=1e-6, atol=1e-8)


def test_categorical_dz_tilde_matches_finite_differences():
    coupling = "independent"
    alpha = np.array([0.3, -1.2, 2.0, 0.0])
    h = 1e-6
    mid = mg.Categorical(alpha).noise(2000, seed=4, coupling=coupling)
    for j in range(4):
        e = np.eye(4)[j] * h
        lo = mg.Categorical(alpha - e).noise(2000, seed=4, coupling=coupling)
        hi = mg.Categorical(alpha + e).noise(2000, seed=4, coupling=coupling)
        same = np.all((lo.b == mid.b) & (hi.b == mid.b), axis=-1)
        fd = (hi.z_tilde - lo.z_tilde) / (2 * h)
        np.testing.assert_allclose(mid.dz_tilde_dalpha[same][:, :, j], fd[same], rtol=1e-5, atol=1e-6)
        fdz = (hi.z - lo.z) / (2 * h)
        np.testing.assert_allclose(mid.dz_dalpha[same][:, :, j], fdz[same], rtol=1e-5, atol=1e-6)


def test_same_seed_same_b_everywhere():
    d = mg.Bernoulli(np.array([[0.3, -0.2], [1.0, 2.0]]))
    b1 = d.sample(50, seed=9)
    b2 = d.noise(50, seed=9, temperature=0.1).b
    assert b1.shape == (50, 2, 2)
    np.testing.assert_array_equal(b1, b2)
    # row/coordinate counters: a sub-batch of rows sees the same draws as in the full batch
    d1 = mg.Bernoulli(np.array([[0.3, -0.2]]))
    np.testing.assert_array_equal(d1.sample(50, seed=9)[:, 0], b1[:, 0])


def test_bad_inputs():
    with pytest.raises(ValueError, match="noise"):
        mg.Bernoulli(np.zeros(2), noise="cauchy")
    with pytest.raises(ValueError, match="shape"):
        mg.Bernoulli(np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="finite"):
        mg.Bernoulli(np.array([0.0, np.nan]))
    with pytest.raises(ValueError, match="finite"):
        mg.Bernoulli(np.array([0.0, -np.inf]))
    with pytest.raises(ValueError, match="finite entry"):
        mg.Categorical(np.array([-np.inf, -np.inf]))
    with pytest.raises(TypeError, match="logits"):
        mg.Categorical(np.array(["a", "b"]))
    with pytest.raises(ValueError, match="n must be >= 1"):
        mg.Bernoulli(np.zeros(2)).sample(0)
    with pytest.raises(ValueError, match="temperature"):
        mg.Bernoulli(np.zeros(2)).noise(3, temperature=0.0)
    with pytest.raises(ValueError, match="coupling"):
        mg.Bernoulli(np.zeros(2)).noise(3, coupling="both")
    with pytest.raises(ValueError, match="0 and 1"):
        mg.Bernoulli(np.zeros(2)).log_prob(np.array([0.5, 1.0]))
    with pytest.raises(ValueError, match="class indices"):
        mg.Categorical(np.zeros(3)).score(np.array([3]))
