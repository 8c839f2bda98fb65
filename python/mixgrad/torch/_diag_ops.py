"""The differentiable mixture operations of ``mixgrad.torch.DiagGaussianMixture``.

* :func:`implicit_reparameterization` attaches the implicit gradient (DESIGN.md 3.3) to a point
  x drawn by any sampler: its value is x, its backward the VJP with u = T(x) held fixed (and
  dx/du, when x = quantile(u)), its forward-mode rule the JVP. The backward is written in torch
  ops (``_diag_math``), so it is itself differentiable: second derivatives, ``torch.func``
  transforms and vmap (a generated rule) work on every device.
* :func:`native_quantile` is the torch-op quantile as one custom op (compiles in seconds).
* On CPU tensors whose first derivative alone is wanted, the backward may call the C++ core
  instead (6-18x faster than torch ops there); the core is registered as
  ``torch.ops.mixgrad.diag_mixture_sample`` and ``torch.ops.mixgrad.diag_mixture_vjp``
  (``torch.library.custom_op`` with fake kernels), so ``torch.compile(fullgraph=True)`` traces
  it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .. import _adapter_mixture as _adapter
from ..mixture import DiagGaussianMixture
from . import _diag_math, _diag_quantile

__all__ = ["core_quantile", "core_sample", "core_vjp", "implicit_reparameterization", "native_quantile"]


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


def _first_order_on_core(ctx: Any, tensors: tuple[torch.Tensor, ...]) -> bool:
    """The C++ core may answer: CPU tensors, no graph of the backward wanted (create_graph,
    torch.func transforms and double backward run with grad mode on), no gradient for u."""
    return (
        ctx.core
        and not torch.is_grad_enabled()
        and not ctx.needs_input_grad[4]
        and all(t.device.type == "cpu" for t in tensors)
    )


class _Implicit(torch.autograd.Function):
    """x = sample, with dx/d(logits, means, scales) (and dx/du) from the implicit function
    T(x; theta) = u. Inputs: the batch-shaped logits (*batch, K), means and scales
    (*batch, K, D), the drawn x (*sample, *batch, D), u (the uniforms x = quantile(u), or None:
    no gradient for them), and ``core`` (bool: the C++ core may compute first derivatives)."""

    generate_vmap_rule = True

    @staticmethod
    def forward(logits, means, scales, x, u, core):
        return x.clone()

    @staticmethod
    def setup_context(ctx, inputs, output):
        logits, means, scales, _, u, core = inputs
        ctx.core = bool(core)
        ctx.has_u = u is not None
        # x is saved as this node's output: in a double backward it depends on the parameters
        # through this node again, as the implicit function says.
        ctx.save_for_backward(logits, means, scales, output)
        ctx.save_for_forward(logits, means, scales, output)

    @staticmethod
    def backward(ctx, grad_x):
        logits, means, scales, x = ctx.saved_tensors
        if _first_order_on_core(ctx, (logits, means, scales, x, grad_x)):
            ga, gm, gs = core_vjp(logits, means, scales, x, grad_x)
            return ga, gm, gs, None, None, None
        # Without a graph, blocks of samples (less memory, faster); with one, a single pass.
        vjp = _diag_math.vjp if torch.is_grad_enabled() else _diag_math.vjp_chunked
        ga, gm, gs, gu = vjp(logits, means, scales, x, grad_x, with_u=ctx.needs_input_grad[4])
        return ga, gm, gs, None, gu, None


class _ImplicitWithJvp(_Implicit):
    """:class:`_Implicit` with the forward-mode rule (torch.func.jvp, jacfwd); Dynamo cannot
    trace a Function with a custom jvp, so torch.compile gets the parent."""

    @staticmethod
    def jvp(ctx, t_logits, t_means, t_scales, t_x, t_u, t_core):
        logits, means, scales, x = ctx.saved_tensors
        return _diag_math.jvp(logits, means, scales, x, t_logits, t_means, t_scales, t_u if ctx.has_u else None)


def implicit_reparameterization(
    logits: torch.Tensor,
    means: torch.Tensor,
    scales: torch.Tensor,
    x: torch.Tensor,
    u: torch.Tensor | None,
    core: bool,
) -> torch.Tensor:
    """x (drawn by any sampler, or x = quantile(u)) with the implicit gradient attached.

    Parameters
    ----------
    logits, means, scales : torch.Tensor
        Batch-shaped parameters (*batch, K) and (*batch, K, D).
    x : torch.Tensor, shape (*sample, *batch, D)
        The drawn points (their own graph, if any, is ignored).
    u : torch.Tensor or None
        The uniforms when x = quantile(u): they get dx/du as gradient.
    core : bool
        Whether the C++ core may compute first derivatives (CPU tensors).
    """
    fn = _Implicit if torch.compiler.is_compiling() else _ImplicitWithJvp
    return fn.apply(logits, means, scales, x.detach(), u, core)
