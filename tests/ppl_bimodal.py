"""A 2-D model whose exact posterior is a known two-component Gaussian mixture, for the Pyro and
NumPyro SVI tests, and a Monte-Carlo KL(q || posterior) computed in numpy (independent of mixgrad).

Model: z ~ sum_c pi_c N(m_c, s0^2 I) (a mixture prior), y | z ~ N(z, sigma^2 I). Conditioning
the Gaussian likelihood on each prior component gives the posterior in closed form:
component c has variance v = 1 / (1/s0^2 + 1/sigma^2), mean v (m_c/s0^2 + y/sigma^2) and weight
proportional to pi_c N(y; m_c, (s0^2 + sigma^2) I).
"""

from __future__ import annotations

import math

import numpy as np

PRIOR_WEIGHTS = np.array([0.35, 0.65])
PRIOR_MEANS = np.array([[-1.5, -1.5], [1.5, 1.5]])
PRIOR_SCALE = 1.0
NOISE_SCALE = 1.0
Y = np.array([0.5, -0.5])

# guide schedule shared by every framework: Adam with an exponentially decaying learning rate
STEPS = 300
PARTICLES = 8
LR = 0.05
LR_DECAY = 0.99  # per step
BETAS = (0.9, 0.99)  # a short memory of the second moment: the early gradients are 30x the late ones
KL_SAMPLES = 100_000


def posterior():
    """(weights (2,), means (2, 2), scales (2, 2)) of the exact posterior."""
    v = 1.0 / (1.0 / PRIOR_SCALE**2 + 1.0 / NOISE_SCALE**2)
    means = v * (PRIOR_MEANS / PRIOR_SCALE**2 + Y / NOISE_SCALE**2)
    marginal_var = PRIOR_SCALE**2 + NOISE_SCALE**2
    log_w = np.log(PRIOR_WEIGHTS) + _log_normal(Y, PRIOR_MEANS, math.sqrt(marginal_var)).sum(-1)
    w = np.exp(log_w - np.logaddexp.reduce(log_w))
    return w, means, np.full_like(means, math.sqrt(v))


def _log_normal(x, mean, scale):
    z = (x - mean) / scale
    return -0.5 * z * z - np.log(scale) - 0.5 * math.log(2 * math.pi)


def mixture_log_density(x, weights, means, scales):
    """log sum_k w_k N(x; m_k, diag(s_k^2)) for x of shape (n, D)."""
    comp = _log_normal(x[:, None, :], means, scales).sum(-1) + np.log(weights)
    return np.logaddexp.reduce(comp, axis=-1)


def kl_to_posterior(weights, means, scales, seed=0, n=KL_SAMPLES):
    """Monte-Carlo KL(q || posterior) for the guide q = (weights, means, scales), drawn in numpy.

    Returns (estimate, standard error)."""
    weights, means, scales = (np.asarray(t, dtype=np.float64) for t in (weights, means, scales))
    rng = np.random.default_rng(seed)
    k = rng.choice(len(weights), size=n, p=weights / weights.sum())
    x = means[k] + scales[k] * rng.standard_normal((n, means.shape[-1]))
    diff = mixture_log_density(x, weights, means, scales) - mixture_log_density(x, *posterior())
    return float(diff.mean()), float(diff.std(ddof=1) / math.sqrt(n))


def initial_guide(seed):
    """Guide parameters (logits (2,), means (2, 2), scales (2, 2)) to start from: one component
    on each side of the origin, jittered by the seed."""
    rng = np.random.default_rng(seed)
    means = np.array([[-1.5, -1.5], [1.5, 1.5]]) + 0.3 * rng.standard_normal((2, 2))
    return np.zeros(2), means, np.ones((2, 2))


def modes_found(weights, means, max_distance=0.25, max_weight_error=0.05):
    """True when each posterior component has a guide component within ``max_distance`` whose
    weight is within ``max_weight_error`` of the posterior weight (posterior sd 0.71, modes 2.1
    apart: they overlap enough for pathwise gradients to move the weights)."""
    w_true, m_true, _ = posterior()
    weights, means = np.asarray(weights), np.asarray(means)
    for wt, mt in zip(w_true, m_true):
        d = np.linalg.norm(means - mt, axis=-1)
        k = int(np.argmin(d))
        if d[k] > max_distance or abs(weights[k] - wt) > max_weight_error:
            return False
    return True


def train_pyro(make_guide_dist, seed, steps=STEPS):
    """SVI on the model with a two-component guide built by ``make_guide_dist(logits, means,
    scales)`` (Pyro, float64). Returns the guide's (weights, means, scales) as numpy arrays."""
    import pyro
    import pyro.distributions as dist
    import torch
    from pyro.infer import SVI, Trace_ELBO
    from pyro.optim import ClippedAdam

    pyro.clear_param_store()
    torch.manual_seed(seed)
    a0, m0, s0 = (torch.tensor(t) for t in initial_guide(seed))
    y = torch.tensor(Y)
    prior = dist.MixtureOfDiagNormals(
        torch.tensor(PRIOR_MEANS),
        torch.full((2, 2), PRIOR_SCALE, dtype=torch.float64),
        torch.tensor(np.log(PRIOR_WEIGHTS)),
    )

    def model():
        z = pyro.sample("z", prior)
        pyro.sample("y", dist.Normal(z, NOISE_SCALE).to_event(1), obs=y)

    def guide():
        logits = pyro.param("logits", a0)
        means = pyro.param("means", m0)
        scales = pyro.param("scales", s0, constraint=dist.constraints.positive)
        pyro.sample("z", make_guide_dist(logits, means, scales))

    svi = SVI(
        model,
        guide,
        ClippedAdam({"lr": LR, "lrd": LR_DECAY, "betas": BETAS}),
        Trace_ELBO(PARTICLES, vectorize_particles=True),
    )
    with pyro.validation_enabled(False):  # the checks cost more than the tiny model here
        for _ in range(steps):
            svi.step()
    with torch.no_grad():
        w = torch.softmax(pyro.param("logits"), -1)
        return w.numpy().copy(), pyro.param("means").numpy().copy(), pyro.param("scales").numpy().copy()


def train_numpyro(seed, steps=STEPS, guide_kind="mixgrad"):
    """The same SVI in NumPyro (float64: call with ``jax_enable_x64`` on). ``guide_kind``:
    ``"mixgrad"`` (a :class:`mixgrad.numpyro.DiagGaussianMixture` guide, pathwise gradients,
    ``Trace_ELBO``) or ``"score"`` (NumPyro's ``MixtureSameFamily``, which has no rsample:
    score-function gradients with ``TraceGraph_ELBO``). Returns (weights, means, scales)."""
    import jax
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist
    from numpyro.infer import SVI, Trace_ELBO, TraceGraph_ELBO

    import mixgrad.numpyro

    def mixture_guide(logits, means, scales):
        if guide_kind == "mixgrad":
            return mixgrad.numpyro.DiagGaussianMixture(logits, means, scales)
        return dist.MixtureSameFamily(dist.Categorical(logits=logits), dist.Normal(means, scales).to_event(1))

    a0, m0, s0 = (jnp.asarray(t) for t in initial_guide(seed))
    prior = dist.MixtureSameFamily(
        dist.Categorical(logits=jnp.log(jnp.asarray(PRIOR_WEIGHTS))),
        dist.Normal(jnp.asarray(PRIOR_MEANS), PRIOR_SCALE).to_event(1),
    )

    def model():
        z = numpyro.sample("z", prior)
        numpyro.sample("y", dist.Normal(z, NOISE_SCALE).to_event(1), obs=jnp.asarray(Y))

    def guide():
        logits = numpyro.param("logits", a0)
        means = numpyro.param("means", m0)
        scales = numpyro.param("scales", s0, constraint=dist.constraints.positive)
        numpyro.sample("z", mixture_guide(logits, means, scales))

    elbo = (Trace_ELBO if guide_kind == "mixgrad" else TraceGraph_ELBO)(PARTICLES, vectorize_particles=True)
    optim = numpyro.optim.Adam(lambda i: LR * LR_DECAY**i, b1=BETAS[0], b2=BETAS[1])
    svi = SVI(model, guide, optim, elbo)
    result = svi.run(jax.random.PRNGKey(seed), steps, progress_bar=False)
    p = result.params
    return tuple(np.asarray(t) for t in (jax.nn.softmax(p["logits"]), p["means"], p["scales"]))
