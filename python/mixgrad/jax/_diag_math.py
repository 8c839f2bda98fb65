"""The per-coordinate quantities of a diagonal Gaussian mixture's distributional transform, in
log space (DESIGN.md sections 3.1-3.3), as jax.numpy functions, and the scans over coordinates
built from them: the log density, u = T(x), and the tangent of a sample with u held fixed.

Layout: parameters are stacked per coordinate, ``(D, B, K)`` (B mixtures, K components), and
points ``(D, N, B)`` (N samples of each mixture), so that ``lax.scan`` runs over d and every step
is vectorized over samples, mixtures and components. The running log-weights are kept
normalized (log w^(d+1) = log r^(d), the responsibilities), so a coordinate far from every
component leaves the later ones exact, and a -inf logit is an exact zero weight throughout.

The tail terms follow the C++ core (``transform.hpp``): with r_k the responsibilities and
Q(y) = Phi(-y) e^{y^2/2} = erfcx(y/sqrt 2)/2,

    V_k = w_k Phi(-|z_k|) / f_d = r_k sigma_k sqrt(2 pi) Q(|z_k|),   W_k = w_k / f_d,
    A_k = w_k Phi(z_k) / f_d,  B_k = w_k Phi(-z_k) / f_d   (V_k, or W_k - V_k),
    term_k = w_k (Phi(z_k) - F_d) / f_d = A_k - w_k sum A = w_k sum B - B_k,

each from the smaller of sum A and sum B, so neither tail cancels. W_k is computed as
exp(log w_k - log f_d) per component rather than with one shared factor: it overflows only
where term_k itself is beyond double range.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax
from jax.scipy.special import erfcx

__all__ = [
    "Coordinate",
    "Stacked",
    "coordinate",
    "log_prob_scan",
    "scaled_tail",
    "stack_params",
    "tangent_scan",
    "transform_scan",
]

HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
SQRT_2PI = math.sqrt(2.0 * math.pi)
_SQRT_HALF = math.sqrt(0.5)
#: The gap in nats, -max_k log(w_k phi(z_k) sqrt(2 pi) / sigma_k), above which a point takes the
#: scaled form (the core's kScaledFormGap); below it W_k = w_k / f_d stays far from overflow.
SCALED_FORM_GAP = 30.0


class Stacked(NamedTuple):
    """A batch of mixtures in the scan layout: log weights (B, K); the rest (D, B, K)."""

    log_weights: jax.Array
    means: jax.Array
    scales: jax.Array
    inv_scales: jax.Array
    log_scales: jax.Array


def stack_params(logits: jax.Array, means: jax.Array, scales: jax.Array) -> Stacked:
    """(B, K) logits and (B, K, D) means and scales -> :class:`Stacked` (differentiable)."""
    m = jnp.moveaxis(means, -1, 0)
    s = jnp.moveaxis(scales, -1, 0)
    return Stacked(jax.nn.log_softmax(logits, axis=-1), m, s, 1.0 / s, jnp.log(s))


def scaled_tail(y: jax.Array) -> jax.Array:
    """Q(y) = Phi(-y) exp(y^2 / 2) for y >= 0 (Mills' ratio times phi's constant), in (0, 1/2]."""
    return 0.5 * erfcx(y * _SQRT_HALF)


def _max_finite(v: jax.Array) -> jax.Array:
    """max over the last axis (kept), 0 where every entry is -inf; no gradient (a shift)."""
    top = jnp.max(v, axis=-1, keepdims=True)
    return lax.stop_gradient(jnp.where(jnp.isfinite(top), top, 0.0))


class Coordinate(NamedTuple):
    """The quantities of coordinate d at the points x_d (shapes (N, B, K) or (N, B))."""

    z: jax.Array  # (x_d - mu_kd) / sigma_kd
    resp: jax.Array  # r_k = w_k phi(z_k) / (sigma_k f_d) = w_k^(d+1)
    term: jax.Array  # w_k (Phi(z_k) - F_d) / f_d = -(dx_d / d ell_k) at fixed u_d
    log_density: jax.Array  # log f_d
    lower: jax.Array  # F_d <= S_d: the lower tail is the smaller
    log_tail: jax.Array  # log F_d where lower, else log S_d
    next_log_weights: jax.Array  # log w^(d+1) = log r_k


def coordinate(
    log_w: jax.Array,
    w: jax.Array,
    x: jax.Array,
    mu: jax.Array,
    inv_sigma: jax.Array,
    sigma: jax.Array,
    log_sigma: jax.Array,
) -> Coordinate:
    """The transform's quantities for one coordinate.

    ``log_w`` and ``w`` (N, B, K) are the normalized log weights w^(d) and the weights; ``x``
    (N, B) the points' coordinate d; ``mu``, ``inv_sigma``, ``sigma``, ``log_sigma`` (B, K) the
    component parameters of coordinate d.
    """
    z = (x[..., None] - mu) * inv_sigma
    ell = log_w - log_sigma - 0.5 * (z * z)  # log(w_k phi(z_k) sqrt(2 pi) / sigma_k)
    top = _max_finite(ell)
    g = jnp.exp(ell - top)
    sum_g = jnp.sum(g, axis=-1, keepdims=True)
    resp = g / sum_g
    log_norm = top + jnp.log(sum_g)  # log(sqrt(2 pi) f_d)
    log_f = log_norm - HALF_LOG_2PI
    q = scaled_tail(jnp.abs(z))
    v = resp * sigma * (SQRT_2PI * q)
    big = jnp.exp(log_w - log_f)
    neg = z < 0.0
    a = jnp.where(neg, v, big - v)
    b = jnp.where(neg, big - v, v)
    sum_a = jnp.sum(a, axis=-1, keepdims=True)
    sum_b = jnp.sum(b, axis=-1, keepdims=True)
    lower = sum_a <= sum_b
    term = jnp.where(lower, a - w * sum_a, w * sum_b - b)
    log_tail = log_f + jnp.log(jnp.where(lower, sum_a, sum_b))
    # Points more than SCALED_FORM_GAP nats below every component: W_k = w_k / f_d may
    # overflow although F_d, S_d and term_k do not; those points take the scaled form. A branch
    # (not a select) inside the scan, so the common case pays nothing for it.
    far = -top > SCALED_FORM_GAP
    term, lower, log_tail = lax.cond(
        jnp.any(far),
        lambda: _with_scaled_form(far, (term, lower, log_tail), log_w, w, z, q, log_f),
        lambda: (term, lower, log_tail),
    )
    next_lw = (ell - top) - jnp.log(sum_g)  # not ell - log_norm: ell may be ~-1e16
    return Coordinate(z, resp, term, log_f[..., 0], lower[..., 0], log_tail[..., 0], next_lw)


def _with_scaled_form(far, plain, log_w, w, z, q, log_f):
    """(term, lower, log_tail) with the points marked ``far`` in the scaled form of the core's
    ``scaled_sides``: with a_k = log w_k - z_k^2/2, each side has its own scale e^{M_A}, e^{M_B}
    (M_A the largest of a_k over z_k < 0 and of log w_k over z_k >= 0; M_B the mirror image):

        X_k = w_k Phi(z_k) e^{-M_A},  Y_k = w_k Phi(-z_k) e^{-M_B}  (each <= 1),
        F_d = e^{M_A} sum X,  term_k = (X_k - w_k sum X) e^{M_A - log f_d}  (or the Y form).
    """
    a = log_w - 0.5 * (z * z)
    neg = z < 0.0
    m_a = _max_finite(jnp.where(neg, a, log_w))
    m_b = _max_finite(jnp.where(neg, log_w, a))
    tail_a = jnp.exp(a - m_a) * q
    tail_b = jnp.exp(a - m_b) * q
    x = jnp.where(neg, tail_a, jnp.exp(log_w - m_a) - tail_a)
    y = jnp.where(neg, jnp.exp(log_w - m_b) - tail_b, tail_b)
    sum_x = jnp.sum(x, axis=-1, keepdims=True)
    sum_y = jnp.sum(y, axis=-1, keepdims=True)
    log_fx = m_a + jnp.log(sum_x)
    log_fy = m_b + jnp.log(sum_y)
    lower = log_fx <= log_fy
    t = jnp.where(lower, x - w * sum_x, w * sum_y - y)
    # t e^{scale} as sign * exp(scale + log|t|): finite whenever the product is, 0 for t = 0.
    scale = jnp.where(lower, m_a, m_b) - log_f
    safe = jnp.where(t == 0.0, 1.0, jnp.abs(t))
    term = jnp.where(t == 0.0, 0.0, jnp.sign(t) * jnp.exp(scale + jnp.log(safe)))
    log_tail = jnp.where(lower, log_fx, log_fy)
    scaled = (term, lower, log_tail)
    return tuple(jnp.where(far, s_, p_) for s_, p_ in zip(scaled, plain))


def _initial(p: Stacked, n: int) -> tuple[jax.Array, jax.Array]:
    lw = jnp.broadcast_to(p.log_weights, (n, *p.log_weights.shape))
    return lw, jnp.exp(lw)


def transform_scan(p: Stacked, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(lower, log_tail), each (D, N, B), of the points x (D, N, B): u = F or 1 - S from them."""

    def step(carry, xs):
        lw, w = carry
        xd, mu, inv, sig, logs = xs
        c = coordinate(lw, w, xd, mu, inv, sig, logs)
        return (c.next_log_weights, c.resp), (c.lower, c.log_tail)

    _, out = lax.scan(step, _initial(p, x.shape[1]), (x, p.means, p.inv_scales, p.scales, p.log_scales))
    return out


def tangent_scan(
    p: Stacked,
    x: jax.Array,
    d_logits: jax.Array,
    d_means: jax.Array,
    d_scales: jax.Array,
    d_u: jax.Array | None = None,
) -> jax.Array:
    """The tangent of the points x (D, N, B) that keep u = T(x) fixed (DESIGN 3.2, run forward).

    ``d_logits`` (B, K), ``d_means`` and ``d_scales`` (D, B, K) are the parameter tangents;
    ``d_u`` (D, N, B), if given, a tangent of u. Per coordinate,

        dx_d = sum_k r_k (dmu_k + z_k dsigma_k) - term_k dell_k + du_d / f_d,
        dell_k += (z_k / sigma_k) (dmu_k - dx_d) + ((z_k^2 - 1) / sigma_k) dsigma_k,

    with dell the tangent of the running log-weights (it starts at d_logits). Linear in the
    tangents, so JAX transposes it for reverse mode; O(K) per sample and coordinate.
    """
    n = x.shape[1]

    def step(carry, xs):
        lw, w, dl = carry
        xd, mu, inv, sig, logs, dmu, dsig, du = xs
        c = coordinate(lw, w, xd, mu, inv, sig, logs)
        dx = jnp.sum(c.resp * (dmu + c.z * dsig) - c.term * dl, axis=-1)
        if du is not None:
            dx = dx + du * jnp.exp(-c.log_density)
        # Products ordered so that only z, r and term are kept for the transpose.
        dsig_s = inv * dsig
        dl = dl + c.z * (inv * (dmu - dx[..., None])) + c.z * (c.z * dsig_s) - dsig_s
        return (c.next_log_weights, c.resp, dl), dx

    lw, w = _initial(p, n)
    dl0 = jnp.broadcast_to(d_logits, lw.shape).astype(lw.dtype)
    xs = (x, p.means, p.inv_scales, p.scales, p.log_scales, d_means, d_scales, d_u)
    _, dx = lax.scan(step, (lw, w, dl0), xs)
    return dx


def log_prob_scan(p: Stacked, x: jax.Array) -> jax.Array:
    """log f(x), (N, B), of the points x (D, N, B): lse_k(log w_k + sum_d log N(x_d; mu, sigma))."""

    def step(ell, xs):
        xd, mu, inv, logs = xs
        z = (xd[..., None] - mu) * inv
        return ell - logs - 0.5 * (z * z), None

    ell0 = jnp.broadcast_to(p.log_weights, (x.shape[1], *p.log_weights.shape))
    ell, _ = lax.scan(step, ell0, (x, p.means, p.inv_scales, p.log_scales))
    top = _max_finite(ell)
    lse = top[..., 0] + jnp.log(jnp.sum(jnp.exp(ell - top), axis=-1))
    out = lse - x.shape[0] * HALF_LOG_2PI
    return jnp.where(jnp.any(jnp.isnan(x), axis=0), jnp.nan, out)
