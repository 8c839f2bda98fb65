"""REBAR speed workloads for `mixgrad bench`, the asv suite and benchmarks/compare_rebar_torch.py.

Each workload computes per-sample REBAR gradient estimates (lambda = 0.5, eta = 1) of
f(b) = mean_d (b_d - 0.45)^2 at alpha = 0, float64 -- the workload of the vectorized PyTorch
REBAR in DESIGN.md section 7: B samples of a D-dimensional Bernoulli, one estimate per (sample,
coordinate). Three noise variants (VARIANTS): logistic noise with fresh conditional noise (the
fast path of the C++ core when 1/lambda is 1 or 2), Gaussian (probit) noise, and logistic noise
with coupled conditional noise (the general path); each has a vectorized PyTorch peer.
"""

from __future__ import annotations

import importlib.util
from typing import Callable

import numpy as np

# name -> (B, D): B independent samples of D coordinates
SHAPES: dict[str, tuple[int, int]] = {"rebar B=1e6 D=1": (10**6, 1), "rebar B=1e4 D=200": (10**4, 200)}
TARGET, TEMPERATURE, ETA = 0.45, 0.5, 1.0
# variant -> (Bernoulli noise, coupling)
VARIANTS: dict[str, tuple[str, str]] = {
    "logistic": ("logistic", "independent"),
    "probit": ("gaussian", "independent"),
    "coupled": ("logistic", "coupled"),
}


def mixgrad_rebar(
    B: int, D: int, nthreads: int | None = None, keep_samples: bool = True, variant: str = "logistic"
) -> Callable[[], object]:
    """A callable computing B x D per-sample estimates with mixgrad (``variant``: a key of VARIANTS)."""
    from .. import Bernoulli, Quadratic, rebar

    noise, coupling = VARIANTS[variant]
    dist, obj = Bernoulli(np.zeros(D), noise=noise), Quadratic(TARGET)
    counter = iter(range(10**9))
    return lambda: rebar(
        obj,
        dist,
        B,
        next(counter),
        temperature=TEMPERATURE,
        eta=ETA,
        coupling=coupling,
        keep_samples=keep_samples,
        nthreads=nthreads,
    )


def torch_rebar(B: int, D: int, nthreads: int | None = None, variant: str = "logistic") -> Callable[[], object] | None:
    """The same estimates with a vectorized PyTorch REBAR (autograd through the relaxations),
    or None when torch is not installed.

    The conditional sample z~ is drawn as DESIGN.md section 4.1 states it: through u' (logistic
    noise; coupled: v recovered from u and held fixed, so that z~ = z in value) or through the
    truncated normal quantile ndtri(v Phi(-+alpha)) (probit noise)."""
    if importlib.util.find_spec("torch") is None:
        return None
    import torch

    if nthreads:
        torch.set_num_threads(nthreads)
    noise, coupling = VARIANTS[variant]
    dt = torch.float64
    alpha0 = torch.zeros(D, dtype=dt)

    def f(x):
        return ((x - TARGET) ** 2).mean(-1)

    def logistic_noise(alpha):
        theta = torch.sigmoid(alpha)
        u = torch.rand(B, D, dtype=dt)
        z = alpha + torch.log(u) - torch.log1p(-u)
        b = (z > 0).to(dt)
        if coupling == "coupled":
            th = theta.detach()
            v = torch.where(b > 0, (u - (1 - th)) / th, u / (1 - th))
        else:
            v = torch.rand(B, D, dtype=dt)
        u_cond = torch.where(b > 0, (1 - theta) + v * theta, v * (1 - theta))
        z_tilde = alpha + torch.log(u_cond) - torch.log1p(-u_cond)
        log_p = b * torch.log(theta) + (1 - b) * torch.log1p(-theta)
        return z, b, z_tilde, log_p

    def probit_noise(alpha):
        z = alpha + torch.randn(B, D, dtype=dt)
        b = (z >= 0).to(dt)
        v = torch.rand(B, D, dtype=dt)
        ndtri, ndtr = torch.special.ndtri, torch.special.ndtr
        z_tilde = torch.where(b > 0, alpha - ndtri(v * ndtr(alpha)), alpha + ndtri(v * ndtr(-alpha)))
        log_p = b * torch.special.log_ndtr(alpha) + (1 - b) * torch.special.log_ndtr(-alpha)
        return z, b, z_tilde, log_p

    draw = probit_noise if noise == "gaussian" else logistic_noise

    def run():
        alpha = alpha0.expand(B, D).clone().requires_grad_()
        z, b, z_tilde, log_p = draw(alpha)
        f_b = f(b)
        f_z = f(torch.sigmoid(z / TEMPERATURE))
        f_zt = f(torch.sigmoid(z_tilde / TEMPERATURE))
        surrogate = (f_b - ETA * f_zt).detach() * log_p.sum(-1) + ETA * f_z - ETA * f_zt
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
