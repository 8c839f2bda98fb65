"""mixgrad.jax native path (pure JAX): equals the C++ core and the mpmath reference, and every JAX
transformation (jit, vmap, grad, jvp, jacfwd, jacrev, hessian, linearize) applies and agrees
with finite differences of the core's quantile at fixed u."""

import functools

import numpy as np
import pytest

jax = pytest.importorskip("jax")
mj = pytest.importorskip("mixgrad.jax")
import jax.numpy as jnp  # noqa: E402

import mixgrad  # noqa: E402
import mixture_reference as ref  # noqa: E402
from mixgrad.jax import diag_native as dn  # noqa: E402


@pytest.fixture
def x64():
    old = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    yield
    jax.config.update("jax_enable_x64", old)


@pytest.fixture
def x32():
    old = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", False)
    yield
    jax.config.update("jax_enable_x64", old)


def _params(batch, K, D, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(*batch, K)).astype(dtype)
    m = (2 * rng.normal(size=(*batch, K, D))).astype(dtype)
    s = (0.5 + rng.random(size=(*batch, K, D))).astype(dtype)
    return a, m, s


def _native_vjp(a, m, s, x, g):
    """Gradient of sum(g * x) with T(x) held fixed, by jax.vjp of the native sample map at x
    (the private map on flattened batches: logits (B, K), means (B, K, D), x (N, B, D))."""
    batch = np.broadcast_shapes(np.shape(a)[:-1], np.shape(m)[:-2], np.shape(s)[:-2])
    K, D = np.shape(m)[-2:]
    B = int(np.prod(batch))
    a, m, s = (
        jnp.broadcast_to(jnp.asarray(t), (*batch, *tail)).reshape(B, *tail)
        for t, tail in ((a, (K,)), (m, (K, D)), (s, (K, D)))
    )
    x = jnp.asarray(x).reshape(-1, B, D)
    _, pull = jax.vjp(lambda a, m, s: dn._reparameterized(a, m, s, x), a, m, s)
    ga, gm, gs = pull(jnp.asarray(g).reshape(x.shape))
    return ga.reshape(*batch, K), gm.reshape(*batch, K, D), gs.reshape(*batch, K, D)


def _close(got, want, rtol, scale=None):
    """|got - want| <= rtol * (|want| or the given scale), elementwise; infinities equal."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape
    fin = np.isfinite(want)
    assert np.array_equal(got[~fin], want[~fin])
    bound = rtol * (np.abs(want[fin]) if scale is None else scale)
    err = np.abs(got[fin] - want[fin])
    assert np.all(err <= bound), f"worst {np.max(err / np.maximum(bound, 1e-300)):.3g} x tolerance"


# One shape for most cases, so that the compiled programs are shared (compiles dominate).
CASES = {
    "batch": ((2, 3), 4, 3, {}),
    "K=1": ((2, 3), 1, 3, {}),
    "-inf logit": ((2, 3), 4, 3, {"dead": 1}),
    "broadcast means": ((2, 3), 4, 3, {"shared_means": True}),
}


def _case(name, dtype=np.float64):
    batch, K, D, opt = CASES[name]
    a, m, s = _params(batch, K, D, dtype, seed=len(name))
    if "dead" in opt:
        a[..., opt["dead"]] = -np.inf
    if opt.get("shared_means"):
        m = m[0]  # (K, D), broadcast against the batch of logits
    return a, m, s


@pytest.mark.parametrize("name", list(CASES))
def test_float64_equals_the_core(x64, name):
    a, m, s = _case(name)
    mix = mixgrad.DiagGaussianMixture(a, np.broadcast_to(m, s.shape), s)
    x = mix.sample(6, seed=3)
    u = mix.cdf_transform(x)
    g = np.random.default_rng(1).normal(size=x.shape)
    _close(mj.log_prob(a, m, s, x), mix.log_prob(x), 1e-12)
    # u relative in its smaller tail (u near 1 is stored as 1 - S)
    _close(mj.cdf_transform(a, m, s, x), u, 1e-12, scale=np.minimum(u, 1 - u).ravel())
    _close(mj.quantile(a, m, s, u), mix.quantile(u), 1e-12, scale=1e-12 + np.abs(mix.quantile(u)).ravel())
    got = _native_vjp(a, m, s, x, g)
    want = mix.vjp(x, g)
    for gv, wv in zip(got, want):
        _close(gv, wv, 1e-12, scale=np.abs(wv).max())


@pytest.mark.parametrize("name", ["batch", "-inf logit"])
def test_float32_equals_the_core(x32, name):
    # Without x64 the native path computes in float32; the core computes float32 inputs in double.
    a, m, s = _case(name, np.float32)
    mix = mixgrad.DiagGaussianMixture(a, m, s)
    x = mix.sample(6, seed=4)
    u = mix.cdf_transform(x)
    lp = mj.log_prob(a, m, s, x)
    assert lp.dtype == jnp.float32
    _close(lp, mix.log_prob(x), 1e-5, scale=1.0 + np.abs(mix.log_prob(x)).ravel())
    _close(mj.cdf_transform(a, m, s, x), u, 1e-5, scale=np.minimum(u, 1 - u).ravel())
    xq = mix.quantile(u)
    _close(mj.quantile(a, m, s, u), xq, 1e-5, scale=1.0 + np.abs(xq).ravel())
    g = np.random.default_rng(2).normal(size=x.shape).astype(np.float32)
    got = _native_vjp(a, m, s, x, g)
    for gv, wv in zip(got, mix.vjp(x, g)):
        _close(gv, wv, 1e-5, scale=np.abs(wv).max())


def test_float32_with_x64_is_computed_in_float64(x64):
    a, m, s = _case("batch", np.float32)
    mix = mixgrad.DiagGaussianMixture(a, m, s)
    u = np.random.default_rng(5).uniform(size=(6, 2, 3, 3)).astype(np.float32)
    x = mj.quantile(a, m, s, u)
    assert x.dtype == jnp.float32
    want = mix.quantile(u)
    _close(x, want, 2 * np.finfo(np.float32).eps, scale=1.0 + np.abs(want).ravel())


# --- far components and far tails, against the core and the mpmath reference -------------------


def _pair(sep, D=1):
    means = np.zeros((2, D))
    means[0] -= sep / 2
    means[1] += sep / 2
    return np.zeros(2), means, np.ones((2, D))


@pytest.mark.parametrize("sep", [38.0, 60.0, 100.0])
def test_cdf_transform_across_far_components(x64, sep):
    a, m, s = _pair(sep)
    xs = np.linspace(-1.2 * sep, 1.2 * sep, 25)[:, None]
    got = np.asarray(mj.cdf_transform(a, m, s, xs))[:, 0]
    want = np.array([ref.cdf_transform(a, m, s, x)[0] for x in xs])
    assert got[12] == 0.5
    _close(got, want, 1e-13, scale=np.minimum(want, 1 - want) + 2e-16 / 1e-13)
    core = mixgrad.DiagGaussianMixture(a, m, s).cdf_transform(xs)[:, 0]
    _close(got, core, 1e-12, scale=np.minimum(core, 1 - core) + 1e-300)


@pytest.mark.parametrize("sep", [38.0, 100.0])
def test_vjp_far_from_every_component(x64, sep):
    # The second coordinate where the first makes one component dominant and the point lies far
    # from it (the conditional density underflows), and between the components.
    a = np.log([0.4, 0.6])
    m = np.array([[0.0, 0.0], [sep, sep]])
    s = np.array([[1.0, 1.5], [0.8, 1.0]])
    mix = mixgrad.DiagGaussianMixture(a, m, s)
    g = np.array([0.7, -1.3])
    for x in ([sep, 0.0], [0.0, sep], [sep / 2, 0.0], [sep / 2, sep / 3], [1.0, -3.0]):
        x = np.array(x)
        got = _native_vjp(a, m, s, x[None], g[None])
        core = mix.vjp(x[None], g[None])
        exact = ref.vjp(a, m, s, x, g)
        for gv, cv, wv in zip(got, core, exact):
            assert not np.isnan(np.asarray(gv)).any(), x
            fin = np.isfinite(wv)
            _close(np.asarray(gv)[fin], wv[fin], 1e-9, scale=max(1.0, np.abs(wv[fin]).max(initial=0.0)))
            _close(gv, cv, 1e-12, scale=np.abs(cv[np.isfinite(cv)]).max(initial=1.0))


@pytest.mark.parametrize("K", [1, 2])
@pytest.mark.parametrize("far", [1e8, -1e9, 1e12])
def test_far_earlier_coordinate_leaves_later_ones_exact(x64, K, far):
    a, m, s = np.zeros(K), np.zeros((K, 2)), np.ones((K, 2))
    x = np.array([[far, 0.5]])
    u = np.asarray(mj.cdf_transform(a, m, s, x))[0]
    assert u[0] == (1.0 if far > 0 else 0.0)
    np.testing.assert_allclose(u[1], 0.6914624612740131, rtol=1e-15)
    ga, gm, gs = _native_vjp(a, m, s, x, np.array([[0.0, 1.0]]))
    np.testing.assert_allclose(np.asarray(gm)[:, 1].sum(), 1.0, rtol=1e-14)
    np.testing.assert_allclose(np.asarray(gs)[:, 1].sum(), 0.5, rtol=1e-14)
    assert np.all(np.isfinite(np.asarray(ga)))


_TAILS = np.array([1e-300, 1e-30, 0.5, 1 - 1e-12])


def test_quantile_in_the_far_tails_against_the_reference(x64):
    a, m, s = np.log([0.3, 0.7]), np.array([[-20.0, 0.0], [20.0, 1.0]]), np.array([[1.5, 1.0], [0.7, 2.0]])
    uu = np.stack([_TAILS, 1 - _TAILS], axis=1)
    x = np.asarray(mj.quantile(a, m, s, uu))
    np.testing.assert_allclose(x, mixgrad.DiagGaussianMixture(a, m, s).quantile(uu), rtol=1e-12)
    for xi, u in zip(x, _TAILS):
        back = ref.cdf_transform(a, m, s, xi)
        np.testing.assert_allclose(back[0], u, rtol=1e-12)
        assert abs(back[1] - (1 - u)) <= 1e-12 * min(u, 1 - u) + 1e-16


def test_edges_of_quantile_and_nan(x64):
    a, m, s = np.log([0.3, 0.7]), np.array([[-2.0, 0.0], [2.0, 1.0]]), np.array([[1.5, 1.0], [0.7, 2.0]])
    x = np.asarray(mj.quantile(a, m, s, np.array([[0.0, 0.3], [1.0, 0.3], [np.nan, 0.3], [1.5, 0.3]])))
    assert x[0, 0] == -np.inf
    assert x[1, 0] == np.inf
    assert np.isnan(x[2:]).all()
    assert np.isnan(np.asarray(mj.log_prob(a, m, s, np.array([[np.nan, 0.0]])))).all()


# --- transformations ------------------------------------------------------------------------

_A, _M, _S = _params((), 2, 2, seed=7)
_W = np.array([[0.3, -1.1], [0.8, 0.5], [-0.4, 1.7]])


def _loss_of_x(x):
    return jnp.sum(_W * x) + 0.25 * jnp.sum(x * x)


def _loss(theta, method="quantile"):
    a, m, s = theta[:2], theta[2:6].reshape(2, 2), theta[6:].reshape(2, 2)
    return _loss_of_x(mj.rsample(a, m, s, 11, (3,), method=method, backend="native"))


_THETA = np.concatenate([_A, _M.ravel(), _S.ravel()])


def _fd_loss(theta, u):
    a, m, s = theta[:2], theta[2:6].reshape(2, 2), theta[6:].reshape(2, 2)
    x = mixgrad.DiagGaussianMixture(a, m, s).quantile(u)
    return float(np.sum(_W * x) + 0.25 * np.sum(x * x))


def test_hessian_and_jacfwd_match_finite_differences_of_the_core_quantile(x64):
    key_u = jax.random.uniform(jax.random.key(11), (3, 1, 2), jnp.float64, minval=np.finfo(np.float64).tiny)
    u = np.asarray(key_u)[:, 0, :]  # the uniforms rsample(method="quantile") draws for this key
    theta = jnp.asarray(_THETA)
    np.testing.assert_allclose(_fd_loss(_THETA, u), float(_loss(theta)), rtol=1e-13)
    n, h1, h2 = _THETA.size, 1e-6, 1e-4
    eye = np.eye(n)
    grad_fd = np.array([(_fd_loss(_THETA + h1 * e, u) - _fd_loss(_THETA - h1 * e, u)) / (2 * h1) for e in eye])
    hess_fd = np.empty((n, n))
    for i in range(n):
        for j in range(i, n):
            ei, ej = h2 * eye[i], h2 * eye[j]
            v = _fd_loss(_THETA + ei + ej, u) - _fd_loss(_THETA + ei - ej, u)
            v -= _fd_loss(_THETA - ei + ej, u) - _fd_loss(_THETA - ei - ej, u)
            hess_fd[i, j] = hess_fd[j, i] = v / (4 * h2 * h2)
    jac = np.asarray(jax.jacfwd(_loss)(theta))
    hess = np.asarray(jax.hessian(_loss)(theta))
    _close(jac, grad_fd, 1e-6, scale=np.abs(grad_fd).max())
    _close(hess, hess_fd, 1e-6, scale=np.abs(hess_fd).max())
    np.testing.assert_allclose(hess, hess.T, rtol=0, atol=1e-12 * np.abs(hess).max())


def test_transformations_agree(x64):
    theta = jnp.asarray(_THETA)
    g = jax.grad(_loss)(theta)
    _, jv = jax.jvp(_loss, (theta,), (jnp.ones_like(theta),))
    np.testing.assert_allclose(float(jv), float(jnp.sum(g)), rtol=1e-12)
    _, lin = jax.linearize(_loss, theta)
    np.testing.assert_allclose(float(lin(jnp.ones_like(theta))), float(jnp.sum(g)), rtol=1e-12)
    # grad of grad (reverse over reverse) and forward over reverse give one Hessian
    hrr = jax.jacrev(jax.grad(_loss))(theta)
    np.testing.assert_allclose(np.asarray(hrr), np.asarray(jax.hessian(_loss)(theta)), rtol=1e-10, atol=1e-12)
    # jit(vmap(grad)) over a batch of parameter vectors equals the per-vector gradients
    batched = jax.jit(jax.vmap(jax.grad(_loss)))(jnp.stack([theta, theta * 1.01]))
    np.testing.assert_allclose(np.asarray(batched[0]), np.asarray(g), rtol=1e-12)


def test_exact_method_under_forward_and_second_order_transformations(x64):
    loss = functools.partial(_loss, method="exact")
    theta = jnp.asarray(_THETA)
    g = jax.jit(jax.grad(loss))(theta)
    _, jv = jax.jvp(loss, (theta,), (jnp.ones_like(theta),))
    np.testing.assert_allclose(float(jv), float(jnp.sum(g)), rtol=1e-12)
    h = np.asarray(jax.jit(jax.hessian(loss))(theta))
    np.testing.assert_allclose(h, h.T, rtol=0, atol=1e-12 * np.abs(h).max())
    assert np.all(np.isfinite(h))


def test_exact_method_gives_the_implicit_gradient_not_the_naive_one(x64):
    # With the sample fixed, the gradient of the exact method equals the core's vjp there.
    a, m, s = _params((), 3, 2, seed=9)
    key = jax.random.key(2)
    x, pull = jax.vjp(lambda a, m, s: mj.rsample(a, m, s, key, (40,), backend="native"), a, m, s)
    g = np.random.default_rng(0).normal(size=x.shape)
    want = mixgrad.DiagGaussianMixture(a, m, s).vjp(np.asarray(x), g)
    for gv, wv in zip(pull(jnp.asarray(g)), want):
        _close(gv, wv, 1e-12, scale=np.abs(wv).max())
    assert np.abs(want.logits).max() > 0.1  # the naive reparameterization gives the logits 0


@pytest.mark.parametrize("method", ["exact", "quantile"])
def test_one_component_is_the_reparameterization_trick(x64, method):
    a, m, s = _params((2,), 1, 3, seed=4)
    key = jax.random.key(5)

    def f(m, s):
        return mj.rsample(a, m, s, key, (4,), method=method, backend="native")

    x = f(m, s)
    z = (np.asarray(x) - m[:, 0]) / s[:, 0]  # (4, 2, 3)
    dm = np.random.default_rng(1).normal(size=m.shape)
    ds = np.random.default_rng(2).normal(size=s.shape)
    _, dx = jax.jvp(f, (m, s), (dm, ds))
    np.testing.assert_allclose(np.asarray(dx), dm[:, 0] + z * ds[:, 0], rtol=1e-12, atol=1e-14)


def test_exact_samples_have_the_mixture_mean(x64):
    a, m, s = _params((), 3, 2, seed=12)
    n = 20000
    x = np.asarray(mj.rsample(a, m, s, jax.random.key(0), (n,), backend="native"))
    mix = mixgrad.DiagGaussianMixture(a, m, s)
    w = mix.weights
    var = np.einsum("k,kd->d", w, s**2 + m**2) - mix.mean() ** 2
    se = np.sqrt(var / n)
    assert np.all(np.abs(x.mean(0) - mix.mean()) <= 4.5 * se)  # 4.5 standard errors


def test_seeds_and_backends(x64):
    a, m, s = _params((), 2, 2)
    x1 = mj.rsample(a, m, s, 3, (2,), backend="native")
    x2 = mj.rsample(a, m, s, jax.random.key(3), (2,), backend="native")
    np.testing.assert_array_equal(np.asarray(x1), np.asarray(x2))
    assert mj.default_backend() == ("core" if jax.default_backend() == "cpu" else "native")
    with pytest.raises(TypeError, match="forward-mode"):  # the core path is reverse mode only
        jax.jvp(lambda m: mj.rsample(a, m, s, 3, backend="core"), (m,), (m,))
    with pytest.raises(ValueError, match="backend"):
        mj.rsample(a, m, s, 3, backend="gpu")
    with pytest.raises(TypeError, match="seed"):
        mj.rsample(a, m, s, 1.5, backend="native")
    with pytest.raises(ValueError, match="x must have shape"):
        mj.log_prob(a, m, s, np.zeros((4, 3)))
    with pytest.raises(TypeError, match="u must be a float"):
        mj.quantile(a, m, s, np.zeros((4, 2), np.int32))
    with pytest.raises(ValueError, match="scales"):
        mj.rsample(a, m, -s, 3, backend="native")
