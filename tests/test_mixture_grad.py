"""Implicit-reparameterization gradients of DiagGaussianMixture: finite differences of the
quantile transform, the K = 1 reparameterization trick, jvp/jacobian consistency, and
unbiasedness against closed-form moment gradients."""

import numpy as np
import pytest

import mixgrad
from mixgrad import DiagGaussianMixture


def random_mixture(rng, batch, K, D, dtype=np.float64):
    logits = rng.normal(size=(*batch, K))
    means = rng.normal(scale=2.0, size=(*batch, K, D))
    scales = np.exp(rng.uniform(-0.7, 0.7, size=(*batch, K, D)))
    return DiagGaussianMixture(logits.astype(dtype), means.astype(dtype), scales.astype(dtype))


def fd_gradient(mix, u, gbar):
    """Central 4-point finite differences of sum(gbar * quantile(u)) with u fixed, for every
    parameter. A local index is perturbed in all mixtures of the batch at once; the loss is kept
    per mixture (mixtures are independent), so one quantile call serves the whole batch."""
    nb = len(mix.batch_shape)
    params = {"logits": mix.logits.copy(), "means": mix.means.copy(), "scales": mix.scales.copy()}

    def loss(p):
        m = DiagGaussianMixture(p["logits"], p["means"], p["scales"])
        y = gbar * m.quantile(u)
        # sum over sample dims and D, keep the batch dims
        return y.sum(axis=(*tuple(range(y.ndim - 1 - nb)), y.ndim - 1))

    out = {}
    for name, val in params.items():
        local_shape = val.shape[nb:]
        g = np.zeros_like(val)
        for idx in np.ndindex(*local_shape):
            sl = (Ellipsis, *idx)
            base = val[sl]
            if name == "logits":
                h = 1e-4 * np.ones_like(base)
            elif name == "means":
                h = 1e-4 * params["scales"][sl]
            else:
                h = 1e-4 * base
            vals = []
            for c in (-2, -1, 1, 2):
                p = {k: v.copy() for k, v in params.items()}
                p[name][sl] = base + c * h
                vals.append(loss(p))
            g[sl] = (vals[0] - 8 * vals[1] + 8 * vals[2] - vals[3]) / (12 * h)
        out[name] = g
    return out


CASES = [
    (K, D, batch)
    for K in (1, 2, 5, 16)
    for D in (1, 2, 7)
    for batch in [(), (3,)]
    if not (K == 16 and D == 7 and batch == (3,))
] + [(3, 2, (40,)), (4, 3, (2, 2)), (16, 7, (2,))]


@pytest.mark.parametrize(("K", "D", "batch"), CASES)
def test_vjp_matches_finite_differences_of_quantile(K, D, batch):
    rng = np.random.default_rng(1000 * K + 10 * D + len(batch))
    mix = random_mixture(rng, batch, K, D)
    n = 1 if batch == (40,) else 3  # (40,) with n=1 runs the per-lane layout
    u = mix.cdf_transform(mix.sample(n, seed=K + D))
    x = mix.quantile(u)
    gbar = rng.normal(size=x.shape)
    got = mix.vjp(x, gbar)
    fd = fd_gradient(mix, u, gbar)
    for name in ("logits", "means", "scales"):
        g, f = getattr(got, name), fd[name]
        assert g.shape == getattr(mix, name).shape
        # max-norm relative error per mixture of the batch
        axes = tuple(range(len(batch), g.ndim))
        scale = np.max(np.abs(f), axis=axes, keepdims=True) + 1e-300
        rel = np.max(np.abs(g - f) / scale)
        if K == 1 and name == "logits":
            assert np.all(g == 0.0)
            continue
        assert rel <= 1e-6, (name, rel)


def test_logit_gradients_sum_to_zero():
    rng = np.random.default_rng(3)
    mix = random_mixture(rng, (5,), 6, 3)
    x = mix.sample(100, seed=1)
    g = mix.vjp(x, rng.normal(size=x.shape))
    scale = np.abs(g.logits).max()
    np.testing.assert_allclose(g.logits.sum(axis=-1), 0.0, atol=1e-13 * scale)


@pytest.mark.parametrize(("batch", "n"), [((), 1000), ((50,), 3), ((3,), 1)])
def test_single_component_is_reparameterization_trick(batch, n):
    rng = np.random.default_rng(7)
    mix = random_mixture(rng, batch, 1, 4)
    x = mix.sample(n, seed=2)
    gbar = rng.normal(size=x.shape)
    g = mix.vjp(x, gbar)
    mu, sig = mix.means[..., 0, :], mix.scales[..., 0, :]
    z = (x - mu) / sig
    np.testing.assert_allclose(g.means[..., 0, :], gbar.sum(axis=0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(g.scales[..., 0, :], (gbar * z).sum(axis=0), rtol=1e-12, atol=1e-12)
    assert np.all(g.logits == 0.0)
    # per sample, jacobian: dx/dmu = 1, dx/dsigma = z
    jac = mix.jacobian(x[:5])
    eye = np.eye(4)
    np.testing.assert_allclose(jac.means[..., 0, :], np.broadcast_to(eye, jac.means[..., 0, :].shape), atol=1e-12)
    np.testing.assert_allclose(jac.scales[..., 0, :], z[:5][..., :, None] * eye, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("batch", "n"), [((), 7), ((2,), 3), ((33,), 2), ((4,), 1)])
def test_jvp_and_jacobian_agree_with_vjp(batch, n):
    rng = np.random.default_rng(11)
    mix = random_mixture(rng, batch, 4, 3)
    x = mix.sample(n, seed=5)
    gbar = rng.normal(size=x.shape)
    v = mix.vjp(x, gbar)
    t = mixgrad.MixtureGradient(
        rng.normal(size=mix.logits.shape), rng.normal(size=mix.means.shape), rng.normal(size=mix.scales.shape)
    )
    xdot = mix.jvp(x, t)
    assert xdot.shape == x.shape
    lhs = np.sum(gbar * xdot)
    rhs = sum(np.sum(a * b) for a, b in zip(v, t))
    assert abs(lhs - rhs) <= 1e-12 * (abs(lhs) + np.sum(np.abs(gbar * xdot)))
    # mapping tangents with a missing key
    xdot2 = mix.jvp(x, {"means": t.means})
    lhs2 = np.sum(gbar * xdot2)
    assert abs(lhs2 - np.sum(v.means * t.means)) <= 1e-12 * np.sum(np.abs(gbar * xdot2))
    # the jacobian contracted with gbar is the vjp
    J = mix.jacobian(x)
    nb = len(batch)
    ja = np.einsum("...d,...dk->...k", gbar, J.logits).sum(axis=0)
    jm = np.einsum("...d,...dke->...ke", gbar, J.means).sum(axis=0)
    np.testing.assert_allclose(ja, v.logits, rtol=1e-10, atol=1e-12 * np.abs(v.logits).max())
    np.testing.assert_allclose(jm, v.means, rtol=1e-10, atol=1e-12 * np.abs(v.means).max())
    assert J.scales.shape == (*x.shape, 4, 3)
    assert nb == len(mix.batch_shape)


def exact_moment_gradient(mix, c, e):
    """d/dparams of E[sum_d c_d x_d + e_d x_d^2] = sum_k w_k G_k,
    G_k = sum_d c_d mu_kd + e_d (mu_kd^2 + sigma_kd^2): closed form, independent of the kernels."""
    w = mix.weights
    mu, sig = mix.means, mix.scales
    G = (c * mu + e * (mu**2 + sig**2)).sum(axis=-1)
    g_logits = w * (G - np.sum(w * G, axis=-1, keepdims=True))
    g_means = w[..., None] * (c + 2 * e * mu)
    g_scales = w[..., None] * (2 * e * sig)
    return g_logits, g_means, g_scales


@pytest.mark.parametrize("batch", [(), (2,)])
def test_vjp_is_unbiased_for_quadratic_objective(batch):
    rng = np.random.default_rng(21)
    K, D = 3, 2
    mix = DiagGaussianMixture(
        rng.normal(size=(*batch, K)),
        rng.normal(scale=1.5, size=(*batch, K, D)),
        np.exp(rng.uniform(-0.5, 0.5, size=(*batch, K, D))),
    )
    c = rng.normal(size=D)
    e = rng.normal(size=D)
    n_blocks, per_block = 100, 10_000  # 10^6 samples per mixture
    sums = {"logits": [], "means": [], "scales": []}
    ss = np.random.SeedSequence(99)
    for child in ss.spawn(n_blocks):
        x = mix.sample(per_block, seed=child)
        g = mix.vjp(x, c + 2 * e * x)
        for name in sums:
            sums[name].append(getattr(g, name) / per_block)
    exact = dict(zip(("logits", "means", "scales"), exact_moment_gradient(mix, c, e)))
    for name, blocks in sums.items():
        b = np.stack(blocks)
        mean = b.mean(axis=0)
        se = b.std(axis=0, ddof=1) / np.sqrt(n_blocks)
        assert np.all(se > 0)
        z = np.abs(mean - exact[name]) / se
        assert np.all(z < 4.0), (name, z)


def test_float32_matches_float64():
    rng = np.random.default_rng(5)
    m64 = random_mixture(rng, (3,), 4, 3)
    m32 = DiagGaussianMixture(*(p.astype(np.float32) for p in (m64.logits, m64.means, m64.scales)))
    x64 = m64.sample(50, seed=3)
    x32 = m32.sample(50, seed=3)
    assert x32.dtype == np.float32
    np.testing.assert_allclose(x32, x64.astype(np.float32), rtol=1e-6, atol=1e-6)
    g32 = m32.vjp(x32, np.ones_like(x32))
    g64 = m64.vjp(x32.astype(np.float64), 1.0)
    for a, b in zip(g32, g64):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5 * np.abs(b).max())
    for f in ("log_prob", "cdf_transform"):
        r32, r64 = getattr(m32, f)(x32), getattr(m64, f)(x32.astype(np.float64))
        assert r32.dtype == np.float32
        np.testing.assert_allclose(r32, r64, rtol=1e-6, atol=1e-6)


def test_sample_and_vjp_matches_separate_calls():
    rng = np.random.default_rng(8)
    mix = random_mixture(rng, (), 3, 2)
    x, g = mix.sample_and_vjp(500, lambda x: 2 * x, seed=4)
    np.testing.assert_array_equal(x, mix.sample(500, seed=4))
    ref = mix.vjp(x, 2 * x)
    for a, b in zip(g, ref):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    ("batch", "K", "D", "n"), [((), 3, 5, 1000), ((2, 3), 4, 3, 7), ((40,), 5, 2, None), ((), 1, 65, 9)]
)
def test_fused_sample_and_vjp_matches_separate_calls(batch, K, D, n, dtype):
    # An array grad runs the fused C++ pass; it must give the same numbers as the two calls,
    # for both parameter layouts (one mixture shared by the lanes, one mixture per lane).
    rng = np.random.default_rng(9)
    mix = random_mixture(rng, batch, K, D, dtype)
    shape = ((n,) if n is not None else ()) + batch + (D,)
    gbar = rng.normal(size=shape).astype(dtype)
    for nt in (1, 2):
        x, g = mix.sample_and_vjp(n, gbar, seed=5, nthreads=nt)
        assert x.shape == shape
        assert x.dtype == dtype
        np.testing.assert_array_equal(x, mix.sample(n, seed=5, nthreads=nt))
        for a, b in zip(g, mix.vjp(x, gbar, nthreads=nt)):
            np.testing.assert_array_equal(a, b)
    # A broadcast upstream gradient (one value per coordinate) is accepted too.
    x, g = mix.sample_and_vjp(n, np.ones(D, dtype=dtype), seed=5)
    for a, b in zip(g, mix.vjp(x, np.ones_like(x))):
        np.testing.assert_array_equal(a, b)
