"""REBAR speed workloads for `mixgrad bench`, the asv suite and benchmarks/compare_rebar_torch.py.

Each workload computes per-sample REBAR gradient estimates (logistic noise, lambda = 0.5,
eta = 1) of f(b) = mean_d (b_d - 0.45)^2 at alpha = 0, float64 -- the workload of the
vectorized PyTorch REBAR in DESIGN.md section 7: B samples of a D-dimensional Bernoulli, one
estimate per (sample, coordinate).
"""

from __future__ import annotations

import importlib.util
from typing import Callable

import numpy as np

# name -> (B, D): B independent samples of D coordinates
SHAPES: dict[str, tuple[int, int]] = {"rebar B=1e6 D=1": (10**6, 1), "rebar B=1e4 D=200": (10**4, 200)}
TARGET, TEMPERATURE, ETA = 0.45, 0.5, 1.0


def mixgrad_rebar(B: int, D: int, nthreads: int | None = None, keep_samples: bool = True) -> Callable[[], object]:
    """A callable computing B x D per-sample estimates with mixgrad."""
    from .. import Bernoulli, Quadratic, rebar

    dist, obj = Bernoulli(np.zeros(D)), Quadratic(TARGET)
    counter = iter(range(10**9))
    return lambda: rebar(
        obj, dist, B, next(counter), temperature=TEMPERATURE, eta=ETA, keep_samples=keep_samples, nthreads=nthreads
    )


def torch_rebar(B: int, D: int, nthreads: int | None = None) -> Callable[[], object] | None:
    """The same estimates with a vectorized PyTorch REBAR (autograd through the relaxations),
    or None when torch is not installed."""
    if importlib.util.find_spec("torch") is None:
        return None
    import torch

    if nthreads:
        torch.set_num_threads(nthreads)
    dt = torch.float64
    alpha0 = torch.zeros(D, dtype=dt)

    def f(x):
        return ((x - TARGET) ** 2).mean(-1)

    def run():
        alpha = alpha0.expand(B, D).clone().requires_grad_()
        theta = torch.sigmoid(alpha)
        u = torch.rand(B, D, dtype=dt)
        v = torch.rand(B, D, dtype=dt)
        z = alpha + torch.log(u) - torch.log1p(-u)
        b = (z > 0).to(dt)
        u_cond = torch.where(b > 0, (1 - theta) + v * theta, v * (1 - theta))
        z_tilde = alpha + torch.log(u_cond) - torch.log1p(-u_cond)
        log_p = (b * torch.log(theta) + (1 - b) * torch.log1p(-theta)).sum(-1)
        f_b = f(b)
        f_z = f(torch.sigmoid(z / TEMPERATURE))
        f_zt = f(torch.sigmoid(z_tilde / TEMPERATURE))
        surrogate = (f_b - ETA * f_zt).detach() * log_p + ETA * f_z - ETA * f_zt
        (g,) = torch.autograd.grad(surrogate.sum(), alpha)
        return g

    return run


DISARM_SHAPES: dict[str, tuple[int, int]] = {"disarm B=1e6 D=1": (10**6, 1), "disarm B=1e4 D=200": (10**4, 200)}


def mixgrad_disarm(B: int, D: int, nthreads: int | None = None, keep_samples: bool = True) -> Callable[[], object]:
    """A callable computing B x D per-pair DisARM estimates of the REBAR workload's f with mixgrad."""
    from .. import Bernoulli, Quadratic, disarm

    dist, obj = Bernoulli(np.zeros(D)), Quadratic(TARGET)
    counter = iter(range(10**9))
    return lambda: disarm(obj, dist, B, next(counter), keep_samples=keep_samples, nthreads=nthreads)


def torch_disarm(B: int, D: int, nthreads: int | None = None) -> Callable[[], object] | None:
    """The same estimates with a vectorized PyTorch DisARM (one antithetic pair per row, no
    autograd: the estimator needs none), or None when torch is not installed."""
    if importlib.util.find_spec("torch") is None:
        return None
    import torch

    if nthreads:
        torch.set_num_threads(nthreads)
    dt = torch.float64
    alpha = torch.zeros(D, dtype=dt)

    def f(x):
        return ((x - TARGET) ** 2).mean(-1)

    def run():
        theta = torch.sigmoid(alpha)
        u = torch.rand(B, D, dtype=dt)
        b = (u < theta).to(dt)
        bt = (1.0 - u < theta).to(dt)
        w = 0.5 * (f(b) - f(bt))
        return w[:, None] * (b - bt) * torch.sigmoid(alpha.abs())

    return run


def workloads(nthreads: int | None = None) -> dict[str, Callable[[], object]]:
    """name -> zero-argument callable running the mixgrad workload (samples kept, as the peer)."""
    out = {name: mixgrad_rebar(B, D, nthreads) for name, (B, D) in SHAPES.items()}
    out["rebar categorical B=1e5 K=8 S=16 (keep_samples=False)"] = _categorical(nthreads)
    return out


def peer_workloads(nthreads: int | None = None) -> dict[str, Callable[[], object] | None]:
    """name -> the PyTorch callable for the same workload, or None (torch missing / no peer)."""
    out: dict[str, Callable[[], object] | None] = {name: torch_rebar(B, D, nthreads) for name, (B, D) in SHAPES.items()}
    out["rebar categorical B=1e5 K=8 S=16 (keep_samples=False)"] = None
    return out


def estimates_per_call(name: str) -> int:
    """Per-coordinate estimates computed by one call of workload ``name``."""
    if name in SHAPES:
        B, D = SHAPES[name]
        return B * D
    return 10**5 * 8 * 16


def _categorical(nthreads):
    from .. import Categorical, GMMComponentLikelihood, rebar

    rng = np.random.default_rng(0)
    B, K = 10**5, 8
    x = rng.normal(size=(B, 2))
    obj = GMMComponentLikelihood(x, rng.normal(size=(K, 2)), np.ones((K, 2)))
    dist = Categorical(rng.normal(size=(B, K)))
    return lambda: rebar(obj, dist, 16, 0, keep_samples=False, nthreads=nthreads)
