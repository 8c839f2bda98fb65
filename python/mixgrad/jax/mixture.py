"""JAX adapter (optional extra ``mixgrad[jax]``): reparameterized samples of diagonal Gaussian
mixtures whose gradients (logits, means, scales) come from mixgrad's implicit VJP.

``rsample`` is a :func:`jax.custom_vjp` whose forward and backward run the C++ core through
:func:`jax.pure_callback`, so it works under :func:`jax.jit`, :func:`jax.grad` and
:func:`jax.vmap` (sequentially) on the CPU.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Callable

import numpy as np

from .. import _adapter_mixture as _adapter
from .._checks import check_count, check_size
from ..mixture import DiagGaussianMixture

try:
    import jax
    import jax.numpy as jnp
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "mixgrad.jax needs JAX, which is not installed. Install the optional extra with "
        "`pip install mixgrad[jax]` (or `pip install jax`)."
    ) from exc

_concrete_or_error: Callable[..., Any] | None
try:  # JAX >= 0.4.36
    from jax.extend.core import concrete_or_error as _concrete_or_error
except ImportError:  # pragma: no cover - older JAX: only untraced values are checked up front
    _concrete_or_error = None

__all__ = ["rsample", "seed_words"]


def seed_words(seed: Any) -> jax.Array:
    """Turn a seed into the uint32[2] (low, high) words that :func:`rsample` passes to the core.

    Parameters
    ----------
    seed : int, uint32 array of shape (2,), or a typed JAX PRNG key
        An int s in [0, 2**64) gives the same samples as ``mixgrad.DiagGaussianMixture.sample(
        ..., seed=s)``; a uint32[2] array is taken as those words (low, high) and may be traced;
        a typed key (``jax.random.key``) is turned into two random words.

    Returns
    -------
    jax.Array of dtype uint32 and shape (2,)
    """
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return jnp.asarray(_adapter.seed_to_words(int(seed)), dtype=jnp.uint32)
    arr = seed if isinstance(seed, jax.Array) else jnp.asarray(seed)
    if jax.dtypes.issubdtype(arr.dtype, jax.dtypes.prng_key):
        return jax.random.bits(arr, (2,), jnp.uint32)
    if arr.shape != (2,) or not jnp.issubdtype(arr.dtype, jnp.integer):
        raise TypeError(
            "seed must be an int, a typed JAX key, or an integer array of shape (2,); got "
            f"dtype {arr.dtype} shape {arr.shape}"
        )
    return arr.astype(jnp.uint32)


def _draw_host(n, method, a, m, s, words):
    seed = _adapter.words_to_seed(np.asarray(words))
    return np.ascontiguousarray(_adapter.draw(np.asarray(a), np.asarray(m), np.asarray(s), n, seed, method))


def _vjp_host(a, m, s, x, g):
    r = _adapter.vjp(np.asarray(a), np.asarray(m), np.asarray(s), np.asarray(x), np.asarray(g))
    return tuple(np.ascontiguousarray(v, dtype=np.asarray(a).dtype) for v in r)


def _sds(shape, dtype):
    return jax.ShapeDtypeStruct(tuple(shape), dtype)


@functools.partial(jax.custom_vjp, nondiff_argnums=(4, 5))
def _rsample(a, m, s, words, n, method):
    shape = ((n,) if n is not None else ()) + m.shape[:-2] + m.shape[-1:]
    return jax.pure_callback(
        functools.partial(_draw_host, n, method),
        _sds(shape, m.dtype),
        a,
        m,
        s,
        words,
        vmap_method="sequential",
    )


def _rsample_fwd(a, m, s, words, n, method):
    x = _rsample(a, m, s, words, n, method)
    return x, (a, m, s, words, x)


def _rsample_bwd(n, method, res, g):
    a, m, s, words, x = res
    ga, gm, gs = jax.pure_callback(
        _vjp_host,
        (_sds(a.shape, a.dtype), _sds(m.shape, m.dtype), _sds(s.shape, s.dtype)),
        a,
        m,
        s,
        x,
        g,
        vmap_method="sequential",
    )
    zero_words = np.zeros(words.shape, dtype=jax.dtypes.float0)
    return ga, gm, gs, zero_words


_rsample.defvjp(_rsample_fwd, _rsample_bwd)


def rsample(
    logits: Any,
    means: Any,
    scales: Any,
    seed: Any,
    sample_shape: tuple[int, ...] = (),
    *,
    method: str = "exact",
) -> jax.Array:
    """Reparameterized samples of a batch of diagonal Gaussian mixtures.

    Parameters
    ----------
    logits : array, shape (..., K)
        Unnormalized log mixing weights.
    means, scales : array, shape (..., K, D)
        Component means and standard deviations (> 0). The leading dimensions of the three
        arrays broadcast to the batch shape; all three share one float dtype.
    seed : int, uint32[2] array or typed JAX key
        See :func:`seed_words`. With an int s the samples equal
        ``mixgrad.DiagGaussianMixture(...).sample(n, seed=s)`` bit for bit.
    sample_shape : tuple of int
        Leading sample dimensions.
    method : {"exact", "quantile"}
        ``"exact"``: component then Gaussian; ``"quantile"``: quantile transform of seeded
        uniforms (smooth in the parameters for a fixed seed).

    Returns
    -------
    jax.Array, shape (*sample_shape, *batch_shape, D)
        Differentiable in logits, means and scales by implicit reparameterization.

    Raises
    ------
    TypeError, ValueError
        For mixed or non-float dtypes, shapes that do not fit, sample shapes that are not
        non-negative ints or too large, and (when the arrays are concrete, not traced) parameter
        values out of their domain: NaN or ``+inf`` logits, non-finite means, scales that are
        not finite and > 0. Each message names the argument. Under :func:`jax.jit` and other
        transformations the values are only known when the core runs: the same ValueError then
        arrives wrapped in JAX's runtime error.
    """
    _adapter.check_method(method)
    a, m, s = (jnp.asarray(t) for t in (logits, means, scales))
    dts = {a.dtype, m.dtype, s.dtype}
    if len(dts) > 1 or not jnp.issubdtype(m.dtype, jnp.floating) or m.dtype not in (jnp.float32, jnp.float64):
        raise TypeError(
            f"logits, means and scales must share one dtype, float32 or float64; got {a.dtype}, {m.dtype}, {s.dtype}"
        )
    if m.ndim < 2 or a.ndim < 1 or s.shape[-2:] != m.shape[-2:] or a.shape[-1] != m.shape[-2]:
        raise ValueError(
            f"expected logits (..., K), means and scales (..., K, D); got shapes {a.shape}, {m.shape}, {s.shape}"
        )
    K, D = m.shape[-2:]
    try:
        batch = np.broadcast_shapes(a.shape[:-1], m.shape[:-2], s.shape[:-2])
    except ValueError:
        raise ValueError(
            f"the batch dimensions of logits {a.shape[:-1]}, means {m.shape[:-2]} and scales "
            f"{s.shape[:-2]} do not broadcast"
        ) from None
    a = jnp.broadcast_to(a, (*batch, K))
    m = jnp.broadcast_to(m, (*batch, K, D))
    s = jnp.broadcast_to(s, (*batch, K, D))
    sample_shape = _check_sample_shape(sample_shape, int(np.prod(batch, dtype=np.int64)) * D, m.dtype.itemsize)
    n = math.prod(sample_shape) if sample_shape else None
    words = seed_words(seed)
    _check_values(a, m, s)
    x = _rsample(a, m, s, words, n, method)
    return x.reshape(sample_shape + batch + (D,))


def _check_sample_shape(sample_shape: Any, per_sample: int, itemsize: int) -> tuple[int, ...]:
    """``sample_shape`` as a tuple of non-negative ints whose samples fit in one array."""
    dims = (sample_shape,) if isinstance(sample_shape, (int, np.integer)) else tuple(sample_shape)
    out = tuple(check_count(d, "sample_shape entries", minimum=0) for d in dims)
    check_size(math.prod(out), per_sample, itemsize, "sample_shape's product")
    return out


def _check_values(a: jax.Array, m: jax.Array, s: jax.Array) -> None:
    """Check the parameter values (logits not NaN/+inf, finite means, finite positive scales)
    here, with a ValueError naming the argument, whenever they are concrete. Traced values
    (under jax.jit, jax.grad, jax.vmap) are checked by the core when the callback runs, and an
    error then reaches the caller wrapped in JAX's runtime error (its message ends with the same
    ValueError)."""
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
