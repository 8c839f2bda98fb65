"""Shared plumbing of the torch discrete-gradient estimators: argument checks, the two families
(Bernoulli with logistic noise, categorical with Gumbel noise), objective evaluation, and the
output record."""

from __future__ import annotations

from typing import Callable, NamedTuple

from . import noise as _noise
from ._require import require_torch

require_torch()  # a clear ImportError naming the extra when torch is missing
import torch  # noqa: E402

__all__ = ["EstimatorOutput", "Family", "evaluate", "expand_logits", "family", "surrogate_from"]

Objective = Callable[["torch.Tensor"], "torch.Tensor"]


class EstimatorOutput(NamedTuple):
    """What an estimator returns.

    Attributes
    ----------
    surrogate : torch.Tensor
        One value per sample (shape ``logits.shape[:-event_dims]``, with the sample dimension
        first when ``n_samples`` was given). Its value is f at the sample the estimator uses
        (hard b, or the relaxed sample for Concrete); the gradient of ``surrogate.sum()`` with
        respect to the model parameters is the sum of the per-sample gradient estimates of
        E[f]. Maximize ``surrogate.mean()`` (or minimize its negative).
    value : torch.Tensor
        f(b) at the hard sample, detached.
    sample : torch.Tensor
        The hard sample b (0/1 for Bernoulli, one-hot for categorical), detached.
    grad_logits : torch.Tensor
        The per-sample gradient estimate with respect to the logits, detached (shape of the
        expanded logits).
    variance_loss : torch.Tensor or None
        REBAR only: mean over samples of the squared norm of ``grad_logits``, differentiable in
        the control-variate parameters (eta, log temperature). Its gradient with respect to those
        parameters is the gradient of the estimator's variance (its mean does not depend on
        them). Call ``estimator.variance_backward(output)``, which accumulates into eta and log
        temperature only.
    """

    surrogate: torch.Tensor
    value: torch.Tensor
    sample: torch.Tensor
    grad_logits: torch.Tensor
    variance_loss: torch.Tensor | None


class Family(NamedTuple):
    """Noise, conditional noise, coupled uniform, score and log-probability of one family."""

    kind: str
    noise: Callable
    conditional: Callable
    coupled_uniform: Callable

    def score(self, alpha: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """d log p(b) / d alpha, elementwise (b - sigmoid(alpha) or b - softmax(alpha))."""
        if self.kind == "bernoulli":
            return b - torch.sigmoid(alpha)
        return b - torch.softmax(alpha, dim=-1)

    def log_prob(self, alpha: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """log p(b) elementwise over the last dimension's entries (sum it over the event)."""
        if self.kind == "bernoulli":
            ls = torch.nn.functional.logsigmoid
            return b * ls(alpha) + (1 - b) * ls(-alpha)
        return b * torch.log_softmax(alpha, dim=-1)

    def relax(self, z: torch.Tensor, temperature) -> torch.Tensor:
        """sigma_lambda(z)."""
        return _noise.relax(z, temperature, self.kind)


_FAMILIES = {
    "bernoulli": Family(
        "bernoulli",
        _noise.bernoulli_noise,
        _noise.bernoulli_conditional_noise,
        _noise.bernoulli_coupled_uniform,
    ),
    "categorical": Family(
        "categorical",
        _noise.categorical_noise,
        _noise.categorical_conditional_noise,
        _noise.categorical_coupled_uniform,
    ),
}


def family(kind: str) -> Family:
    """Return the family named ``kind`` ("bernoulli" or "categorical")."""
    if kind not in _FAMILIES:
        raise ValueError(f"kind must be 'bernoulli' or 'categorical', got {kind!r}")
    return _FAMILIES[kind]


def check_event_dims(event_dims: int) -> int:
    """Validate ``event_dims`` (a positive int)."""
    if isinstance(event_dims, bool) or not isinstance(event_dims, int) or event_dims < 1:
        raise ValueError(f"event_dims must be a positive int, got {event_dims!r}")
    return event_dims


def expand_logits(logits: torch.Tensor, n_samples: int | None, event_dims: int) -> torch.Tensor:
    """Validate ``logits`` and prepend a sample dimension of size ``n_samples`` (if given).

    Raises
    ------
    TypeError
        If ``logits`` is not a floating-point torch tensor.
    ValueError
        If it has fewer than ``event_dims`` dimensions or ``n_samples`` is not a positive int.
    """
    if not isinstance(logits, torch.Tensor):
        raise TypeError(f"logits must be a torch.Tensor, got {type(logits).__name__}")
    if not logits.is_floating_point():
        raise TypeError(f"logits must have a floating dtype, got {logits.dtype}")
    if logits.dim() < event_dims:
        raise ValueError(
            f"logits must have at least event_dims={event_dims} dimensions, got shape {tuple(logits.shape)}"
        )
    if n_samples is None:
        return logits
    if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 1:
        raise ValueError(f"n_samples must be a positive int or None, got {n_samples!r}")
    return logits.expand(n_samples, *logits.shape)


def uniform_like(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Uniform noise in (0, 1) of ``x``'s shape, dtype and device."""
    return _noise.uniform(tuple(x.shape), dtype=x.dtype, device=x.device, generator=generator)


class DiscreteEstimator(torch.nn.Module):
    """Base of the torch estimators: the latent family, its name and the event dimensions, and
    the sample frame that every forward pass starts from.

    ``kind`` names the family (:func:`family`), ``event_dims`` how many trailing logits
    dimensions make one sample's event (:func:`check_event_dims`); both are validated here.
    """

    def __init__(self, kind: str = "bernoulli", *, event_dims: int = 1) -> None:
        super().__init__()
        self.family = family(kind)
        self.kind = kind
        self.event_dims = check_event_dims(event_dims)

    def _frame(self, logits: torch.Tensor, n_samples: int | None) -> tuple[torch.Tensor, tuple[int, ...]]:
        """The validated logits with the sample dimension prepended (if ``n_samples`` is given)
        and the batch shape, their shape without the event dimensions."""
        logits_x = expand_logits(logits, n_samples, self.event_dims)
        shape = tuple(logits_x.shape)
        return logits_x, shape[: len(shape) - self.event_dims]


def evaluate(f: Objective, s: torch.Tensor, batch_shape: tuple[int, ...]) -> torch.Tensor:
    """Call the objective and check it returns one value per sample.

    Raises
    ------
    TypeError
        If ``f`` does not return a tensor.
    ValueError
        If its shape is not ``batch_shape``.
    """
    out = f(s)
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"f must return a torch.Tensor, got {type(out).__name__}")
    if tuple(out.shape) != tuple(batch_shape):
        raise ValueError(
            f"f must return one value per sample, shape {tuple(batch_shape)} (the input shape "
            f"without its event_dims trailing dimensions); got {tuple(out.shape)}"
        )
    return out


def event_sum(x: torch.Tensor, event_dims: int) -> torch.Tensor:
    """Sum over the trailing ``event_dims`` dimensions."""
    return x.sum(dim=tuple(range(-event_dims, 0)))


def per_event(x: torch.Tensor, event_dims: int) -> torch.Tensor:
    """Append ``event_dims`` singleton dimensions (per-sample values -> event broadcast)."""
    return x.reshape(*x.shape, *([1] * event_dims))


def surrogate_from(
    f_live: torch.Tensor, grad_logits: torch.Tensor, logits: torch.Tensor, event_dims: int
) -> torch.Tensor:
    """f_live + <grad_logits, logits - stop_gradient(logits)>: the value of f, the gradient
    ``grad_logits`` into ``logits`` (and f's own gradient into parameters it uses directly)."""
    delta = logits - logits.detach()
    return f_live + event_sum(grad_logits.detach() * delta, event_dims)
