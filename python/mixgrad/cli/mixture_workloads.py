"""The Gaussian-mixture workloads of DESIGN.md section 7 (sample + gradient of sum(g * x) with
respect to all parameters), for mixgrad and, when installed, its peers (Pyro
MixtureOfDiagNormals; TensorFlow Probability MixtureSameFamily(reparameterize=True) on JAX).

    W1: one mixture, K=8, D=16, N=100,000 samples
    W2: a batch of M=16,384 mixtures (a mixture density network), K=10, D=8, one sample each
    W3: one mixture, K=64, D=32, N=10,000 samples

:func:`workloads` and :func:`peer_workloads` return zero-argument callables that run one
workload once (setup excluded), for ``mixgrad bench`` and benchmarks/compare_mixture_peers.py.
"""

from __future__ import annotations

import importlib.util
from typing import Callable

import numpy as np

__all__ = ["SPECS", "make_inputs", "n_samples", "peer_workload", "peer_workloads", "workloads"]

# name -> (M mixtures or None for a single mixture, K, D, N samples per mixture or None for one)
SPECS: dict[str, tuple[int | None, int, int, int | None]] = {
    "W1": (None, 8, 16, 100_000),
    "W2": (16_384, 10, 8, None),
    "W3": (None, 64, 32, 10_000),
}


def make_inputs(name: str, dtype=np.float64, seed: int = 0, scale: float = 1.0):
    """Parameters and upstream gradient of a workload, as the peer scripts draw them:
    means ~ N(0, 1), scales ~ 0.5 + U(0, 1), logits ~ N(0, 1), g ~ N(0, 1).

    ``scale`` < 1 shrinks N (or M) for quick runs. Returns (logits, means, scales, g).
    """
    M, K, D, N = SPECS[name]
    if M is not None:
        M = max(1, int(M * scale))
    if N is not None:
        N = max(1, int(N * scale))
    rng = np.random.default_rng(seed)
    batch = () if M is None else (M,)
    means = rng.standard_normal((*batch, K, D)).astype(dtype)
    scales = (0.5 + rng.uniform(size=(*batch, K, D))).astype(dtype)
    logits = rng.standard_normal((*batch, K)).astype(dtype)
    g = rng.standard_normal(((N,) if N is not None else ()) + batch + (D,)).astype(dtype)
    return logits, means, scales, g


def n_samples(name: str, scale: float = 1.0) -> int | None:
    """Samples per mixture of workload ``name`` shrunk by ``scale`` (None: one sample each, W2)."""
    N = SPECS[name][3]
    return None if N is None else max(1, int(N * scale))


def workloads(nthreads: int | None = None, dtype=np.float64, scale: float = 1.0) -> dict[str, Callable[[], object]]:
    """name -> callable running mixgrad's sample + vjp for that workload once."""
    from ..mixture import DiagGaussianMixture

    out: dict[str, Callable[[], object]] = {}
    for name in SPECS:
        logits, means, scales, g = make_inputs(name, dtype, scale=scale)
        mix = DiagGaussianMixture(logits, means, scales)
        n = n_samples(name, scale)

        def run(mix=mix, g=g, n=n):
            return mix.sample_and_vjp(n, g, seed=1, nthreads=nthreads)[1]

        out[name] = run
    return out


def _have(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _pyro(name: str, scale: float, dtype=np.float64, device: str = "cpu") -> Callable[[], object] | None:
    if not (_have("torch") and _have("pyro")):
        return None
    import torch
    from pyro.distributions import MixtureOfDiagNormals

    logits, means, scales, g = make_inputs(name, dtype, scale=scale)
    locs_t = torch.tensor(means, device=device, requires_grad=True)
    scales_t = torch.tensor(scales, device=device, requires_grad=True)
    logits_t = torch.tensor(logits, device=device, requires_grad=True)
    g_t = torch.tensor(g, device=device)
    n = n_samples(name, scale)
    if means.shape[-1] == 1:
        return None  # Pyro's MixtureOfDiagNormals does not support D = 1

    def run():
        d = MixtureOfDiagNormals(locs_t, scales_t, logits_t)
        x = d.rsample((n,)) if n is not None else d.rsample()
        (x * g_t).sum().backward()
        if device != "cpu":
            torch.cuda.synchronize()
        return locs_t.grad

    return run


def _tfp(name: str, scale: float, dtype=np.float64) -> Callable[[], object] | None:
    if not (_have("jax") and _have("tensorflow_probability")):
        return None
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    import tensorflow_probability.substrates.jax as tfp

    tfd = tfp.distributions
    logits, means, scales, g = make_inputs(name, dtype, scale=scale)
    n = n_samples(name, scale)
    params = (jnp.asarray(means), jnp.asarray(scales), jnp.asarray(logits))
    gj = jnp.asarray(g)

    def loss(p, key):
        loc, sc, lg = p
        d = tfd.MixtureSameFamily(
            tfd.Categorical(logits=lg), tfd.Independent(tfd.Normal(loc, sc), 1), reparameterize=True
        )
        x = d.sample(n, seed=key) if n is not None else d.sample(seed=key)
        return jnp.sum(x * gj)

    f = jax.jit(jax.grad(loss))
    counter = [0]

    def run():
        counter[0] += 1
        out = f(params, jax.random.PRNGKey(counter[0]))
        jax.block_until_ready(out)
        return out

    return run


def peer_workloads(scale: float = 1.0, dtype=np.float64) -> dict[str, dict[str, Callable[[], object] | None]]:
    """name -> {"pyro": callable or None, "tfp": callable or None} (None: not installed).

    The TFP callables are jit-compiled on their first call; time them after one warm-up call.
    """
    return {name: {peer: peer_workload(name, peer, scale, dtype) for peer in ("pyro", "tfp")} for name in SPECS}


def peer_workload(name: str, peer: str, scale: float = 1.0, dtype=np.float64, device: str = "cpu"):
    """One peer's callable for workload ``name`` (None: not installed).

    Parameters
    ----------
    name : {"W1", "W2", "W3"}
    peer : {"pyro", "tfp"}
        Pyro's MixtureOfDiagNormals (torch tensors on ``device``) or TFP-on-JAX
        MixtureSameFamily(reparameterize=True) (JAX's default device).
    scale : float
        Shrinks N (or M) for quick runs.
    dtype : numpy dtype
        float32 or float64.
    device : str
        Torch device of the Pyro inputs.

    Returns
    -------
    callable or None
    """
    if peer == "pyro":
        return _pyro(name, scale, dtype, device)
    if peer == "tfp":
        return _tfp(name, scale, dtype)
    raise ValueError(f"peer must be 'pyro' or 'tfp', got {peer!r}")
