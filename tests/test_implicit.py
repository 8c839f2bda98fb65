"""mixgrad.implicit: the 1-D implicit gradient (Graves Eq 6) and the sampling-based estimator
(Graves Eq 9 with exact truncated draws through the quantile)."""

import numpy as np
import pytest
from scipy.special import digamma, gammainc, gammaincc, gammainccinv, gammaincinv, ndtr
from scipy.stats import gamma, norm

import mixgrad
from mixgrad import implicit


# Normal(mu, sigma): dF/dmu = -phi(z)/sigma, dF/dsigma = -phi(z) z / sigma  =>  dx/dmu = 1, dx/dsigma = z
def normal_pdf(x, th):
    return norm.pdf(x, th[0], th[1])


def normal_cdf(x, th):
    return ndtr((x - th[0]) / th[1])


def normal_dcdf(x, th):
    z = (x - th[0]) / th[1]
    return np.stack([-norm.pdf(z) / th[1], -norm.pdf(z) * z / th[1]], axis=-1)


def test_normal_is_reparameterization_trick():
    th = np.array([0.7, 1.9])
    x = np.linspace(-5, 6, 23)
    z = (x - th[0]) / th[1]
    g = implicit.implicit_grad(x, th, normal_pdf, dcdf_dtheta=normal_dcdf)
    np.testing.assert_allclose(g[:, 0], 1.0, rtol=1e-12)
    np.testing.assert_allclose(g[:, 1], z, rtol=1e-12, atol=1e-12)
    # dF/dtheta by finite differences of the cdf
    g_fd = implicit.implicit_grad(x, th, normal_pdf, cdf=normal_cdf)
    np.testing.assert_allclose(g_fd, g, rtol=1e-7, atol=1e-8)


# Gamma(alpha, 1): the shape derivative of the CDF has no elementary closed form.
def gamma_pdf(x, th):
    return gamma.pdf(x, th[0])


def gamma_cdf(x, th):
    return gammainc(th[0], x)


def gamma_quantile(u, th):
    return gammaincinv(th[0], u)


def gamma_score(t, th):
    return (np.log(t) - digamma(th[0]))[..., None]


ALPHA = 2.5


def gamma_reference(x):
    """dx/dalpha at fixed u by central differences of the inverse CDF (scipy), independent of the
    code under test; the upper-tail inverse is used above the median for accuracy."""
    u = gammainc(ALPHA, x)
    uc = gammaincc(ALPHA, x)
    h = 1e-5
    lo = (gammaincinv(ALPHA + h, u) - gammaincinv(ALPHA - h, u)) / (2 * h)
    hi = (gammainccinv(ALPHA + h, uc) - gammainccinv(ALPHA - h, uc)) / (2 * h)
    return np.where(u < 0.5, lo, hi)


def test_gamma_shape_gradient_by_cdf_differences():
    x = np.array([0.05, 0.5, 1.5, 2.5, 4.0, 9.0])
    g = implicit.implicit_grad(x, [ALPHA], gamma_pdf, cdf=gamma_cdf)
    assert g.shape == (6, 1)
    np.testing.assert_allclose(g[:, 0], gamma_reference(x), rtol=1e-6)


@pytest.mark.parametrize("x0", [0.3, 1.5, 2.2, 5.5, 9.0])
def test_sampled_estimator_is_unbiased(x0):
    exact = gamma_reference(np.array([x0]))[0]
    R = 40_000
    est = implicit.sampled_implicit_grad(
        np.full(R, x0), [ALPHA], gamma_pdf, gamma_cdf, gamma_quantile, gamma_score, n_inner=1, seed=int(x0 * 10)
    )[:, 0]
    mean, se = est.mean(), est.std(ddof=1) / np.sqrt(R)
    assert np.isfinite(est).all()
    assert abs(mean - exact) < 4 * se, (mean, exact, se)
    # its variance: the analytic gradient is exact (zero variance); the estimator's falls as 1/n_inner
    est16 = implicit.sampled_implicit_grad(
        np.full(R // 16, x0), [ALPHA], gamma_pdf, gamma_cdf, gamma_quantile, gamma_score, n_inner=16, seed=7
    )[:, 0]
    ratio = est.var() / est16.var()
    assert 16 * 0.8 < ratio < 16 * 1.25, ratio
    assert abs(est16.mean() - exact) < 4 * est16.std(ddof=1) / np.sqrt(len(est16))


@pytest.mark.parametrize("x0", [0.2, 7.0])
def test_smaller_tail_has_lower_variance(x0):
    # F(0.2) ~ 0.01 and F(7.0) ~ 0.99: averaging over the small tail beats the large one
    R = 20_000
    args = (np.full(R, x0), [ALPHA], gamma_pdf, gamma_cdf, gamma_quantile, gamma_score)
    v_small = implicit.sampled_implicit_grad(*args, n_inner=1, tail="smaller", seed=1)[:, 0].var()
    other = "upper" if gamma_cdf(np.array([x0]), [ALPHA])[0] < 0.5 else "lower"
    v_other = implicit.sampled_implicit_grad(*args, n_inner=1, tail=other, seed=1)[:, 0].var()
    assert v_small < 0.5 * v_other, (v_small, v_other)


def test_one_dimensional_mixture_agrees_with_mixture_jacobian():
    rng = np.random.default_rng(4)
    K = 3
    a, m, s = rng.normal(size=K), rng.normal(size=(K, 1)), np.exp(rng.uniform(-0.5, 0.5, size=(K, 1)))
    mix = mixgrad.DiagGaussianMixture(a, m, s)
    x = mix.sample(20, seed=3)[:, 0]

    def unpack(th):
        return mixgrad.DiagGaussianMixture(th[:K], th[K : 2 * K, None], th[2 * K :, None])

    def pdf(x, th):
        return np.exp(unpack(th).log_prob(x[:, None]))

    def cdf(x, th):
        return unpack(th).cdf_transform(x[:, None])[:, 0]

    th = np.concatenate([a, m[:, 0], s[:, 0]])
    g = implicit.implicit_grad(x, th, pdf, cdf=cdf)
    J = mix.jacobian(x[:, None])
    ref = np.concatenate([J.logits[:, 0, :], J.means[:, 0, :, 0], J.scales[:, 0, :, 0]], axis=1)
    np.testing.assert_allclose(g, ref, rtol=1e-6, atol=1e-7 * np.abs(ref).max())


def test_errors():
    with pytest.raises(ValueError, match="tail"):
        implicit.sampled_implicit_grad([1.0], [ALPHA], gamma_pdf, gamma_cdf, gamma_quantile, gamma_score, tail="left")
    with pytest.raises(ValueError, match="n_inner"):
        implicit.sampled_implicit_grad([1.0], [ALPHA], gamma_pdf, gamma_cdf, gamma_quantile, gamma_score, n_inner=0)
    with pytest.raises(ValueError, match="cdf"):
        implicit.implicit_grad([1.0], [ALPHA], gamma_pdf)
    with pytest.raises(ValueError, match="theta"):
        implicit.implicit_grad([1.0], [[ALPHA]], gamma_pdf, cdf=gamma_cdf)
    with pytest.raises(ValueError, match="dcdf_dtheta"):
        implicit.implicit_grad([1.0, 2.0], [0.0, 1.0], normal_pdf, dcdf_dtheta=lambda x, th: np.zeros((2, 3)))
