"""Concrete / Gumbel-softmax (relaxed, biased) estimator for torch models."""

from __future__ import annotations

from typing import Callable

from .._checks import check_real
from ._discrete import DiscreteEstimator, EstimatorOutput, evaluate, surrogate_from, uniform_like
from ._require import require_torch

require_torch()  # a clear ImportError naming the extra when torch is missing
import torch  # noqa: E402

__all__ = ["Concrete"]


class Concrete(DiscreteEstimator):
    """Reparameterization gradient of the relaxed objective f(sigma_lambda(z)) (biased).

    The surrogate's value and its gradient (into the logits and into parameters that f uses) are
    those of f at the relaxed sample; ``value`` reports f at the hard sample b = H(z).

    Parameters
    ----------
    kind : {"bernoulli", "categorical"}
        Latent family.
    temperature : float
        Relaxation temperature lambda > 0 (fixed).
    event_dims : int
        Trailing logits dimensions of one sample's event.
    """

    def __init__(self, kind: str = "bernoulli", *, temperature: float = 0.5, event_dims: int = 1) -> None:
        super().__init__(kind, event_dims=event_dims)
        temperature = check_real(temperature, "temperature", positive=True)
        self.temperature = float(temperature)

    def forward(
        self,
        logits: torch.Tensor,
        f: Callable[[torch.Tensor], torch.Tensor],
        *,
        n_samples: int | None = None,
        generator: torch.Generator | None = None,
    ) -> EstimatorOutput:
        """Sample z, evaluate f at the relaxed sample and build the surrogate (see
        :class:`Rebar` for arguments)."""
        ev = self.event_dims
        fam = self.family
        logits_x, batch_shape = self._frame(logits, n_samples)
        u = uniform_like(logits_x, generator)
        alpha = logits_x.detach().clone().requires_grad_(True)
        with torch.enable_grad():
            z, b = fam.noise(alpha, u)
            f_s = evaluate(f, fam.relax(z, self.temperature), batch_shape)
            (g,) = torch.autograd.grad(f_s.sum(), alpha, retain_graph=True, allow_unused=True)
        if g is None:
            g = torch.zeros_like(alpha)
        with torch.no_grad():
            value = evaluate(f, b, batch_shape)
        surrogate = surrogate_from(f_s, g, logits_x, ev)
        return EstimatorOutput(surrogate, value, b, g.detach(), None)
