"""mixgrad.numpyro.DiagGaussianMixture in NumPyro programs: shapes, errors, pytree/jit, log_prob
against numpy, ELBO gradients against finite differences, SVI on a bimodal posterior against a
score-function MixtureSameFamily guide."""

import runpy
from pathlib import Path

import numpy as np
import pytest

jax = pytest.importorskip("jax")
numpyro = pytest.importorskip("numpyro")
mn = pytest.importorskip("mixgrad.numpyro")

import jax.numpy as jnp  # noqa: E402
import numpyro.distributions as dist  # noqa: E402
from numpyro.infer import Trace_ELBO  # noqa: E402

import ppl_bimodal  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "svi_numpyro_mixture.py"


@pytest.fixture
def x64():
    old = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    yield
    jax.config.update("jax_enable_x64", old)


def _params(batch=(), K=3, D=2, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((*batch, K)).astype(dtype)
    means = rng.standard_normal((*batch, K, D)).astype(dtype)
    scales = (0.5 + rng.uniform(size=(*batch, K, D))).astype(dtype)
    return logits, means, scales


def test_shapes_and_reparameterized(x64):
    a, m, s = _params(batch=(4,))
    d = mn.DiagGaussianMixture(a[:1], m, s[0])
    assert d.batch_shape == (4,)
    assert d.event_shape == (2,)
    assert d.has_rsample
    x = d.sample(jax.random.PRNGKey(0), (3,))
    assert x.shape == (3, 4, 2)
    assert x.dtype == jnp.float64
    assert d.rsample(jax.random.key(1), (2,)).shape == (2, 4, 2)
    assert d.log_prob(x).shape == (3, 4)
    assert mn.DiagGaussianMixture.infer_shapes((5, 1, 3), (4, 3, 2), (3, 2)) == ((5, 4), (2,))


def test_float32():
    d = mn.DiagGaussianMixture(*(jnp.asarray(t) for t in _params(dtype=np.float32)))
    x = d.sample(jax.random.PRNGKey(0), (5,))
    assert x.dtype == jnp.float32
    assert d.log_prob(x).dtype == jnp.float32


def test_errors_name_the_argument(x64):
    a, m, s = _params()
    with pytest.raises(TypeError, match="one dtype"):
        mn.DiagGaussianMixture(a.astype(np.float32), m, s)
    with pytest.raises(ValueError, match="scales"):
        mn.DiagGaussianMixture(a, m, s[:, :1])
    with pytest.raises(ValueError, match="logits"):
        mn.DiagGaussianMixture(a[:2], m, s)
    with pytest.raises(ValueError, match="method"):
        mn.DiagGaussianMixture(a, m, s, method="nope")
    with pytest.raises(ValueError, match="scales"):
        mn.DiagGaussianMixture(a, m, -s, validate_args=True)


def test_log_prob_matches_numpy_and_mean_variance(x64):
    a, m, s = _params()
    d = mn.DiagGaussianMixture(a, m, s)
    x = np.random.default_rng(1).standard_normal((50, 2))
    w = np.exp(a - np.logaddexp.reduce(a))
    np.testing.assert_allclose(d.log_prob(x), ppl_bimodal.mixture_log_density(x, w, m, s), rtol=1e-13)
    np.testing.assert_allclose(d.mean, (w[:, None] * m).sum(0), rtol=1e-13)
    second = (w[:, None] * (s**2 + m**2)).sum(0)
    np.testing.assert_allclose(d.variance, second - (w[:, None] * m).sum(0) ** 2, rtol=1e-12)


def test_pytree_round_trip_under_jit(x64):
    d = mn.DiagGaussianMixture(*_params(batch=(2,)), method="quantile")
    leaves, tree = jax.tree_util.tree_flatten(d)
    assert len(leaves) == 3
    back = jax.tree_util.tree_unflatten(tree, leaves)
    assert type(back) is mn.DiagGaussianMixture
    assert back.method == "quantile"
    assert back.batch_shape == (2,)
    x = jax.jit(lambda dd, k: dd.sample(k, (3,)))(d, jax.random.PRNGKey(2))
    np.testing.assert_allclose(x, d.sample(jax.random.PRNGKey(2), (3,)), rtol=1e-15)


def test_plates_and_vectorized_particles_shapes(x64):
    a, m, s = _params()

    def guide():
        with numpyro.plate("outer", 5, dim=-2), numpyro.plate("inner", 3, dim=-1):
            return numpyro.sample("z", mn.DiagGaussianMixture(a, m, s))

    def draw(key):
        return numpyro.handlers.seed(guide, key)()

    z = jax.vmap(draw)(jax.random.split(jax.random.PRNGKey(0), 7))
    assert z.shape == (7, 5, 3, 2)
    assert not np.allclose(z[0], z[1])  # each particle has its own draw


def _model():
    prior = dist.MixtureSameFamily(
        dist.Categorical(logits=jnp.log(jnp.asarray(ppl_bimodal.PRIOR_WEIGHTS))),
        dist.Normal(jnp.asarray(ppl_bimodal.PRIOR_MEANS), ppl_bimodal.PRIOR_SCALE).to_event(1),
    )
    z = numpyro.sample("z", prior)
    numpyro.sample("y", dist.Normal(z, ppl_bimodal.NOISE_SCALE).to_event(1), obs=jnp.asarray(ppl_bimodal.Y))


def _guide():
    logits = numpyro.param("logits", jnp.zeros(2))
    means = numpyro.param("means", jnp.zeros((2, 2)))
    scales = numpyro.param("scales", jnp.ones((2, 2)))
    numpyro.sample("z", mn.DiagGaussianMixture(logits, means, scales, method="quantile"))


def test_elbo_gradient_matches_finite_differences(x64):
    """With method="quantile" and a fixed key the vectorized-particle ELBO is a smooth function of
    the guide parameters; jax.grad through the samples must equal its central differences."""
    a, m, s = _params(K=2, D=2, seed=3)
    params = {"logits": jnp.asarray(a), "means": jnp.asarray(m), "scales": jnp.asarray(s)}
    elbo = Trace_ELBO(num_particles=6, vectorize_particles=True)

    @jax.jit
    def loss(p):
        return elbo.loss(jax.random.PRNGKey(5), p, _model, _guide)

    grads = jax.grad(loss)(params)
    h = 1e-6
    for name, value in params.items():
        flat = np.asarray(value).ravel()
        for j in range(flat.size):
            up, dn = flat.copy(), flat.copy()
            up[j] += h
            dn[j] -= h
            fd = (loss({**params, name: up.reshape(value.shape)}) - loss({**params, name: dn.reshape(value.shape)})) / (
                2 * h
            )
            g = float(np.asarray(grads[name]).ravel()[j])
            assert abs(g - float(fd)) <= 1e-6 * max(1.0, abs(float(fd))), (name, j, g, fd)
        assert np.abs(np.asarray(grads[name])).sum() > 0


def test_svi_finds_both_modes_and_beats_score_function_mixture_guide(x64):
    """NumPyro SVI, same model, optimizer, steps, particles and initial guide, three seeds: the
    mixgrad guide (pathwise gradients, Trace_ELBO) against NumPyro's MixtureSameFamily guide,
    which has no rsample (score-function gradients, TraceGraph_ELBO). Each mixgrad guide finds both
    posterior components; the mean over seeds of its KL(q || exact posterior) is at most the
    score-function guide's plus 3 standard errors of the difference of the Monte-Carlo KL means
    (training is deterministic for fixed seeds; the standard error is the KL estimate's)."""
    kl_mine, kl_score = [], []
    for seed in range(3):
        weights, means, scales = ppl_bimodal.train_numpyro(seed)
        assert ppl_bimodal.modes_found(weights, means), (seed, weights, means)
        kl_mine.append(ppl_bimodal.kl_to_posterior(weights, means, scales, seed=seed))
        kl_score.append(ppl_bimodal.kl_to_posterior(*ppl_bimodal.train_numpyro(seed, guide_kind="score"), seed=seed))
    mine, score = np.array(kl_mine), np.array(kl_score)
    se = np.sqrt((mine[:, 1] ** 2).sum() + (score[:, 1] ** 2).sum()) / 3
    assert mine[:, 0].mean() <= score[:, 0].mean() + 3 * se, (kl_mine, kl_score)
    assert mine[:, 0].max() < 0.01


@pytest.mark.slow  # one more SVI run; the same model as the comparison test
def test_docs_example_runs_and_finds_both_modes(x64):
    ns = runpy.run_path(str(EXAMPLE))
    weights, means, _ = ns["fit"](steps=ppl_bimodal.STEPS)
    assert ppl_bimodal.modes_found(weights, means), (weights, means)
