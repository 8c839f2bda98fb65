"""The implicit-reparameterization gradient of ``mixgrad.torch.DiagGaussianMixture`` as one
autograd Function: :func:`implicit_reparameterization` attaches it to a point x drawn by any
sampler. Its value is x, its backward the VJP with u = T(x) held fixed (DESIGN.md 3.3; and
dx/du when x = quantile(u)), its forward-mode rule the JVP. The backward is written in torch ops
(``_diag_math``), so it is differentiable again: second derivatives, ``torch.func`` transforms
and vmap (a generated rule) work on every device. On CPU tensors whose first derivative alone
is wanted, the C++ core may answer instead (``_diag_custom_ops.core_vjp``).
"""

from __future__ import annotations

from typing import Any

import torch

from . import _diag_math
from ._diag_custom_ops import core_vjp

__all__ = ["implicit_reparameterization"]


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
