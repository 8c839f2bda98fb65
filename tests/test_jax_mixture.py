"""mixgrad.jax.rsample: equals the numpy API, works under jit/grad/vmap, finite differences."""

import numpy as np
import pytest

jax = pytest.importorskip("jax")
mj = pytest.importorskip("mixgrad.jax")
import jax.numpy as jnp  # noqa: E402
from jax.test_util import check_grads  # noqa: E402

import mixgrad  # noqa: E402


@pytest.fixture
def x64():
    old = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    yield
    jax.config.update("jax_enable_x64", old)


def _params(batch, K, D, dtype, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(*batch, K)).astype(dtype)
    m = (2 * rng.normal(size=(*batch, K, D))).astype(dtype)
    s = (0.5 + rng.random(size=(*batch, K, D))).astype(dtype)
    return a, m, s


def _reference(a, m, s, n, seed, method):
    ref = mixgrad.DiagGaussianMixture(a, m, s)
    if method == "exact":
        return ref, ref.sample(n, seed=seed)
    u = mixgrad.random.uniform(((n,) if n else ()) + ref.batch_shape + ref.event_shape, seed)
    return ref, ref.quantile(u.astype(ref.dtype))


@pytest.mark.parametrize("method", ["exact", "quantile"])
def test_matches_numpy_float32(method):
    a, m, s = _params((2,), 3, 2, np.float32)
    x = mj.rsample(a, m, s, 17, (5,), method=method)
    _ref, xr = _reference(a, m, s, 5, 17, method)
    assert x.dtype == jnp.float32
    assert x.shape == (5, 2, 2)
    np.testing.assert_array_equal(np.asarray(x), xr)


@pytest.mark.parametrize("method", ["exact", "quantile"])
def test_matches_numpy_float64_jit_and_grad(x64, method):
    a, m, s = _params((3,), 4, 3, np.float64)
    w = np.linspace(-1, 1, 2 * 3 * 3).reshape(2, 3, 3)
    seed = 2**40 + 5  # needs both seed words
    ref, xr = _reference(a, m, s, 2, seed, method)
    x = mj.rsample(a, m, s, seed, (2,), method=method)
    np.testing.assert_array_equal(np.asarray(x), xr)

    @jax.jit
    def loss(a, m, s, words):
        return jnp.sum(w * mj.rsample(a, m, s, words, (2,), method=method))

    words = mj.seed_words(seed)
    assert float(loss(a, m, s, words)) == pytest.approx(float(np.sum(w * xr)), rel=1e-14)
    ga, gm, gs = jax.grad(loss, argnums=(0, 1, 2))(a, m, s, words)
    gr = ref.vjp(xr, w)
    np.testing.assert_allclose(np.asarray(ga), gr.logits, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(np.asarray(gm), gr.means, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(np.asarray(gs), gr.scales, rtol=1e-13, atol=1e-13)


def test_finite_differences_quantile_path(x64):
    a, m, s = _params((), 3, 2, np.float64, seed=3)

    def f(a, m, s):
        return mj.rsample(a, m, s, 9, (4,), method="quantile")

    check_grads(
        f, (jnp.asarray(a), jnp.asarray(m), jnp.asarray(s)), order=1, modes=("rev",), eps=1e-6, atol=1e-6, rtol=1e-6
    )


def test_vmap_keys_and_broadcasting():
    a, m, s = _params((), 2, 2, np.float32)
    seeds = jnp.asarray([[1, 0], [2, 0], [3, 0]], dtype=jnp.uint32)
    xs = jax.vmap(lambda k: mj.rsample(a, m, s, k, (4,)))(seeds)
    assert xs.shape == (3, 4, 2)
    for i in range(3):
        np.testing.assert_array_equal(np.asarray(xs[i]), mixgrad.DiagGaussianMixture(a, m, s).sample(4, seed=i + 1))
    k = jax.random.key(0)
    assert mj.rsample(a, m, s, k).shape == (2,)
    np.testing.assert_array_equal(np.asarray(mj.rsample(a, m, s, k)), np.asarray(mj.rsample(a, m, s, k)))
    xb = mj.rsample(a, np.broadcast_to(m, (5, 2, 2)), s, 1, (3,))
    assert xb.shape == (3, 5, 2)


def test_errors():
    a, m, s = _params((), 2, 2, np.float32)
    with pytest.raises(TypeError, match="dtype"):
        mj.rsample(a.astype(np.float16), m, s, 0)
    with pytest.raises(ValueError, match="shapes"):
        mj.rsample(a[:1], m, s, 0)
    with pytest.raises(TypeError, match="seed"):
        mj.rsample(a, m, s, jnp.zeros(3))
    with pytest.raises(ValueError, match="seed"):
        mj.rsample(a, m, s, -1)
    with pytest.raises(ValueError, match="method"):
        mj.rsample(a, m, s, 0, method="inverse")
