"""Exact expectations over small discrete spaces by enumeration (the truth for tests)."""

from __future__ import annotations

import itertools
from typing import Callable

from ._require import require_torch

require_torch()  # a clear ImportError naming the extra when torch is missing
import torch  # noqa: E402

__all__ = ["exact_expectation"]


def exact_expectation(
    logits: torch.Tensor, f: Callable[[torch.Tensor], torch.Tensor], kind: str = "bernoulli"
) -> torch.Tensor:
    """E_{b ~ p(logits)}[f(b)] by enumerating every outcome; differentiable in ``logits``.

    Parameters
    ----------
    logits : torch.Tensor
        Bernoulli: shape (D,), D <= 20. Categorical: shape (D, K) (D independent categorical
        variables over K classes), K**D <= 2**20.
    f : callable
        Maps a batch of outcomes, shape (M, D) or (M, D, K), to values of shape (M,).
    kind : {"bernoulli", "categorical"}
        Latent family.

    Returns
    -------
    torch.Tensor
        The scalar expectation.

    Raises
    ------
    ValueError
        For other shapes or too many outcomes.
    """
    if kind == "bernoulli":
        if logits.dim() != 1 or logits.shape[0] > 20:
            raise ValueError(f"logits must have shape (D,) with D <= 20, got {tuple(logits.shape)}")
        d = logits.shape[0]
        bits = torch.tensor(list(itertools.product((0.0, 1.0), repeat=d)), dtype=logits.dtype)
        ls = torch.nn.functional.logsigmoid
        logp = (bits * ls(logits) + (1 - bits) * ls(-logits)).sum(-1)
        return (logp.exp() * f(bits)).sum()
    if kind == "categorical":
        if logits.dim() != 2 or logits.shape[1] ** logits.shape[0] > 2**20:
            raise ValueError(f"logits must have shape (D, K) with K**D <= 2**20, got {tuple(logits.shape)}")
        d, k = logits.shape
        idx = torch.tensor(list(itertools.product(range(k), repeat=d)), dtype=torch.long)
        onehot = torch.nn.functional.one_hot(idx, k).to(logits.dtype)
        logp = (onehot * torch.log_softmax(logits, -1)).sum((-1, -2))
        return (logp.exp() * f(onehot)).sum()
    raise ValueError(f"kind must be 'bernoulli' or 'categorical', got {kind!r}")
