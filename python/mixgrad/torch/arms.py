"""ARMS (Dimitriev & Zhou 2021) for Bernoulli logits as a torch surrogate loss (DESIGN.md 4.4)."""

from __future__ import annotations

from typing import Callable

from ._discrete import DiscreteEstimator, EstimatorOutput, evaluate, per_event, surrogate_from
from ._require import require_torch
from .noise import uniform

require_torch()  # a clear ImportError naming the extra when torch is missing
import torch  # noqa: E402

__all__ = ["Arms"]

_MAX_DRAWS = 4096  # as the C++ core


def check_n_draws(n_draws: int) -> int:
    """Validate the number of mutually antithetic draws per group (an int in [2, 4096])."""
    if isinstance(n_draws, bool) or not isinstance(n_draws, int):
        raise TypeError(f"n_draws must be an int, got {type(n_draws).__name__}")
    if not 2 <= n_draws <= _MAX_DRAWS:
        raise ValueError(f"n_draws must be in [2, {_MAX_DRAWS}], got {n_draws}")
    return n_draws


def arms_constants(alpha: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """theta = sigmoid(alpha), the threshold t on the Dirichlet coordinates and the debiasing
    factor c = 1 / (1 - rho) (rho: the correlation of two draws), elementwise.

    ``t = 1 - (1 - theta)^(1/(n-1))``; with ``P00 = (1 - 2t)_+^(n-1)``, ``1 - rho = (1 - theta -
    P00) / (theta (1 - theta))``, written with expm1/log1p so that it stays accurate for |alpha|
    up to ~700 (the formula of the C++ core, cpp/include/mixgrad/discrete/arms.hpp).
    """
    m = float(n - 1)
    theta = torch.sigmoid(alpha)
    t = -torch.expm1(-torch.nn.functional.softplus(alpha) / m)
    t_low = torch.where(t < 0.5, t, torch.zeros_like(t))  # kept finite where the other branch is taken
    c_low = theta / -torch.expm1(m * torch.log1p(-t_low / (1.0 - t_low)))
    c = torch.where(t >= 0.5, theta, c_low)
    return theta, t, torch.where(theta > 0, c, torch.ones_like(c))


class Arms(DiscreteEstimator):
    """ARMS: ``n_draws`` mutually antithetic Bernoulli draws through the Dirichlet copula, an
    RLOO-form estimate times a debiasing factor (Dimitriev & Zhou 2021).

    Per group and coordinate: ``d ~ Dirichlet(1, ..., 1)`` (n normalized exponentials),
    ``b_j = 1[d_j < t]`` with ``t = 1 - (1 - theta)^(1/(n-1))`` (so each b_j is Bernoulli(theta)
    and the draws are pairwise negatively dependent), and

        grad_logits = 1/(1 - rho) * 1/(n-1) * sum_j (f(b_j) - mean_k f(b_k)) (b_j - theta),

    unbiased, ``n_draws`` evaluations of f per group, no gradient of f through the logits.
    ``n_draws = 2`` has the law of :class:`Disarm`. The surrogate's value is the mean of f over
    the draws, so parameters that f uses directly get the average of f's own gradient.
    Same estimator as :func:`mixgrad.estimators.arms` (which draws from mixgrad's Philox
    generator, so the two agree in law, not bit for bit).

    Parameters
    ----------
    n_draws : int
        Mutually antithetic draws per group, in [2, 4096].
    event_dims : int
        Trailing logits dimensions of one sample's event.
    """

    def __init__(self, n_draws: int = 4, *, event_dims: int = 1) -> None:
        n_draws = check_n_draws(n_draws)
        super().__init__("bernoulli", event_dims=event_dims)
        self.n_draws = n_draws

    def forward(
        self,
        logits: torch.Tensor,
        f: Callable[[torch.Tensor], torch.Tensor],
        *,
        n_samples: int | None = None,
        generator: torch.Generator | None = None,
    ) -> EstimatorOutput:
        """Draw the antithetic groups, evaluate f at every draw and build the surrogate.

        Parameters
        ----------
        logits : torch.Tensor
            Bernoulli logits ``(..., *event)``.
        f : callable
            Maps a hard sample of the logits' (expanded) shape to one value per sample; called
            ``n_draws`` times.
        n_samples : int, optional
            Number of independent groups, prepended as dimension 0.
        generator : torch.Generator, optional

        Returns
        -------
        EstimatorOutput
            ``value`` and ``sample`` are those of the first draw of each group; ``grad_logits``
            is the group's estimate.
        """
        ev, n = self.event_dims, self.n_draws
        logits_x, batch_shape = self._frame(logits, n_samples)
        alpha = logits_x.detach()
        theta, t, c = arms_constants(alpha, n)
        u = uniform((n, *alpha.shape), dtype=alpha.dtype, device=alpha.device, generator=generator)
        expo = -torch.log(u)
        d = expo / expo.sum(0)
        b = (d < t).to(alpha.dtype)
        f_all = torch.stack([evaluate(f, b[j], batch_shape) for j in range(n)])
        fd = f_all.detach()
        centred = fd - fd.mean(0)
        g = c / (n - 1) * (per_event(centred, ev) * (b - theta)).sum(0)
        surrogate = surrogate_from(f_all.mean(0), g, logits_x, ev)
        return EstimatorOutput(surrogate, fd[0], b[0], g, None)
