"""Argument checks shared by the JAX paths (core callback and native): dtypes, shapes, sample
shapes, and the parameter values whenever they are concrete."""

from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .._checks import check_count, check_size
from ..mixture import DiagGaussianMixture

_concrete_or_error: Callable[..., Any] | None
try:  # JAX >= 0.4.36
    from jax.extend.core import concrete_or_error as _concrete_or_error
except ImportError:  # pragma: no cover - older JAX: only untraced values are checked up front
    _concrete_or_error = None

__all__ = ["Params", "check_sample_shape", "check_values", "params"]


class Params(NamedTuple):
    """Parameters broadcast to one batch shape: logits (*batch, K), means and scales (*batch, K, D)."""

    logits: jax.Array
    means: jax.Array
    scales: jax.Array
    batch: tuple[int, ...]


def params(logits: Any, means: Any, scales: Any) -> Params:
    """Check dtypes (one of float32, float64, shared) and shapes, and broadcast the batch dims."""
    a, m, s = (jnp.asarray(t) for t in (logits, means, scales))
    dts = {a.dtype, m.dtype, s.dtype}
    if len(dts) > 1 or m.dtype not in (jnp.float32, jnp.float64):
        raise TypeError(
            f"logits, means and scales must share one dtype, float32 or float64; got {a.dtype}, {m.dtype}, {s.dtype}"
        )
    if m.ndim < 2 or a.ndim < 1 or s.shape[-2:] != m.shape[-2:] or a.shape[-1] != m.shape[-2]:
        raise ValueError(
            f"expected logits (..., K), means and scales (..., K, D); got shapes {a.shape}, {m.shape}, {s.shape}"
        )
    K, D = m.shape[-2:]
    try:
        batch = tuple(np.broadcast_shapes(a.shape[:-1], m.shape[:-2], s.shape[:-2]))
    except ValueError:
        raise ValueError(
            f"the batch dimensions of logits {a.shape[:-1]}, means {m.shape[:-2]} and scales "
            f"{s.shape[:-2]} do not broadcast"
        ) from None
    return Params(
        jnp.broadcast_to(a, (*batch, K)),
        jnp.broadcast_to(m, (*batch, K, D)),
        jnp.broadcast_to(s, (*batch, K, D)),
        batch,
    )


def check_sample_shape(sample_shape: Any, per_sample: int, itemsize: int) -> tuple[int, ...]:
    """``sample_shape`` as a tuple of non-negative ints whose samples fit in one array."""
    dims = (sample_shape,) if isinstance(sample_shape, (int, np.integer)) else tuple(sample_shape)
    out = tuple(check_count(d, "sample_shape entries", minimum=0) for d in dims)
    check_size(math.prod(out), per_sample, itemsize, "sample_shape's product")
    return out


def check_values(a: jax.Array, m: jax.Array, s: jax.Array) -> None:
    """Check the parameter values (logits not NaN/+inf, finite means, finite positive scales)
    here, with a ValueError naming the argument, whenever they are concrete. Traced values
    (under jax.jit, jax.grad, jax.vmap) cannot be checked up front."""
    values = [_concrete(t) for t in (a, m, s)]
    if any(v is None for v in values):
        return
    DiagGaussianMixture(*values)


def _concrete(x: jax.Array) -> np.ndarray | None:
    """The value of ``x`` as a numpy array when it is known now (also under jax.grad without jit),
    else None."""
    if not isinstance(x, jax.core.Tracer):
        return np.asarray(x)
    if _concrete_or_error is None:
        return None
    try:
        return np.asarray(_concrete_or_error(None, x))
    except jax.errors.ConcretizationTypeError:
        return None
