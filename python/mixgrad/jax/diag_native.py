"""Diagonal Gaussian mixtures in pure JAX (``jax.numpy`` and ``lax``): the log density, the
distributional transform, the quantile transform and reparameterized samples whose derivatives
are the implicit ones, on any JAX device.

The derivative of a sample x(theta, noise) is a :func:`jax.custom_jvp` whose rule is the
forward-mode recurrence of DESIGN.md section 3.2 (the tangent of x_d is
-(dF_d/dtheta . dtheta + sum_{j<d} dF_d/dx_j dx_j) / f_d, one scan over coordinates, O(K D) per
sample), written in jax.numpy: reverse mode comes by transposing it, higher derivatives by
differentiating it. ``jit``, ``vmap``, ``grad``, ``jvp``, ``jacfwd``, ``jacrev``, ``hessian``,
``linearize`` and their compositions all apply.

Precision: float64 inputs are computed in float64; float32 inputs are computed in float64 when
``jax_enable_x64`` is on (and the results rounded to float32), else in float32.
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
from ._diag_math import log_prob_scan, stack_params, tangent_scan, transform_scan
from ._diag_quantile import MAX_STEPS, solve

__all__ = ["MAX_STEPS", "cdf_transform", "log_prob", "native_key", "quantile", "rsample"]


# --- the sample maps with their implicit derivatives (canonical shapes: logits (B, K), means and
# scales (B, K, D), points and uniforms (N, B, D)) ---------------------------------------------


#: Samples per chunk of the tangent recurrence (times the batch size): reverse mode keeps the
#: per-(sample, component, coordinate) residuals of one chunk at a time, recomputing them in the
#: backward pass (jax.checkpoint), instead of O(N K D) for the whole batch.
CHUNK_ROWS = 8192


@jax.jit  # compiled once per shape, also when called eagerly
def _implicit_tangent(a, m, s, x, da, dm, ds, du):
    """Tangent (N, B, D) of the points x at fixed u = T(x) (plus du / f where du is given)."""
    p = stack_params(a, m, s)
    dmt, dst = (jnp.moveaxis(t, -1, 0) for t in (dm, ds))

    def rows(xs):
        xc, duc = xs
        dut = None if duc is None else jnp.moveaxis(duc, -1, 0)
        return jnp.moveaxis(tangent_scan(p, jnp.moveaxis(xc, -1, 0), da, dmt, dst, dut), 0, -1)

    n, b, d = x.shape
    chunk = max(1, CHUNK_ROWS // max(b, 1))
    if n <= chunk:
        return rows((x, du))
    count = -(-n // chunk)
    pad = count * chunk - n

    def split(t):  # (N, B, D) -> (count, chunk, B, D), padded with copies of the first row
        t = jnp.concatenate([t, jnp.broadcast_to(t[:1], (pad, b, d))]) if pad else t
        return t.reshape(count, chunk, b, d)

    out = jax.lax.map(jax.checkpoint(rows), (split(x), None if du is None else split(du)))
    return out.reshape(count * chunk, b, d)[:n]


@jax.custom_jvp
def _reparameterized(a, m, s, x):
    """x itself, whose tangent is the implicit one: x moves with (a, m, s) keeping T(x) fixed.
    x must not depend on (a, m, s) by any other path (the caller stops its gradient)."""
    return x


@_reparameterized.defjvp
def _reparameterized_jvp(primals, tangents):
    a, m, s, x0 = primals
    da, dm, ds, _ = tangents
    x = _reparameterized(a, m, s, x0)  # through the rule again, for higher derivatives
    return x, _implicit_tangent(a, m, s, x, da, dm, ds, None)


@jax.jit
def _solve_rows(a, m, s, u):
    return jnp.moveaxis(solve(stack_params(a, m, s), jnp.moveaxis(u, -1, 0)), 0, -1)


@jax.jit
def _log_prob_rows(a, m, s, x):
    return log_prob_scan(stack_params(a, m, s), jnp.moveaxis(x, -1, 0))


@jax.jit
def _cdf_rows(a, m, s, x):
    lower, log_tail = transform_scan(stack_params(a, m, s), jnp.moveaxis(x, -1, 0))
    tail = jnp.exp(log_tail)
    return jnp.moveaxis(jnp.where(lower, tail, 1.0 - tail), 0, -1)


@jax.custom_jvp
def _quantile(a, m, s, u):
    """x with T(x) = u; differentiable in (a, m, s, u) by the implicit function theorem."""
    return _solve_rows(a, m, s, u)


@_quantile.defjvp
def _quantile_jvp(primals, tangents):
    a, m, s, u = primals
    da, dm, ds, du = tangents
    x = _quantile(a, m, s, u)
    return x, _implicit_tangent(a, m, s, x, da, dm, ds, du)


@functools.partial(jax.jit, static_argnums=(4, 5))
def _exact_points(key, a, m, s, n, dtype):
    """n points (n, B, D) in ``dtype``: component k ~ Cat(softmax(a)), then mu_k + sigma_k eps
    (no gradient: the caller attaches the implicit one)."""
    a, m, s = (jax.lax.stop_gradient(t) for t in (a, m, s))
    k_comp, k_noise = jax.random.split(key)
    comp = jax.random.categorical(k_comp, a, axis=-1, shape=(n, a.shape[0]))
    eps = jax.random.normal(k_noise, (n, *m.shape[::2]), dtype)
    rows = jnp.arange(a.shape[0])[None, :]
    return m.astype(dtype)[rows, comp] + s.astype(dtype)[rows, comp] * eps


# --- arguments ------------------------------------------------------------------------------


def _compute_dtype(dtype: Any) -> Any:
    return jnp.float64 if jax.config.read("jax_enable_x64") else dtype


class _Canonical:
    """Parameters reshaped to (B, K) and (B, K, D) in the compute dtype, with the batch shape."""

    def __init__(self, logits: Any, means: Any, scales: Any) -> None:
        pr = _args.params(logits, means, scales)
        _args.check_values(pr.logits, pr.means, pr.scales)
        self.batch = pr.batch
        self.K, self.D = pr.means.shape[-2:]
        self.B = math.prod(self.batch)
        self.dtype = pr.means.dtype
        ct = _compute_dtype(self.dtype)
        self.a = pr.logits.reshape(self.B, self.K).astype(ct)
        self.m = pr.means.reshape(self.B, self.K, self.D).astype(ct)
        self.s = pr.scales.reshape(self.B, self.K, self.D).astype(ct)

    def rows(self, x: Any, name: str) -> tuple[jax.Array, tuple[int, ...]]:
        """Points (..., D) broadcast against the batch -> (N, B, D) in the compute dtype, and
        the leading shape of the result."""
        x = jnp.asarray(x)
        if not jnp.issubdtype(x.dtype, jnp.floating):
            raise TypeError(f"{name} must be a float array, got dtype {x.dtype}")
        if x.ndim < 1 or x.shape[-1] != self.D:
            raise ValueError(f"{name} must have shape (..., {self.D}) (the event size), got {x.shape}")
        try:
            lead = tuple(np.broadcast_shapes(x.shape[:-1], self.batch))
        except ValueError:
            raise ValueError(
                f"{name}'s leading dimensions {x.shape[:-1]} do not broadcast with the batch shape {self.batch}"
            ) from None
        n = math.prod(lead[: len(lead) - len(self.batch)])
        x = jnp.broadcast_to(x.astype(self.dtype), (*lead, self.D)).reshape(n, self.B, self.D)
        return x.astype(self.a.dtype), lead


def native_key(seed: Any) -> jax.Array:
    """The typed JAX PRNG key of a seed for the native path.

    Parameters
    ----------
    seed : int, typed JAX key, or uint32 raw key data
        An int becomes ``jax.random.key(seed)``; a typed key (``jax.random.key``) is used as
        is; a raw uint32 key (``jax.random.PRNGKey``) is wrapped.

    Returns
    -------
    jax.Array
        A typed key.
    """
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return jax.random.key(int(seed))
    arr = seed if isinstance(seed, jax.Array) else jnp.asarray(seed)
    if jax.dtypes.issubdtype(arr.dtype, jax.dtypes.prng_key):
        return arr
    if arr.dtype == jnp.uint32 and arr.ndim == 1:
        return jax.random.wrap_key_data(arr)
    raise TypeError(f"seed must be an int, a typed JAX key or uint32 key data; got dtype {arr.dtype} shape {arr.shape}")


# --- public functions -----------------------------------------------------------------------


def log_prob(logits: Any, means: Any, scales: Any, x: Any) -> jax.Array:
    """Log density of a batch of diagonal Gaussian mixtures, in pure JAX.

    Parameters
    ----------
    logits : array, shape (..., K)
        Unnormalized log mixing weights (``-inf`` is a zero weight).
    means, scales : array, shape (..., K, D)
        Component means and standard deviations (> 0). The leading dimensions of the three
        arrays broadcast to the batch shape; all three share one float dtype.
    x : array, shape (..., D)
        Points; the leading dimensions end with (a broadcast of) the batch shape.

    Returns
    -------
    jax.Array, shape (*sample_shape, *batch_shape)
        ``log f(x)``, differentiable in every argument (ordinary autodiff); NaN where x has NaN.
    """
    c = _Canonical(logits, means, scales)
    xr, lead = c.rows(x, "x")
    return _log_prob_rows(c.a, c.m, c.s, xr).astype(c.dtype).reshape(lead)


def cdf_transform(logits: Any, means: Any, scales: Any, x: Any) -> jax.Array:
    """The distributional transform u = T(x), u_d = F_d(x_d | x_<d), in pure JAX.

    Parameters
    ----------
    logits, means, scales : array
        As in :func:`log_prob`.
    x : array, shape (..., D)
        Points; the leading dimensions end with (a broadcast of) the batch shape.

    Returns
    -------
    jax.Array, shape (*sample_shape, *batch_shape, D)
        u in [0, 1], each coordinate from the smaller of its tails (log space, erfcx for the
        tail terms), so far-away points give exact 0 or 1 rather than NaN. Differentiable by
        ordinary autodiff.
    """
    c = _Canonical(logits, means, scales)
    xr, lead = c.rows(x, "x")
    return _cdf_rows(c.a, c.m, c.s, xr).astype(c.dtype).reshape(*lead, c.D)


def quantile(logits: Any, means: Any, scales: Any, u: Any) -> jax.Array:
    """The quantile transform x = T^{-1}(u), inverse of :func:`cdf_transform`, in pure JAX.

    Solves F_d(x_d | x_<d) = u_d coordinate by coordinate with a safeguarded Newton iteration in
    log space inside the bracket of the component quantiles (bisection when a step leaves it),
    as the C++ core does; each coordinate stops when every point has converged, after at most
    :data:`MAX_STEPS` steps, so it runs under ``jit`` and ``vmap``.

    Parameters
    ----------
    logits, means, scales : array
        As in :func:`log_prob`.
    u : array, shape (..., D)
        Values in [0, 1] (0 gives -inf, 1 gives +inf, anything else NaN); the leading
        dimensions end with (a broadcast of) the batch shape.

    Returns
    -------
    jax.Array, shape (*sample_shape, *batch_shape, D)
        x, differentiable in the parameters and in u by the implicit function theorem
        (:func:`jax.custom_jvp`; never through the iterations): dx/dtheta at fixed u is the
        implicit reparameterization gradient, dx_d/du_d = 1/f_d.
    """
    c = _Canonical(logits, means, scales)
    ur, lead = c.rows(u, "u")
    return _quantile(c.a, c.m, c.s, ur).astype(c.dtype).reshape(*lead, c.D)


def rsample(
    logits: Any,
    means: Any,
    scales: Any,
    seed: Any,
    sample_shape: tuple[int, ...] = (),
    *,
    method: str = "exact",
) -> jax.Array:
    """Reparameterized samples of a batch of diagonal Gaussian mixtures, in pure JAX.

    Parameters
    ----------
    logits, means, scales : array
        As in :func:`log_prob`.
    seed : int, typed JAX key, or uint32 key data
        See :func:`native_key`. The random stream is JAX's, not the C++ core's: the same int
        seed gives different samples from ``backend="core"``.
    sample_shape : tuple of int
        Leading sample dimensions.
    method : {"exact", "quantile"}
        ``"exact"``: component k ~ Cat(softmax(logits)), then x = mu_k + sigma_k eps;
        ``"quantile"``: x = :func:`quantile` of uniforms (smooth in the parameters for a fixed
        key).

    Returns
    -------
    jax.Array, shape (*sample_shape, *batch_shape, D)
        Differentiable in logits, means and scales by implicit reparameterization (u = T(x)
        held fixed), to any order and in forward or reverse mode.
    """
    _adapter.check_method(method)
    c = _Canonical(logits, means, scales)
    shape = _args.check_sample_shape(sample_shape, c.B * c.D, np.dtype(c.dtype).itemsize)
    n = math.prod(shape)
    key = native_key(seed)
    if method == "exact":
        x0 = _exact_points(key, c.a, c.m, c.s, n, c.dtype)
        x = _reparameterized(c.a, c.m, c.s, x0.astype(c.a.dtype))
    else:
        tiny = jnp.finfo(c.dtype).tiny
        u = jax.random.uniform(key, (n, c.B, c.D), c.dtype, minval=tiny, maxval=1.0)
        x = _quantile(c.a, c.m, c.s, u.astype(c.a.dtype))
    return x.astype(c.dtype).reshape(*shape, *c.batch, c.D)
