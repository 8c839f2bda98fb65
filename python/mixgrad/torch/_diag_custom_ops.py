"""The mixture operations that torch sees as single ops (``torch.library.custom_op``, each
with a fake kernel for torch.compile and a vmap rule), none of them differentiable itself:

* ``torch.ops.mixgrad.diag_mixture_sample``, ``diag_mixture_quantile``, ``diag_mixture_vjp``:
  mixgrad's C++ core (CPU; about 10x faster than torch ops there), bit for bit the numpy API;
* ``torch.ops.mixgrad.diag_mixture_quantile_native``: the torch-op quantile (any device), opaque
  so that torch.compile does not unroll its Newton iterations.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .. import _adapter_mixture as _adapter
from ..mixture import DiagGaussianMixture
from . import _diag_quantile

__all__ = ["core_quantile", "core_sample", "core_vjp", "native_quantile"]


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().contiguous().numpy()


@torch.library.custom_op("mixgrad::diag_mixture_sample", mutates_args=())
def core_sample(
    logits: torch.Tensor, means: torch.Tensor, scales: torch.Tensor, n: int, seed: int, method: str
) -> torch.Tensor:
    """Samples from mixgrad's C++ core (CPU): (n, *batch, D), or (*batch, D) for n < 0; bit for
    bit ``mixgrad.DiagGaussianMixture(...).sample(n, seed)`` (``method="exact"``) or its
    quantile of ``mixgrad.random.uniform(shape, seed)`` (``"quantile"``)."""
    x = _adapter.draw(_np(logits), _np(means), _np(scales), None if n < 0 else n, seed, method)
    return torch.from_numpy(np.ascontiguousarray(x))


@core_sample.register_fake
def _(logits, means, scales, n, seed, method):
    shape = means.shape[:-2] + means.shape[-1:]
    return means.new_empty(((n,) if n >= 0 else ()) + tuple(shape))


@torch.library.custom_op("mixgrad::diag_mixture_quantile", mutates_args=())
def core_quantile(logits: torch.Tensor, means: torch.Tensor, scales: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """``mixgrad.DiagGaussianMixture(...).quantile(u)`` from the C++ core (CPU), in u's shape."""
    x = DiagGaussianMixture(_np(logits), _np(means), _np(scales)).quantile(_np(u))
    return torch.from_numpy(np.ascontiguousarray(x))


@core_quantile.register_fake
def _(logits, means, scales, u):
    return torch.empty_like(u)


@torch.library.custom_op("mixgrad::diag_mixture_vjp", mutates_args=())
def core_vjp(
    logits: torch.Tensor, means: torch.Tensor, scales: torch.Tensor, x: torch.Tensor, grad_x: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The implicit VJP from mixgrad's C++ core (CPU), first order only: gradients for the
    (batch-shaped) logits, means and scales, summed over x's sample dimensions."""
    g = _adapter.vjp(_np(logits), _np(means), _np(scales), _np(x), _np(grad_x))
    return tuple(torch.from_numpy(np.ascontiguousarray(v)) for v in (g.logits, g.means, g.scales))  # type: ignore[return-value]


@core_vjp.register_fake
def _(logits, means, scales, x, grad_x):
    return torch.empty_like(logits), torch.empty_like(means), torch.empty_like(scales)


def _vmap_by_loop(op: Any) -> None:
    """A vmap rule for a core op: one call per slice of the mapped dimension (the core is
    vectorized over its own batch; vmap over it is for composability, not speed)."""

    def rule(info, in_dims, *args):
        outs = []
        for i in range(info.batch_size):
            outs.append(op(*(a if d is None else a.select(d, i) for a, d in zip(args, in_dims))))
        if isinstance(outs[0], tuple):
            return tuple(torch.stack(o) for o in zip(*outs)), (0,) * len(outs[0])
        return torch.stack(outs), 0

    op.register_vmap(rule)


@torch.library.custom_op("mixgrad::diag_mixture_quantile_native", mutates_args=())
def native_quantile(logits: torch.Tensor, means: torch.Tensor, scales: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """The quantile transform in torch ops (any device), as one opaque op: torch.compile need
    not trace (and unroll) its fixed Newton iterations."""
    return _diag_quantile.quantile(logits, means, scales, u)


@native_quantile.register_fake
def _(logits, means, scales, u):
    return torch.empty_like(u)


for _op in (core_sample, core_quantile, core_vjp, native_quantile):
    _vmap_by_loop(_op)
