"""GaussianMixture (full covariance, DESIGN.md 3.5): gradients against finite differences of the
quantile transform, the K = 1 reparameterization trick, agreement with DiagGaussianMixture for a
diagonal scale_tril, jvp/jacobian against vjp, unbiasedness against closed-form moment
gradients, log_prob against scipy, hard cases, thread-count bit-identity and bad inputs."""

import numpy as np
import pytest

import mixgrad
from mixgrad import DiagGaussianMixture, GaussianMixture


def random_tril(rng, shape, D, log_spread=0.5):
    """Lower-triangular factors with a positive diagonal, shape (*shape, D, D)."""
    t = np.tril(rng.normal(scale=0.6, size=(*shape, D, D)), -1)
    diag = np.exp(rng.uniform(-log_spread, log_spread, size=(*shape, D)))
    return t + diag[..., :, None] * np.eye(D)


def random_mixture(rng, batch, K, D, dtype=np.float64):
    logits = rng.normal(size=(*batch, K))
    means = rng.normal(scale=2.0, size=(*batch, K, D))
    tril = random_tril(rng, (*batch, K), D)
    return GaussianMixture(logits.astype(dtype), means.astype(dtype), tril.astype(dtype))


def fd_gradient(mix, u, gbar):
    """Central 4-point finite differences of sum(gbar * quantile(u)) with u fixed, for every
    parameter (the lower triangle of scale_tril only). A local index is perturbed in all mixtures
    of the batch at once; the loss is kept per mixture, so one quantile call serves the batch."""
    nb = len(mix.batch_shape)
    params = {"logits": mix.logits.copy(), "means": mix.means.copy(), "scale_tril": mix.scale_tril.copy()}
    diag = np.diagonal(params["scale_tril"], axis1=-2, axis2=-1)

    def loss(p):
        y = gbar * GaussianMixture(p["logits"], p["means"], p["scale_tril"]).quantile(u)
        return y.sum(axis=(*tuple(range(y.ndim - 1 - nb)), y.ndim - 1))

    out = {}
    for name, val in params.items():
        g = np.zeros_like(val)
        for idx in np.ndindex(*val.shape[nb:]):
            if name == "scale_tril" and idx[-1] > idx[-2]:
                continue
            sl = (Ellipsis, *idx)
            base = val[sl]
            if name == "logits":
                h = 1e-4 * np.ones_like(base)
            elif name == "means":
                h = 1e-4 * diag[(Ellipsis, *idx)]
            else:
                h = 1e-4 * diag[(Ellipsis, idx[0], idx[1])]
            vals = []
            for c in (-2, -1, 1, 2):
                p = {k: v.copy() for k, v in params.items()}
                p[name][sl] = base + c * h
                vals.append(loss(p))
            g[sl] = (vals[0] - 8 * vals[1] + 8 * vals[2] - vals[3]) / (12 * h)
        out[name] = g
    return out


def assert_rel(got, want, rtol, what="", floor=1e-300):
    """max |got - want| <= rtol * max(max |want|, floor)."""
    scale = max(np.abs(want).max(), floor)
    err = np.abs(got - want).max() / scale
    assert err <= rtol, f"{what}: relative error {err:.3g} > {rtol}"


@pytest.mark.parametrize(
    ("K", "D", "batch"),
    [(K, D, b) for K in (1, 2, 5) for D in (1, 2, 5, 12) for b in [(), (3,)] if not (D == 12 and b == (3,) and K == 5)],
)
def test_vjp_matches_finite_differences_of_quantile(K, D, batch):
    rng = np.random.default_rng(100 * K + D)
    mix = random_mixture(rng, batch, K, D)
    u = rng.uniform(0.02, 0.98, size=(3, *batch, D))
    gbar = rng.normal(size=u.shape)
    x = mix.quantile(u)
    v = mix.vjp(x, gbar)
    fd = fd_gradient(mix, u, gbar)
    # Relative to each block's largest entry, or to 1e-3 of the largest entry of the whole
    # gradient when a block is (nearly) zero (the logits of K = 1: exactly 0 against FD noise).
    overall = max(np.abs(g).max() for g in fd.values())
    for name in ("logits", "means", "scale_tril"):
        assert_rel(getattr(v, name), fd[name], 1e-6, name, floor=1e-3 * overall)
    assert np.all(np.triu(v.scale_tril, 1) == 0)
    np.testing.assert_allclose(v.logits.sum(axis=-1), 0.0, atol=1e-10 * max(1.0, np.abs(v.logits).max()))


@pytest.mark.parametrize("batch", [(), (4,), (2, 3)])
@pytest.mark.parametrize("D", [1, 3, 8])
def test_single_component_is_the_reparameterization_trick(batch, D):
    rng = np.random.default_rng(7 + D)
    mix = random_mixture(rng, batch, 1, D)
    x = mix.sample(50, seed=1)
    g = rng.normal(size=x.shape)
    v = mix.vjp(x, g)
    mu = mix.means[..., 0, :]
    L = mix.scale_tril[..., 0, :, :]
    eps = np.linalg.solve(L, (x - mu)[..., None])[..., 0]
    want_mu = g.sum(axis=0)
    want_L = np.tril(np.einsum("s...d,s...e->...de", g, eps))
    assert np.abs(v.means[..., 0, :] - want_mu).max() <= 1e-12 * max(1.0, np.abs(want_mu).max())
    assert np.abs(v.scale_tril[..., 0, :, :] - want_L).max() <= 1e-12 * max(1.0, np.abs(want_L).max())
    assert np.all(v.logits == 0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(("K", "D", "batch"), [(3, 4, ()), (2, 3, (5,)), (4, 2, (40,)), (1, 1, ())])
def test_diagonal_scale_tril_equals_diag_mixture(K, D, batch, dtype):
    rng = np.random.default_rng(K * D + len(batch))
    a = rng.normal(size=(*batch, K))
    if K > 2:
        a[..., 1] = -np.inf
    mu = rng.normal(scale=2, size=(*batch, K, D))
    s = np.exp(rng.uniform(-0.5, 0.5, size=(*batch, K, D)))
    diag = DiagGaussianMixture(a.astype(dtype), mu.astype(dtype), s.astype(dtype))
    full = GaussianMixture(a.astype(dtype), mu.astype(dtype), (s[..., :, None] * np.eye(D)).astype(dtype))
    tol = 1e-12 if dtype == np.float64 else 1e-6

    def close(got, want, what):
        want = np.asarray(want, dtype=np.float64)
        err = np.abs(np.asarray(got, dtype=np.float64) - want).max()
        assert err <= tol * max(1.0, np.abs(want).max()), f"{what}: {err}"

    x = diag.sample(23, seed=4)
    close(full.sample(23, seed=4), x, "sample")
    g = rng.normal(size=x.shape).astype(dtype)
    close(full.log_prob(x), diag.log_prob(x), "log_prob")
    close(full.cdf_transform(x), diag.cdf_transform(x), "cdf_transform")
    u = rng.uniform(size=x.shape).astype(dtype)
    close(full.quantile(u), diag.quantile(u), "quantile")
    vf, vd = full.vjp(x, g), diag.vjp(x, g)
    close(vf.logits, vd.logits, "vjp logits")
    close(vf.means, vd.means, "vjp means")
    close(np.diagonal(vf.scale_tril, axis1=-2, axis2=-1), vd.scales, "vjp scales")
    xs, vs = full.sample_and_vjp(23, g, seed=9)
    xd, vds = diag.sample_and_vjp(23, g, seed=9)
    close(xs, xd, "sample_and_vjp x")
    close(vs.means, vds.means, "sample_and_vjp means")
    t = {"logits": rng.normal(size=a.shape), "means": rng.normal(size=mu.shape), "scales": rng.normal(size=s.shape)}
    tf = {"logits": t["logits"], "means": t["means"], "scale_tril": t["scales"][..., :, None] * np.eye(D)}
    close(full.jvp(x, tf), diag.jvp(x, t), "jvp")
    other = DiagGaussianMixture(a.astype(dtype), (mu + 1).astype(dtype), s.astype(dtype))
    close(full.transport(x, other), diag.transport(x, other), "transport")


@pytest.mark.parametrize(("K", "D", "batch"), [(1, 3, ()), (3, 4, ()), (2, 3, (4,))])
def test_jvp_and_jacobian_agree_with_vjp(K, D, batch):
    rng = np.random.default_rng(31 + K)
    mix = random_mixture(rng, batch, K, D)
    x = mix.sample(4, seed=2)
    g = rng.normal(size=x.shape)
    v = mix.vjp(x, g)
    t = {"logits": rng.normal(size=v.logits.shape), "means": rng.normal(size=v.means.shape)}
    t["scale_tril"] = np.tril(rng.normal(size=v.scale_tril.shape))
    lhs = np.sum(g * mix.jvp(x, t))
    rhs = sum(np.sum(t[n] * getattr(v, n)) for n in ("logits", "means", "scale_tril"))
    assert abs(lhs - rhs) <= 1e-11 * max(1.0, abs(rhs))
    J = mix.jacobian(x)
    nb = len(batch)
    for name in ("logits", "means", "scale_tril"):
        jac = getattr(J, name)
        extra = jac.ndim - x.ndim
        via_jac = np.einsum(
            g,
            list(range(x.ndim)),
            jac,
            list(range(x.ndim + extra)),
            [*range(1, 1 + nb), *range(x.ndim, x.ndim + extra)],
        )
        np.testing.assert_allclose(via_jac, getattr(v, name), rtol=1e-10, atol=1e-12 * np.abs(getattr(v, name)).max())


def test_vjp_is_unbiased_for_the_moment_gradient():
    # g(x) = c.x + x^T A x: E[g] = sum_k w_k (c.mu_k + mu_k^T A mu_k + tr(A L_k L_k^T)), so
    # dE/da_k = w_k (G_k - E), dE/dmu_k = w_k (c + (A + A^T) mu_k), dE/dL_k = w_k tril((A + A^T) L_k).
    # 200 copies of one mixture as a batch, 5000 samples each (10^6 in all): each copy gives one
    # independent estimate; the mean of the 200 must be within 4 standard errors of the truth.
    rng = np.random.default_rng(5)
    K, D, M, S = 3, 3, 200, 5000
    a = np.array([0.3, -0.4, 0.1])
    mu = rng.normal(scale=1.5, size=(K, D))
    L = random_tril(rng, (K,), D)
    c = rng.normal(size=D)
    A = rng.normal(size=(D, D))
    mix = GaussianMixture(np.broadcast_to(a, (M, K)), np.broadcast_to(mu, (M, K, D)), np.broadcast_to(L, (M, K, D, D)))
    _, v = mix.sample_and_vjp(S, lambda x: c + x @ (A + A.T), seed=11)
    w = np.exp(a - a.max()) / np.exp(a - a.max()).sum()
    G = mu @ c + np.einsum("kd,de,ke->k", mu, A, mu) + np.einsum("de,kef,kdf->k", A, L, L)
    E = w @ G
    want = {
        "logits": w * (G - E),
        "means": w[:, None] * (c + mu @ (A + A.T)),
        "scale_tril": w[:, None, None] * np.tril(np.einsum("de,kef->kdf", A + A.T, L)),
    }
    for name, truth in want.items():
        est = getattr(v, name) / S  # (M, ...): per-copy means
        mean = est.mean(axis=0)
        se = est.std(axis=0, ddof=1) / np.sqrt(M)
        mask = se > 0
        z = np.abs(mean - truth)[mask] / se[mask]
        assert z.max() < 4.0, f"{name}: max |z| = {z.max():.2f}"
        assert np.all(mean[~mask] == truth[~mask])


def test_log_prob_against_scipy():
    st = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(3)
    for K, D in [(1, 1), (3, 2), (4, 6)]:
        mix = random_mixture(rng, (2,), K, D)
        x = mix.sample(7, seed=K) * 1.5
        w = mix.weights
        cov = mix.covariance()
        want = np.empty(x.shape[:-1])
        for b in range(2):
            dens = [
                np.log(w[b, k]) + st.multivariate_normal(mix.means[b, k], cov[b, k]).logpdf(x[:, b]).reshape(-1)
                for k in range(K)
            ]
            want[:, b] = np.logaddexp.reduce(np.stack(dens), axis=0)
        np.testing.assert_allclose(mix.log_prob(x), want, rtol=1e-12, atol=1e-12)


def roundtrip_checks(mix, us):
    x = mix.quantile(us)
    assert np.all(np.isfinite(x))
    u2 = mix.cdf_transform(x)
    # The smaller tail, relatively; plus what float64 can resolve: x_d is known to an ulp, which
    # moves u_d by up to phi/L_dd times that (1e-8 * ~0.4 where L_dd = 1e-8 and |x| ~ 1).
    small = np.minimum(us, 1 - us)
    small2 = np.minimum(u2, 1 - u2)
    min_scale = np.diagonal(mix.scale_tril, axis1=-2, axis2=-1).min(axis=-2)
    resolution = 0.4 * np.spacing(np.abs(x)) / min_scale
    assert np.all(np.abs(small2 - small) <= 1e-9 * small + 4e-16 + 4 * resolution)
    x2 = mix.quantile(u2)
    np.testing.assert_allclose(x2, x, rtol=1e-9, atol=1e-9 * np.abs(x).max())
    return x


def test_quantile_cdf_roundtrip_extreme_u():
    rng = np.random.default_rng(8)
    mix = random_mixture(rng, (), 3, 4)
    levels = np.array([1e-300, 1e-100, 1e-20, 1e-5, 0.3, 0.5, 0.7, 1 - 1e-9, 1 - 1e-16])
    us = np.stack([np.full(4, lv) for lv in levels] + [rng.permutation(np.resize(levels, 4)) for _ in range(8)])
    roundtrip_checks(mix, us)


@pytest.mark.parametrize("case", ["cond1e8", "rho0.999", "far", "D1", "D64"])
def test_hard_cases(case):
    rng = np.random.default_rng(12)
    if case == "cond1e8":
        K, D = 2, 3
        L = np.array([[1.0, 0, 0], [0.5, 1e-4, 0], [0.3, -0.2, 1e-8]])
        tril = np.stack([L, random_tril(rng, (), D)])
        mix = GaussianMixture(np.zeros(K), rng.normal(size=(K, D)), tril)
    elif case == "rho0.999":
        K, D = 2, 2
        C = np.array([[1.0, 0.999], [0.999, 1.0]])
        tril = np.stack([np.linalg.cholesky(C), np.linalg.cholesky(C * [[1, -1], [-1, 1]])])
        mix = GaussianMixture(np.array([0.2, -0.2]), np.array([[0.0, 0.0], [0.5, -0.5]]), tril)
    elif case == "far":
        K, D = 3, 3
        mix = GaussianMixture(
            np.array([0.0, -1.0, 1.0]), np.array([[-1e3] * 3, [0.0] * 3, [1e3] * 3]), random_tril(rng, (K,), D)
        )
    elif case == "D1":
        K, D = 4, 1
        mix = random_mixture(rng, (), K, D)
    else:
        K, D = 3, 64
        mix = GaussianMixture(rng.normal(size=K), rng.normal(size=(K, D)), random_tril(rng, (K,), D, 0.2) * 0.3)
    u = rng.uniform(0.01, 0.99, size=(6, D))
    x = roundtrip_checks(mix, u)
    g = rng.normal(size=x.shape)
    v = mix.vjp(x, g)
    for name in ("logits", "means", "scale_tril"):
        assert np.all(np.isfinite(getattr(v, name))), name
    # the directional derivative along a random direction against finite differences of the
    # quantile (u fixed): a single scalar, step relative to the parameters
    t = {
        "logits": rng.normal(size=K),
        "means": rng.normal(size=(K, D)),
        "scale_tril": np.tril(rng.normal(size=(K, D, D))),
    }
    t["means"] *= np.diagonal(mix.scale_tril, axis1=-2, axis2=-1)
    t["scale_tril"] *= np.abs(mix.scale_tril) + np.diagonal(mix.scale_tril, axis1=-2, axis2=-1)[..., :, None] * np.eye(
        D
    )
    h = 1e-5

    def q(c):
        return np.sum(
            g
            * GaussianMixture(
                mix.logits + c * h * t["logits"],
                mix.means + c * h * t["means"],
                mix.scale_tril + c * h * t["scale_tril"],
            ).quantile(u)
        )

    fd = (q(-2) - 8 * q(-1) + 8 * q(1) - q(2)) / (12 * h)
    lhs = sum(np.sum(t[n] * getattr(v, n)) for n in t)
    assert abs(lhs - fd) <= 1e-6 * max(abs(fd), np.abs(g).sum() * 1e-3), (lhs, fd)
    jv = np.sum(g * mix.jvp(x, t))
    assert abs(jv - lhs) <= 1e-9 * max(1.0, abs(lhs))


def test_minus_inf_logits_is_the_mixture_without_the_component():
    rng = np.random.default_rng(2)
    full = random_mixture(rng, (), 3, 4)
    logits = full.logits.copy()
    logits[1] = -np.inf
    m = GaussianMixture(logits, full.means, full.scale_tril)
    keep = [0, 2]
    r = GaussianMixture(full.logits[keep], full.means[keep], full.scale_tril[keep])
    x = r.sample(40, seed=0)
    g = rng.normal(size=x.shape)
    v, vr = m.vjp(x, g), r.vjp(x, g)
    assert np.all(np.isfinite(v.logits))
    assert v.logits[1] == 0
    np.testing.assert_allclose(v.logits[keep], vr.logits, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(v.scale_tril[keep], vr.scale_tril, rtol=1e-12, atol=1e-12)
    assert np.all(v.means[1] == 0)
    assert np.all(v.scale_tril[1] == 0)
    np.testing.assert_allclose(m.log_prob(x), r.log_prob(x), rtol=1e-13)
    np.testing.assert_array_equal(m.sample(30, seed=3)[:, :], m.sample(30, seed=3))


@pytest.mark.parametrize(("batch", "n"), [((), 1000), ((37,), 3)])
def test_bit_identical_for_any_thread_count(batch, n):
    rng = np.random.default_rng(4)
    mix = random_mixture(rng, batch, 4, 6)
    g = rng.normal(size=(n, *batch, 6))
    res = []
    for nt in (1, 2, 3):
        x, v = mix.sample_and_vjp(n, g, seed=7, nthreads=nt)
        u = rng.uniform(size=x.shape) if not res else res[0][5]
        res.append(
            (
                x,
                *v,
                mix.vjp(x, g, nthreads=nt).scale_tril,
                u,
                mix.quantile(u, nthreads=nt),
                mix.cdf_transform(x, nthreads=nt),
                mix.log_prob(x, nthreads=nt),
            )
        )
    for other in res[1:]:
        for a_, b_ in zip(res[0], other):
            assert np.array_equal(a_, b_)
    x, v = res[0][0], res[0][1:4]
    assert np.array_equal(mix.sample(n, seed=7), x)
    assert np.array_equal(mix.vjp(x, g).scale_tril, v[2])


def test_float32():
    rng = np.random.default_rng(6)
    m64 = random_mixture(rng, (), 3, 4)
    m32 = GaussianMixture(*(np.asarray(p, np.float32) for p in (m64.logits, m64.means, m64.scale_tril)))
    assert m32.dtype == np.float32
    x = m32.sample(100, seed=1)
    assert x.dtype == np.float32
    v = m32.vjp(x, np.ones_like(x))
    assert v.scale_tril.dtype == np.float32
    v64 = m64.vjp(x.astype(np.float64), np.ones(x.shape))
    np.testing.assert_allclose(v.scale_tril, v64.scale_tril, rtol=2e-4, atol=2e-4 * np.abs(v64.scale_tril).max())


def test_transport_between_full_mixtures():
    rng = np.random.default_rng(9)
    a = random_mixture(rng, (2,), 3, 3)
    b = random_mixture(rng, (2,), 2, 3)
    x = a.sample(20, seed=1)
    y = a.transport(x, b)
    np.testing.assert_allclose(b.cdf_transform(y), a.cdf_transform(x), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(a.transport(x, a), x, rtol=1e-10, atol=1e-10)


def test_bad_inputs():
    good = (np.zeros(2), np.zeros((2, 3)), np.broadcast_to(np.eye(3), (2, 3, 3)).copy())

    def make(**kw):
        a, m, t = good
        return GaussianMixture(kw.get("logits", a), kw.get("means", m), kw.get("scale_tril", t))

    upper = good[2].copy()
    upper[0, 0, 2] = 0.1
    with pytest.raises(ValueError, match=r"scale_tril.*lower triangular"):
        make(scale_tril=upper)
    for bad in (0.0, -1.0):
        t = good[2].copy()
        t[1, 2, 2] = bad
        with pytest.raises(ValueError, match="scale_tril"):
            make(scale_tril=t)
    for bad in (np.nan, np.inf):
        t = good[2].copy()
        t[1, 2, 0] = bad
        with pytest.raises(ValueError, match="scale_tril"):
            make(scale_tril=t)
    with pytest.raises(ValueError, match="scale_tril"):
        make(scale_tril=np.eye(3))
    with pytest.raises(ValueError, match="scale_tril"):
        make(scale_tril=np.zeros((2, 3, 3, 2)))
    with pytest.raises(ValueError, match="means"):
        make(means=np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="means"):
        make(means=np.full((2, 3), np.nan))
    with pytest.raises(ValueError, match="logits"):
        make(logits=np.zeros(3))
    with pytest.raises(ValueError, match="logits"):
        make(logits=np.array([np.nan, 0.0]))
    with pytest.raises(TypeError, match="scale_tril"):
        make(scale_tril=np.full((2, 3, 3), "a"))
    m = make()
    with pytest.raises(ValueError, match="x"):
        m.log_prob(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="grad_x"):
        m.vjp(np.zeros((4, 3)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="u"):
        m.quantile(np.full((1, 3), 1.5))
    with pytest.raises(ValueError, match=r"tangents\.scale_tril"):
        m.jvp(np.zeros((1, 3)), {"scale_tril": np.zeros((2, 3))})
    with pytest.raises(ValueError, match="tangents"):
        m.jvp(np.zeros((1, 3)), {"scales": np.zeros((2, 3))})
    with pytest.raises(TypeError, match="to"):
        m.transport(np.zeros((1, 3)), object())
    with pytest.raises(ValueError, match="to"):
        m.transport(np.zeros((1, 3)), GaussianMixture(np.zeros(1), np.zeros((1, 2)), np.eye(2)[None]))
    with pytest.raises(TypeError, match="n"):
        m.sample(1.5)
    assert "GaussianMixture" in repr(m)
    assert mixgrad.GaussianMixture is GaussianMixture


def test_far_tail_gradient_against_finite_differences_of_transport():
    # x_0 ten scales out: u_0 rounds to 1, so quantile(u) cannot serve as the reference, but
    # transport(x, to) = F_to^{-1}(F_self(x)) goes through log tails and its derivative in the
    # target's parameters at to = self is the implicit gradient (DESIGN.md 3.4). The gradients
    # are large (~4e4) and correct: x_2 sits far in its conditional's tail.
    rng = np.random.default_rng(0)
    K, D = 3, 3
    tril = np.tril(0.3 * rng.normal(size=(K, D, D)), -1) + np.eye(D)
    a, mu = rng.normal(size=K), rng.normal(size=(K, D))
    m = GaussianMixture(a, mu, tril)
    x = np.array([[10.0, 0.2, 0.3]])
    # The round trip is as well conditioned as the problem: rounding in the log tails, times
    # sensitivities of x_2 to x_1 and u of order 1e4 here, leaves ~1e-11.
    np.testing.assert_allclose(m.transport(x, m), x, rtol=0, atol=1e-10)
    v = m.vjp(x, np.ones((1, D)))
    h = 1e-7
    fd = np.empty(K)
    for k in range(K):
        e = np.zeros(K)
        e[k] = h
        up = m.transport(x, GaussianMixture(a + e, mu, tril)).sum()
        down = m.transport(x, GaussianMixture(a - e, mu, tril)).sum()
        fd[k] = (up - down) / (2 * h)
    assert_rel(v.logits, fd, 1e-4, "logits")
