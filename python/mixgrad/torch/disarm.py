"""DisARM (Bernoulli) and RLOO as torch surrogate losses (DESIGN.md section 4.4)."""

from __future__ import annotations

from typing import Callable

from ._discrete import EstimatorOutput, check_event_dims, evaluate, expand_logits, per_event, surrogate_from
from ._require import require_torch
from .noise import uniform
from .reinforce import Reinforce

require_torch()  # a clear ImportError naming the extra when torch is missing
import torch  # noqa: E402

__all__ = ["Disarm", "Rloo"]


class Disarm(torch.nn.Module):
    """DisARM / U2G (Dong, Mnih & Tucker 2020) for Bernoulli logits as a surrogate loss.

    One antithetic pair per sample: ``u ~ U(0, 1)``, ``b = 1[u < sigmoid(alpha)]``,
    ``b~ = 1[1 - u < sigmoid(alpha)]``;
    ``grad_logits = 1/2 (f(b) - f(b~)) (b - b~) sigmoid(|alpha|)`` (unbiased, two evaluations of
    f per sample, no gradient of f through the logits). The surrogate's value is
    ``(f(b) + f(b~)) / 2``, so parameters that f uses directly get the average of f's own
    gradient at both draws.

    Parameters
    ----------
    event_dims : int
        Trailing logits dimensions of one sample's event.
    """

    def __init__(self, *, event_dims: int = 1) -> None:
        super().__init__()
        self.kind = "bernoulli"
        self.event_dims = check_event_dims(event_dims)

    def forward(
        self,
        logits: torch.Tensor,
        f: Callable[[torch.Tensor], torch.Tensor],
        *,
        n_samples: int | None = None,
        generator: torch.Generator | None = None,
    ) -> EstimatorOutput:
        """Draw the antithetic pairs, evaluate f at both and build the surrogate.

        Parameters
        ----------
        logits : torch.Tensor
            Bernoulli logits ``(..., *event)``.
        f : callable
            Maps a hard sample of the logits' (expanded) shape to one value per sample.
        n_samples : int, optional
            Number of pairs, prepended as dimension 0.
        generator : torch.Generator, optional

        Returns
        -------
        EstimatorOutput
            ``value`` and ``sample`` are those of the first draw ``b``.
        """
        ev = self.event_dims
        logits_x = expand_logits(logits, n_samples, ev)
        shape = tuple(logits_x.shape)
        batch_shape = shape[: len(shape) - ev]
        alpha = logits_x.detach()
        theta = torch.sigmoid(alpha)
        u = uniform(shape, dtype=logits_x.dtype, device=logits_x.device, generator=generator)
        b = (u < theta).to(logits_x.dtype)
        bt = (1.0 - u < theta).to(logits_x.dtype)
        f_b = evaluate(f, b, batch_shape)
        f_bt = evaluate(f, bt, batch_shape)
        g = per_event(0.5 * (f_b.detach() - f_bt.detach()), ev) * (b - bt) * torch.sigmoid(alpha.abs())
        surrogate = surrogate_from(0.5 * (f_b + f_bt), g, logits_x, ev)
        return EstimatorOutput(surrogate, f_b.detach(), b, g, None)


class Rloo(Reinforce):
    """REINFORCE with the leave-one-out baseline (RLOO, Kool et al. 2019): the same estimator as
    ``Reinforce(kind, baseline="leave_one_out")``; needs ``n_samples >= 2``.

    Parameters
    ----------
    kind : {"bernoulli", "categorical"}
    event_dims : int
    """

    def __init__(self, kind: str = "bernoulli", *, event_dims: int = 1) -> None:
        super().__init__(kind, baseline="leave_one_out", event_dims=event_dims)
