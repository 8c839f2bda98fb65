"""Variational inference with a Gaussian-mixture posterior (torch, needs ``mixgrad[torch]``).

Fit q = sum_k softmax(a)_k N(mu_k, diag sigma_k^2) to an unnormalized target log p by
maximizing the ELBO E_q[log p(x) - log q(x)] with reparameterized samples from
:class:`mixgrad.torch.DiagGaussianMixture` (implicit gradients reach the mixing logits too), and
compare its gradient variance with the score-function (REINFORCE) estimator of the same ELBO.
torch is imported when a function runs, not when this module is imported.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

__all__ = [
    "VIResult",
    "elbo_gradient_variance",
    "fit_mixture_vi",
    "recovered_modes",
    "ring_target",
]


def _torch():
    from ..torch._require import require_torch

    return require_torch()


def ring_target(n_modes: int = 8, radius: float = 4.0, scale: float = 0.4):
    """An equal-weight mixture of ``n_modes`` isotropic Gaussians on a circle (2-D).

    Parameters
    ----------
    n_modes : int
        Number of modes (>= 1).
    radius : float
        Radius of the circle of centers.
    scale : float
        Standard deviation of each mode.

    Returns
    -------
    log_prob : callable
        torch function mapping (..., 2) to the normalized log density (...,).
    centers : numpy.ndarray, shape (n_modes, 2)
        The mode centers.
    """
    if n_modes < 1 or radius < 0 or scale <= 0:
        raise ValueError(f"need n_modes >= 1, radius >= 0, scale > 0; got {n_modes}, {radius}, {scale}")
    torch = _torch()
    ang = 2 * np.pi * np.arange(n_modes) / n_modes
    centers = radius * np.stack([np.cos(ang), np.sin(ang)], axis=1)
    c64 = torch.tensor(centers)

    def log_prob(x):
        c = c64.to(x.dtype)
        d2 = ((x.unsqueeze(-2) - c) ** 2).sum(-1) / scale**2
        comp = -0.5 * d2 - 2 * math.log(scale) - math.log(2 * math.pi)
        return torch.logsumexp(comp, dim=-1) - math.log(n_modes)

    return log_prob, centers


@dataclass
class VIResult:
    """Fitted mixture parameters (numpy, float64) and the ELBO estimate per step."""

    logits: np.ndarray
    means: np.ndarray
    scales: np.ndarray
    elbo: list[float] = field(default_factory=list)

    @property
    def weights(self) -> np.ndarray:
        """softmax(logits)."""
        e = np.exp(self.logits - self.logits.max())
        return e / e.sum()


def _init(n_components, dim, init_radius, init_scale, seed, torch):
    g = torch.Generator().manual_seed(seed)
    a = torch.zeros(n_components, dtype=torch.float64)
    m = (2 * torch.rand(n_components, dim, generator=g, dtype=torch.float64) - 1) * init_radius
    log_s = torch.full((n_components, dim), math.log(init_scale), dtype=torch.float64)
    return [t.requires_grad_(True) for t in (a, m, log_s)]


def fit_mixture_vi(
    log_target: Callable,
    *,
    n_components: int = 16,
    dim: int = 2,
    steps: int = 2000,
    n_samples: int = 256,
    lr: float = 0.05,
    init_radius: float = 5.0,
    init_scale: float = 1.0,
    seed: int = 0,
    anneal_steps: int = 0,
    beta0: float = 0.1,
    stick_the_landing: bool = True,
    cosine_decay: bool = True,
    record_every: int = 1,
) -> VIResult:
    """Maximize the reparameterized ELBO of a diagonal Gaussian mixture q with Adam.

    Parameters
    ----------
    log_target : callable
        torch function (n, dim) -> (n,), the (unnormalized) target log density.
    n_components : int
        Number of mixture components K.
    dim : int
        Dimension D.
    steps : int
        Adam steps.
    n_samples : int
        Samples from q per step.
    lr : float
        Adam learning rate (on logits, means and log-scales).
    init_radius : float
        Initial means are uniform in [-init_radius, init_radius]^D; weights start equal.
    init_scale : float
        Initial component scales.
    seed : int
        Seeds the initialization and the sampling (torch generator).
    anneal_steps : int
        Over the first ``anneal_steps`` steps maximize E_q[beta log p - log q] with beta rising
        linearly from ``beta0`` to 1 (a flattened target first, so the components spread over
        all modes before they settle); 0 disables annealing.
    beta0 : float
        Initial inverse temperature of the annealing, in (0, 1].
    stick_the_landing : bool
        If True (default) evaluate log q(x) with the parameters detached, so only the path
        gradient through x flows (Roeder et al. 2017): the dropped score term has mean zero, so
        the gradient stays unbiased, and its variance vanishes as q approaches the target.
    cosine_decay : bool
        Decay the learning rate to 0 along a cosine over the ``steps`` steps.
    record_every : int
        Record the ELBO estimate every this many steps.

    Returns
    -------
    VIResult
    """
    if n_components < 1 or dim < 1 or steps < 0 or n_samples < 1 or lr <= 0:
        raise ValueError("n_components, dim, n_samples must be >= 1, steps >= 0 and lr > 0")
    if anneal_steps < 0 or not (0 < beta0 <= 1):
        raise ValueError(f"need anneal_steps >= 0 and 0 < beta0 <= 1, got {anneal_steps}, {beta0}")
    torch = _torch()
    from ..torch import DiagGaussianMixture

    a, m, log_s = _init(n_components, dim, init_radius, init_scale, seed, torch)
    opt = torch.optim.Adam([a, m, log_s], lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(steps, 1)) if cosine_decay else None
    gen = torch.Generator().manual_seed(seed + 1)
    history: list[float] = []
    for step in range(steps):
        q = DiagGaussianMixture(a, m, log_s.exp())
        x = q.rsample((n_samples,), generator=gen)
        log_p = log_target(x)
        if stick_the_landing:
            q_stop = DiagGaussianMixture(a.detach(), m.detach(), log_s.detach().exp())
            log_q = q_stop.log_prob(x)
        else:
            log_q = q.log_prob(x)
        beta = 1.0 if step >= anneal_steps else beta0 + (1 - beta0) * step / anneal_steps
        opt.zero_grad()
        (-(beta * log_p - log_q).mean()).backward()
        opt.step()
        if sched is not None:
            sched.step()
        if step % record_every == 0:
            history.append(float((log_p - log_q).detach().mean()))
    return VIResult(a.detach().numpy().copy(), m.detach().numpy().copy(), log_s.detach().exp().numpy().copy(), history)


def elbo_gradient_variance(
    log_target: Callable,
    logits: np.ndarray,
    means: np.ndarray,
    scales: np.ndarray,
    *,
    n_samples: int = 64,
    reps: int = 200,
    seed: int = 0,
) -> dict[str, dict[str, float]]:
    """Per-parameter variance of two ELBO gradient estimators at one q (logits, means,
    log-scales), each from a batch of ``n_samples`` samples, over ``reps`` repetitions.

    * ``reparam``: gradient of mean(log p(x) - log q(x)) with x = rsample (implicit gradients);
    * ``reparam_stl``: the same with log q evaluated at detached parameters (path gradient only,
      "sticking the landing"; what :func:`fit_mixture_vi` uses by default);
    * ``score``: mean((f(x) - mean f) * grad log q(x)) with f = log p - log q, x a plain sample
      (the score-function estimator with a batch-mean baseline) -- the estimator one must use
      for the mixing weights without implicit reparameterization.

    Returns
    -------
    dict
        ``{estimator: {"logits": v, "means": v, "log_scales": v, "all": v}}``, each v the mean
        over the parameters of the variance of the estimate.
    """
    torch = _torch()
    from ..torch import DiagGaussianMixture

    a = torch.tensor(logits, dtype=torch.float64, requires_grad=True)
    m = torch.tensor(means, dtype=torch.float64, requires_grad=True)
    log_s = torch.tensor(np.log(scales), dtype=torch.float64, requires_grad=True)
    params = (a, m, log_s)
    gen = torch.Generator().manual_seed(seed)
    out: dict[str, dict[str, float]] = {}
    for name in ("reparam", "reparam_stl", "score"):
        grads = []
        for _ in range(reps):
            q = DiagGaussianMixture(a, m, log_s.exp())
            if name.startswith("reparam"):
                x = q.rsample((n_samples,), generator=gen)
                if name == "reparam_stl":
                    q = DiagGaussianMixture(a.detach(), m.detach(), log_s.detach().exp())
                obj = (log_target(x) - q.log_prob(x)).mean()
            else:
                x = q.sample((n_samples,), generator=gen)
                lq = q.log_prob(x)
                f = (log_target(x) - lq).detach()
                obj = ((f - f.mean()) * lq).mean()
            g = torch.autograd.grad(obj, params)
            grads.append([t.detach().flatten() for t in g])
        parts = {}
        for i, pname in enumerate(("logits", "means", "log_scales")):
            parts[pname] = float(torch.stack([g[i] for g in grads]).var(0).mean())
        parts["all"] = float(torch.stack([torch.cat(g) for g in grads]).var(0).mean())
        out[name] = parts
    return out


def recovered_modes(
    result: VIResult, centers: np.ndarray, *, max_distance: float = 0.5, min_weight: float = 0.02
) -> np.ndarray:
    """Which target modes the fitted mixture recovered.

    A mode counts as recovered when at least one component mean lies within ``max_distance``
    of its center and the components within that distance carry a total weight of at least
    ``min_weight``.

    Returns
    -------
    numpy.ndarray of bool, one entry per mode.
    """
    d = np.linalg.norm(result.means[None, :, :] - np.asarray(centers)[:, None, :], axis=-1)
    near = d <= max_distance
    mass = (near * result.weights[None, :]).sum(axis=1)
    return near.any(axis=1) & (mass >= min_weight)
