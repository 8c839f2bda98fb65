"""Double control variates (Titsias & Shi 2022) as a torch surrogate loss (DESIGN.md 4.4)."""

from __future__ import annotations

from typing import Callable

from ._discrete import DiscreteEstimator, EstimatorOutput, evaluate, event_sum, per_event, surrogate_from, uniform_like
from ._require import require_torch

require_torch()  # a clear ImportError naming the extra when torch is missing
import torch  # noqa: E402

__all__ = ["DoubleCV"]


def _leave_one_out_mean(x: torch.Tensor) -> torch.Tensor:
    """Mean over the other samples of dimension 0."""
    return (x.sum(0, keepdim=True) - x) / (x.shape[0] - 1)


class DoubleCV(DiscreteEstimator):
    """RLOO plus the first-order Taylor control variate ``h(b) = grad f(theta) . (b - theta)``
    (Titsias & Shi 2022), ``theta = E[b]``:

        grad_logits_s = [(f(b_s) - loo(f)_s) - (h(b_s) - loo(h)_s)] d log p(b_s)/d alpha
                        + d E[h(b)] / d alpha,

    ``loo(x)_s`` the mean over the other samples; the last term in closed form (``c theta (1 -
    theta)`` for Bernoulli, ``theta_k (c_k - c . theta)`` for categorical, ``c = grad f(theta)``).
    Unbiased; ``n_samples`` evaluations of f at hard samples plus one gradient of f at theta
    (so f must accept real-valued input). Same estimator as
    :func:`mixgrad.estimators.double_cv`.

    Parameters
    ----------
    kind : {"bernoulli", "categorical"}
        Latent family (categorical classes on the last logits dimension).
    event_dims : int
        Trailing logits dimensions of one sample's event.
    """

    def forward(
        self,
        logits: torch.Tensor,
        f: Callable[[torch.Tensor], torch.Tensor],
        *,
        n_samples: int,
        generator: torch.Generator | None = None,
    ) -> EstimatorOutput:
        """Draw ``n_samples`` samples per row (dimension 0), evaluate f and build the surrogate.

        Parameters
        ----------
        logits : torch.Tensor
            Logits ``(*batch, *event)``.
        f : callable
            Maps a tensor of the logits' shape (with or without the sample dimension; hard
            samples, and theta = E[b] once) to one value per sample.
        n_samples : int
            Samples per row, >= 2 (the leave-one-out baselines).
        generator : torch.Generator, optional

        Returns
        -------
        EstimatorOutput

        Raises
        ------
        ValueError
            If ``n_samples`` is missing or < 2.
        """
        if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 2:
            raise ValueError(f"n_samples must be an int >= 2 (leave-one-out baselines), got {n_samples!r}")
        ev, fam = self.event_dims, self.family
        logits_x, batch_shape = self._frame(logits, n_samples)
        alpha = logits.detach()
        theta = torch.sigmoid(alpha) if self.kind == "bernoulli" else torch.softmax(alpha, dim=-1)
        c = _gradient_at(f, theta, batch_shape[1:])
        u = uniform_like(logits_x, generator)
        _, b = fam.noise(logits_x.detach(), u)
        f_b = evaluate(f, b, batch_shape)
        fd = f_b.detach()
        h = event_sum(c * (b - theta), ev)
        coef = (fd - _leave_one_out_mean(fd)) - (h - _leave_one_out_mean(h))
        if self.kind == "bernoulli":
            d_expected_h = c * theta * (1.0 - theta)
        else:
            d_expected_h = theta * (c - (c * theta).sum(-1, keepdim=True))
        g = per_event(coef, ev) * fam.score(logits_x.detach(), b) + d_expected_h
        surrogate = surrogate_from(f_b, g, logits_x, ev)
        return EstimatorOutput(surrogate, fd, b, g, None)


def _gradient_at(f: Callable[[torch.Tensor], torch.Tensor], theta: torch.Tensor, batch_shape) -> torch.Tensor:
    """grad of f(theta).sum() with respect to theta, detached (zeros where f ignores it)."""
    with torch.enable_grad():
        x = theta.clone().requires_grad_(True)
        value = evaluate(f, x, batch_shape)
        if not value.requires_grad:
            return torch.zeros_like(theta)
        (grad,) = torch.autograd.grad(value.sum(), x, allow_unused=True)
    return torch.zeros_like(theta) if grad is None else grad.detach()
