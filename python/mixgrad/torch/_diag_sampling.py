"""Diagonal Gaussian mixtures in torch ops: draws from torch's generator on the parameters'
device. The parameters come detached: no gradient here, the implicit gradient is attached by
``_diag_implicit``."""

from __future__ import annotations

import torch

from ._diag_custom_ops import native_quantile

__all__ = ["sample_exact", "sample_quantile"]


def sample_exact(
    logits: torch.Tensor,
    means: torch.Tensor,
    scales: torch.Tensor,
    sample_shape: torch.Size,
    generator: torch.Generator | None,
) -> torch.Tensor:
    """Component k ~ Cat(softmax(logits)) from one uniform, then x = mu_k + sigma_k eps.

    Parameters of shape (*batch, K[, D]); returns (*sample_shape, *batch, D) in means' dtype.
    """
    *batch, K, D = means.shape
    shape = (*sample_shape, *batch)
    dev = means.device
    u = torch.rand(shape, generator=generator, dtype=torch.float64, device=dev)
    eps = torch.randn((*shape, D), generator=generator, dtype=means.dtype, device=dev)
    # Cumulative weights normalized so the last is exactly 1 > u: a zero weight (a repeated
    # cumulative value) is never picked.
    cw = torch.softmax(logits.to(torch.float64), dim=-1).cumsum(-1)
    cw = cw / cw[..., -1:]
    k = (u.unsqueeze(-1) >= cw).sum(-1).clamp_(max=K - 1)
    idx = k[..., None, None].expand(*shape, 1, D)
    mu = torch.gather(means.expand(*shape, K, D), -2, idx).squeeze(-2)
    sigma = torch.gather(scales.expand(*shape, K, D), -2, idx).squeeze(-2)
    return mu + sigma * eps


def sample_quantile(
    logits: torch.Tensor,
    means: torch.Tensor,
    scales: torch.Tensor,
    sample_shape: torch.Size,
    generator: torch.Generator | None,
) -> torch.Tensor:
    """The quantile transform of uniforms on (0, 1): for fixed uniforms a smooth function of
    the parameters. Returns (*sample_shape, *batch, D) in means' dtype."""
    *batch, _, D = means.shape
    u = torch.rand((*sample_shape, *batch, D), generator=generator, dtype=torch.float64, device=means.device)
    u = u.clamp_(min=torch.finfo(torch.float64).tiny)  # rand may return 0
    return native_quantile(logits, means, scales, u).to(means.dtype)
