"""JAX adapter (optional extra ``mixgrad[jax]``): reparameterized samples of diagonal Gaussian
mixtures whose gradients (logits, means, scales) come from mixgrad's implicit VJP.

``rsample`` is a :func:`jax.custom_vjp` whose forward and backward run the C++ core through
:func:`jax.pure_callback`, so it works under :func:`jax.jit`, :func:`jax.grad` and
:func:`jax.vmap` (sequentially) on the CPU.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .. import _adapter_mixture as _adapter
from . import _arguments as _args

__all__ = ["BACKENDS", "default_backend", "rsample", "seed_words"]

BACKENDS = ("core", "native")


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


def default_backend() -> str:
    """The backend :func:`rsample` uses when none is given: ``"native"`` when JAX's default
    platform is an accelerator, ``"core"`` (the faster one there) on the CPU.

    Returns
    -------
    str
        ``"core"`` or ``"native"``.
    """
    return "core" if jax.default_backend() == "cpu" else "native"


def rsample(
    logits: Any,
    means: Any,
    scales: Any,
    seed: Any,
    sample_shape: tuple[int, ...] = (),
    *,
    method: str = "exact",
    backend: str | None = None,
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
        ``backend="core"``: see :func:`seed_words`; with an int s the samples equal
        ``mixgrad.DiagGaussianMixture(...).sample(n, seed=s)`` bit for bit.
        ``backend="native"``: see :func:`mixgrad.jax.diag_native.native_key`; JAX's own random
        stream, so the samples differ from the core's for the same seed (the maps from noise to
        sample, and the gradients, agree).
    sample_shape : tuple of int
        Leading sample dimensions.
    method : {"exact", "quantile"}
        ``"exact"``: component then Gaussian; ``"quantile"``: quantile transform of seeded
        uniforms (smooth in the parameters for a fixed seed).
    backend : {None, "core", "native"}
        ``"core"``: the C++ core through :func:`jax.pure_callback` (CPU only; a
        :func:`jax.custom_vjp`, so reverse mode only: ``grad``, ``vjp``, ``jacrev``).
        ``"native"``: pure JAX (:mod:`mixgrad.jax.diag_native`) on any device, with a
        :func:`jax.custom_jvp`, so forward mode (``jvp``, ``jacfwd``, ``hessian``,
        ``linearize``) and higher derivatives work too. ``None``: :func:`default_backend`.

    Returns
    -------
    jax.Array, shape (*sample_shape, *batch_shape, D)
        Differentiable in logits, means and scales by implicit reparameterization.

    Raises
    ------
    TypeError, ValueError
        For mixed or non-float dtypes, shapes that do not fit, sample shapes that are not
        non-negative ints or too large, an unknown method or backend, and (when the arrays are
        concrete, not traced) parameter values out of their domain: NaN or ``+inf`` logits,
        non-finite means, scales that are not finite and > 0. Each message names the argument.
        Under :func:`jax.jit` and other transformations the core checks the values when it runs:
        the same ValueError then arrives wrapped in JAX's runtime error.
    """
    _adapter.check_method(method)
    if backend is None:
        backend = default_backend()
    if backend not in BACKENDS:
        raise ValueError(f"backend must be None or one of {BACKENDS}, got {backend!r}")
    if backend == "native":
        from .diag_native import rsample as native_rsample

        return native_rsample(logits, means, scales, seed, sample_shape, method=method)
    a, m, s, batch = _args.params(logits, means, scales)
    D = m.shape[-1]
    sample_shape = _args.check_sample_shape(sample_shape, int(np.prod(batch, dtype=np.int64)) * D, m.dtype.itemsize)
    n = math.prod(sample_shape) if sample_shape else None
    words = seed_words(seed)
    _args.check_values(a, m, s)
    x = _rsample(a, m, s, words, n, method)
    return x.reshape(sample_shape + batch + (D,))
