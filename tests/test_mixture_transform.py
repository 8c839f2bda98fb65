"""DiagGaussianMixture: densities, the distributional transform and its inverse, sampling,
hard cases, determinism across thread counts, and input validation."""

import numpy as np
import pytest
from scipy.special import logsumexp, ndtr
from scipy.stats import kstest, norm

from mixgrad import DiagGaussianMixture


def random_mixture(rng, batch, K, D):
    return DiagGaussianMixture(
        rng.normal(size=(*batch, K)),
        rng.normal(scale=2.0, size=(*batch, K, D)),
        np.exp(rng.uniform(-0.7, 0.7, size=(*batch, K, D))),
    )


def reference(mix, x):
    """log density and distributional transform by plain numpy/scipy (independent of the kernels)."""
    a, m, s = mix.logits, mix.means, mix.scales
    lw = a - logsumexp(a, axis=-1, keepdims=True)
    ell = np.broadcast_to(lw, x.shape[:-1] + lw.shape[-1:]).copy()
    u = np.empty_like(x)
    for d in range(x.shape[-1]):
        w = np.exp(ell - logsumexp(ell, axis=-1, keepdims=True))
        z = (x[..., d, None] - m[..., d]) / s[..., d]
        u[..., d] = np.sum(w * ndtr(z), axis=-1)
        ell = ell + norm.logpdf(z) - np.log(s[..., d])
    return logsumexp(ell, axis=-1), u


@pytest.mark.parametrize(("batch", "n"), [((), 200), ((3,), 5), ((40,), 2), ((2, 3), 1)])
def test_log_prob_and_cdf_transform_match_reference(batch, n):
    rng = np.random.default_rng(1)
    mix = random_mixture(rng, batch, 5, 3)
    x = rng.normal(scale=3.0, size=(n, *batch, 3))
    lp_ref, u_ref = reference(mix, x)
    np.testing.assert_allclose(mix.log_prob(x), lp_ref, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(mix.cdf_transform(x), u_ref, rtol=1e-12, atol=1e-15)


def test_samples_have_the_mixture_distribution():
    rng = np.random.default_rng(2)
    mix = random_mixture(rng, (), 4, 3)
    x = mix.sample(20_000, seed=3)
    assert x.shape == (20_000, 3)
    u = mix.cdf_transform(x)
    # T maps samples to independent uniforms: each coordinate passes a KS test
    for d in range(3):
        assert kstest(u[:, d], "uniform").pvalue > 1e-3
    # mean within 4 standard errors of the analytic mixture mean
    se = x.std(axis=0) / np.sqrt(len(x))
    assert np.all(np.abs(x.mean(axis=0) - mix.mean()) < 4 * se)
    # batch: shape and the n=None form
    mb = random_mixture(rng, (2, 3), 4, 2)
    assert mb.sample(seed=1).shape == (2, 3, 2)
    assert mb.sample(7, seed=1).shape == (7, 2, 3, 2)
    np.testing.assert_array_equal(mb.sample(seed=1), mb.sample(1, seed=1)[0])


@pytest.mark.parametrize(("K", "D", "batch"), [(1, 1, ()), (3, 1, ()), (5, 3, ()), (4, 2, (40,))])
def test_round_trips(K, D, batch):
    rng = np.random.default_rng(10 + K + D)
    mix = random_mixture(rng, batch, K, D)
    # u -> x -> u over the whole range, tails included
    tiny = np.logspace(-300, -1, 60)
    ulist = np.concatenate([tiny, [0.25, 0.5, 0.75], 1 - np.logspace(-16, -1, 30)])
    u = np.stack([rng.permutation(ulist) for _ in range(D)], axis=-1)
    u = np.broadcast_to(u[:, None, :] if batch else u, (len(ulist), *batch, D)).copy()
    x = mix.quantile(u)
    assert np.all(np.isfinite(x))
    u2 = mix.cdf_transform(x)
    lower = u < 0.5
    # relative accuracy in the tail that carries the information: u below 1/2, 1 - u above
    err_lo = np.abs(u2 - u)[lower] / u[lower]
    err_hi = np.abs((1 - u2) - (1 - u))[~lower] / (1 - u)[~lower]
    assert err_lo.max() < 1e-11
    assert err_hi.max() < 1e-11 + 4 * np.finfo(float).eps / np.min((1 - u)[~lower])
    # x -> u -> x on samples. The error is bounded by the conditioning of u near 1:
    # |dx| <~ spacing(u) / f(x) (D = 1 checked exactly against that bound).
    xs = mix.sample(2000, seed=7)
    back = mix.quantile(mix.cdf_transform(xs))
    if D == 1:
        dens = np.exp(mix.log_prob(xs))[..., None]
        us = mix.cdf_transform(xs)
        bound = 1e-12 * (1 + np.abs(xs)) + 8 * np.spacing(np.maximum(us, 0.5)) / dens
        assert np.all(np.abs(back - xs) <= bound)
    else:
        assert np.max(np.abs(back - xs) / (1 + np.abs(xs))) < 1e-7


def fd_check(mix, n=3, seed=0, tol=1e-6):
    """vjp against 4-point central differences of the quantile map with u fixed."""
    rng = np.random.default_rng(seed)
    u = mix.cdf_transform(mix.sample(n, seed=seed))
    x = mix.quantile(u)
    gbar = rng.normal(size=x.shape)
    got = mix.vjp(x, gbar)
    base = {"logits": mix.logits.copy(), "means": mix.means.copy(), "scales": mix.scales.copy()}
    fds = {}
    for name in base:
        fd = np.zeros_like(base[name])
        for idx in np.ndindex(*base[name].shape):
            if name == "logits":
                if base[name][idx] == -np.inf:
                    continue
                h = 1e-4
            elif name == "means":
                h = 1e-4 * base["scales"][idx]
            else:
                h = 1e-4 * base[name][idx]
            vals = []
            for c in (-2, -1, 1, 2):
                p = {k: v.copy() for k, v in base.items()}
                p[name][idx] += c * h
                vals.append(np.sum(gbar * DiagGaussianMixture(**p).quantile(u)))
            fd[idx] = (vals[0] - 8 * vals[1] + 8 * vals[2] - vals[3]) / (12 * h)
        fds[name] = fd
    # max-norm error relative to the whole gradient vector (an exactly-zero block, e.g. the
    # logits of identical components, is compared with the scale of the others)
    scale = max(np.abs(f).max() for f in fds.values())
    for name, fd in fds.items():
        g = getattr(got, name)
        assert np.all(np.isfinite(g)), name
        assert np.abs(g - fd).max() <= tol * scale, (name, np.abs(g - fd).max() / scale)
    return x, got


def test_hard_scales_1e3_apart():
    mix = DiagGaussianMixture([0.3, -0.2], [[0.0, 1.0], [0.5, -1.0]], [[1e-3, 1.0], [1.0, 1e-3]])
    fd_check(mix, n=4, seed=1)


def test_hard_minus_inf_logit():
    mix = DiagGaussianMixture([0.0, -np.inf, 0.5], np.array([[0.0, 1.0], [3.0, -1.0], [-2.0, 0.5]]), np.ones((3, 2)))
    _x, g = fd_check(mix, n=4, seed=2)
    assert np.all(g.means[1] == 0.0)
    assert np.all(g.scales[1] == 0.0)
    assert np.isfinite(g.logits).all()
    # the zero-weight component is never sampled and does not change the density
    ref = DiagGaussianMixture([0.0, 0.5], mix.means[[0, 2]], mix.scales[[0, 2]])
    xs = mix.sample(2000, seed=3)
    np.testing.assert_allclose(mix.log_prob(xs), ref.log_prob(xs), rtol=1e-14)
    np.testing.assert_allclose(mix.cdf_transform(xs), ref.cdf_transform(xs), rtol=1e-14, atol=1e-16)


def test_hard_identical_components():
    mix = DiagGaussianMixture([0.1, 0.1, -0.4], np.tile([[0.5, -1.0]], (3, 1)), np.tile([[2.0, 0.5]], (3, 1)))
    x, g = fd_check(mix, n=4, seed=3)
    # identical components: the logits cannot move x (u fixed), and the mean gradients are w_k * sum(gbar)
    assert np.abs(g.logits).max() < 1e-12
    one = DiagGaussianMixture([0.0], mix.means[:1], mix.scales[:1])
    np.testing.assert_allclose(mix.quantile(mix.cdf_transform(x)), one.quantile(one.cdf_transform(x)), rtol=1e-12)


def test_hard_scales_1e_minus8_to_1e8():
    # Components 16 orders of magnitude apart. A sample from the narrow component sees the
    # others' densities 1e16 times smaller, and a sample from the wide one far from the others
    # (|x| > 1e4) sees the rest as point masses far inside its body: in both cases the exact
    # Jacobian equals the reparameterization trick of that component (dx/dmu = 1, dx/dsigma = z)
    # up to relative corrections below 1e-4, and dx/d(everything else) ~ 0.
    mix = DiagGaussianMixture([0.0, 0.0, -1.0], [[0.0], [1.0], [-3.0]], [[1e-8], [1e8], [1.0]])
    x = mix.sample(4000, seed=5)
    assert np.isfinite(x).all()
    assert np.isfinite(mix.log_prob(x)).all()
    u = mix.cdf_transform(x)
    assert np.all((u >= 0) & (u <= 1))
    g = mix.vjp(x, 1.0)
    assert all(np.isfinite(a).all() for a in g)
    J = mix.jacobian(x)
    assert all(np.isfinite(a).all() for a in J)
    narrow = np.abs(x[:, 0]) < 1e-6
    wide = np.abs(x[:, 0]) > 1e4
    assert narrow.sum() > 1000
    assert wide.sum() > 1000
    for rows, k in ((narrow, 0), (wide, 1)):
        z = (x[rows, 0] - mix.means[k, 0]) / mix.scales[k, 0]
        np.testing.assert_allclose(J.means[rows, 0, k, 0], 1.0, rtol=1e-4)
        np.testing.assert_allclose(J.scales[rows, 0, k, 0], z, rtol=1e-4, atol=1e-4)
        others = [j for j in range(3) if j != k]
        assert np.abs(J.means[rows, 0][:, others]).max() < 1e-4
    # round trip on the samples, in units of each sample's own component scale
    back = mix.quantile(u)
    assert np.all(np.abs(back - x)[narrow] < 1e-12)
    assert np.all(np.abs(back - x)[wide] < 1e-6 * np.abs(x[wide]))


def test_hard_extreme_u():
    mix = DiagGaussianMixture([0.0, 1.0], [[0.0, 0.0], [5.0, -5.0]], [[1.0, 2.0], [0.5, 1.0]])
    u = np.array([[1e-300, 1e-300], [1 - 1e-16, 1 - 1e-16], [1e-300, 1 - 1e-16], [0.5, 1e-200]])
    x = mix.quantile(u)
    assert np.isfinite(x).all()
    assert x[0, 0] < -30
    assert x[1, 0] > 5
    g = mix.vjp(x, np.ones_like(x))
    assert all(np.isfinite(a).all() for a in g)
    np.testing.assert_allclose(mix.cdf_transform(x)[u < 0.5], u[u < 0.5], rtol=1e-11)
    # the endpoints
    xe = mix.quantile(np.array([[0.0, 0.5], [1.0, 0.5]]))
    assert xe[0, 0] == -np.inf
    assert xe[1, 0] == np.inf


def test_d1_and_k1_transport():
    rng = np.random.default_rng(6)
    a = random_mixture(rng, (), 1, 1)
    b = random_mixture(rng, (), 1, 1)
    x = a.sample(100, seed=1)
    # K = 1: the transport map is affine
    expect = b.means[0] + b.scales[0] * (x - a.means[0]) / a.scales[0]
    np.testing.assert_allclose(a.transport(x, to=b), expect, rtol=1e-12, atol=1e-12)
    # identity transport
    c = random_mixture(rng, (2,), 3, 2)
    xc = c.sample(50, seed=2)
    np.testing.assert_allclose(c.transport(xc, to=c), xc, rtol=1e-9, atol=1e-9)
    with pytest.raises(ValueError, match="to"):
        c.transport(xc, to=random_mixture(rng, (3,), 3, 2))


@pytest.mark.parametrize(("batch", "n"), [((), 5000), ((64,), 40), ((3,), 3000)])
def test_bit_identical_for_one_and_two_threads(batch, n):
    rng = np.random.default_rng(9)
    mix = random_mixture(rng, batch, 6, 3)
    s1 = mix.sample(n, seed=11, nthreads=1)
    s2 = mix.sample(n, seed=11, nthreads=2)
    np.testing.assert_array_equal(s1, s2)
    g = rng.normal(size=s1.shape)
    for a, b in zip(mix.vjp(s1, g, nthreads=1), mix.vjp(s1, g, nthreads=2)):
        np.testing.assert_array_equal(a, b)
    u = mix.cdf_transform(s1[:300], nthreads=1)
    np.testing.assert_array_equal(u, mix.cdf_transform(s1[:300], nthreads=2))
    np.testing.assert_array_equal(mix.quantile(u, nthreads=1), mix.quantile(u, nthreads=2))
    np.testing.assert_array_equal(mix.log_prob(s1, nthreads=1), mix.log_prob(s1, nthreads=2))


def test_properties():
    mix = DiagGaussianMixture(np.zeros((2, 3)), np.zeros((2, 3, 4)), np.ones((2, 3, 4)))
    assert mix.batch_shape == (2,)
    assert mix.event_shape == (4,)
    assert mix.n_components == 3
    np.testing.assert_allclose(mix.weights, 1 / 3)
    assert mix.mean().shape == (2, 4)
    m32 = DiagGaussianMixture(np.zeros(2, np.float32), np.zeros((2, 1), np.float32), np.ones((2, 1), np.float32))
    assert m32.dtype == np.float32
    assert m32.sample(3, seed=0).dtype == np.float32
    assert "DiagGaussianMixture" in repr(mix)


@pytest.mark.parametrize(
    ("logits", "means", "scales", "match"),
    [
        ([0.0, 0.0], [[0.0], [1.0]], [[1.0], [0.0]], "scales"),
        ([0.0, 0.0], [[0.0], [1.0]], [[1.0], [-1.0]], "scales"),
        ([0.0, 0.0], [[0.0], [1.0]], [[1.0], [np.inf]], "scales"),
        ([0.0, 0.0], [[0.0], [np.nan]], [[1.0], [1.0]], "means"),
        ([0.0, 0.0], [[0.0], [np.inf]], [[1.0], [1.0]], "means"),
        ([0.0, np.nan], [[0.0], [1.0]], [[1.0], [1.0]], "logits"),
        ([0.0, np.inf], [[0.0], [1.0]], [[1.0], [1.0]], "logits"),
        ([-np.inf, -np.inf], [[0.0], [1.0]], [[1.0], [1.0]], "logits"),
        ([0.0, 0.0, 0.0], [[0.0], [1.0]], [[1.0], [1.0]], "logits"),
        ([0.0, 0.0], [[0.0], [1.0]], [[1.0, 1.0], [1.0, 1.0]], "scales"),
        ([0.0, 0.0], [0.0, 1.0], [1.0, 1.0], "means"),
    ],
)
def test_bad_parameters(logits, means, scales, match):
    with pytest.raises(ValueError, match=match):
        DiagGaussianMixture(np.array(logits), np.array(means), np.array(scales))


def test_bad_arguments():
    mix = DiagGaussianMixture(np.zeros((2, 3)), np.zeros((2, 3, 4)), np.ones((2, 3, 4)))
    with pytest.raises(ValueError, match="x"):
        mix.log_prob(np.zeros((5, 4)))
    with pytest.raises(ValueError, match="x"):
        mix.vjp(np.zeros((5, 3, 4)), 1.0)
    with pytest.raises(ValueError, match="grad_x"):
        mix.vjp(np.zeros((5, 2, 4)), np.ones((3, 4)))
    with pytest.raises(ValueError, match="u"):
        mix.quantile(np.full((1, 2, 4), 1.5))
    with pytest.raises(ValueError, match="u"):
        mix.quantile(np.full((1, 2, 4), -1e-3))
    with pytest.raises(ValueError, match=r"tangents\.means"):
        mix.jvp(np.zeros((1, 2, 4)), {"means": np.zeros((3, 4))})
    with pytest.raises(ValueError, match="n"):
        mix.sample(-1)
    with pytest.raises(TypeError, match="x"):
        mix.log_prob(np.zeros((2, 4), dtype=complex))


def test_nan_rows_stay_local():
    rng = np.random.default_rng(12)
    mix = random_mixture(rng, (40,), 3, 2)
    x = mix.sample(3, seed=1)
    x_bad = x.copy()
    x_bad[1, 7, 0] = np.nan
    lp, lp_bad = mix.log_prob(x), mix.log_prob(x_bad)
    assert np.isnan(lp_bad[1, 7])
    mask = np.ones(lp.shape, bool)
    mask[1, 7] = False
    np.testing.assert_array_equal(lp_bad[mask], lp[mask])
    u, u_bad = mix.cdf_transform(x), mix.cdf_transform(x_bad)
    assert np.isnan(u_bad[1, 7]).all()
    np.testing.assert_array_equal(u_bad[mask], u[mask])
    u_nan = u.copy()
    u_nan[2, 3, 1] = np.nan
    q, q_nan = mix.quantile(u), mix.quantile(u_nan)
    assert np.isnan(q_nan[2, 3, 1])
    keep = np.ones(q.shape, bool)
    keep[2, 3, 1] = False
    np.testing.assert_array_equal(q_nan[keep], q[keep])
    g, g_bad = mix.vjp(x, 1.0), mix.vjp(x_bad, 1.0)
    for a, b in zip(g, g_bad):
        assert np.isnan(b[7]).any()
        np.testing.assert_array_equal(np.delete(b, 7, axis=0), np.delete(a, 7, axis=0))
    # one mixture, many rows: a NaN row makes the summed gradient NaN, nothing crashes
    one = random_mixture(rng, (), 3, 2)
    xs = one.sample(1000, seed=2)
    xs[500, 1] = np.nan
    assert np.isnan(one.vjp(xs, 1.0).means).any()
