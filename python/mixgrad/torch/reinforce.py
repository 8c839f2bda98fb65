"""REINFORCE (score function) for torch models, with no, moving-average or leave-one-out
baseline."""

from __future__ import annotations

from typing import Callable

from .._checks import check_real
from ._discrete import DiscreteEstimator, EstimatorOutput, evaluate, per_event, surrogate_from, uniform_like
from ._require import require_torch

require_torch()  # a clear ImportError naming the extra when torch is missing
import torch  # noqa: E402

__all__ = ["Reinforce"]

_BASELINES = ("none", "moving_average", "leave_one_out")


class Reinforce(DiscreteEstimator):
    """Score-function estimator ``(f(b) - c) d log p(b)/d alpha`` as a surrogate loss.

    Parameters
    ----------
    kind : {"bernoulli", "categorical"}
        Latent family.
    baseline : {"none", "moving_average", "leave_one_out"}
        ``moving_average``: c is an exponential moving average of past f values (updated after
        each call, so the current estimate stays unbiased). ``leave_one_out``: c_i is the mean of
        f over the other samples of the same row; needs ``n_samples >= 2`` (dimension 0).
    decay : float
        Moving-average decay in [0, 1).
    event_dims : int
        Trailing logits dimensions of one sample's event.
    """

    running_mean: torch.Tensor  # buffers, registered in __init__
    initialized: torch.Tensor

    def __init__(
        self,
        kind: str = "bernoulli",
        *,
        baseline: str = "moving_average",
        decay: float = 0.95,
        event_dims: int = 1,
    ) -> None:
        super().__init__(kind, event_dims=event_dims)
        if baseline not in _BASELINES:
            raise ValueError(f"baseline must be one of {_BASELINES}, got {baseline!r}")
        decay = check_real(decay, "decay")
        if not (0.0 <= decay < 1.0):
            raise ValueError(f"decay must be in [0, 1), got {decay!r}")
        self.baseline = baseline
        self.decay = float(decay)
        self.register_buffer("running_mean", torch.zeros((), dtype=torch.float64))
        self.register_buffer("initialized", torch.zeros((), dtype=torch.bool))

    def forward(
        self,
        logits: torch.Tensor,
        f: Callable[[torch.Tensor], torch.Tensor],
        *,
        n_samples: int | None = None,
        generator: torch.Generator | None = None,
    ) -> EstimatorOutput:
        """Sample b, evaluate f(b) and build the surrogate (see :class:`Rebar` for arguments)."""
        ev = self.event_dims
        fam = self.family
        logits_x, batch_shape = self._frame(logits, n_samples)
        u = uniform_like(logits_x, generator)
        _, b = fam.noise(logits_x.detach(), u)
        f_b = evaluate(f, b, batch_shape)
        fd = f_b.detach()
        if self.baseline == "none":
            c = torch.zeros_like(fd)
        elif self.baseline == "moving_average":
            c = torch.where(self.initialized, self.running_mean.to(fd.dtype), torch.zeros_like(fd))
            with torch.no_grad():
                m = fd.double().mean()
                new = torch.where(self.initialized, self.decay * self.running_mean + (1 - self.decay) * m, m)
                self.running_mean.copy_(new)
                self.initialized.fill_(True)
        else:
            if n_samples is None or n_samples < 2:
                raise ValueError("baseline='leave_one_out' needs n_samples >= 2")
            c = (fd.sum(dim=0, keepdim=True) - fd) / (n_samples - 1)
        score = fam.score(logits_x.detach(), b)
        g = per_event(fd - c, ev) * score
        surrogate = surrogate_from(f_b, g, logits_x, ev)
        return EstimatorOutput(surrogate, fd, b, g, None)
