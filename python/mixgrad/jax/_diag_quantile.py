"""The quantile transform of a diagonal Gaussian mixture in jax.numpy: solve F_d(x_d | x_<d) = u_d
coordinate by coordinate (DESIGN.md section 3.4), as the C++ core does (``quantile.hpp``).

Per coordinate, a safeguarded Newton iteration on h(x) = log F(x) - log u (u < 1/2) or
log(1 - u) - log S(x) (u >= 1/2), inside the bracket [min_k q_k, max_k q_k] of the component
quantiles q_k = mu_k + sigma_k Phi^{-1}(u); a step that leaves the bracket falls back to its end
(once) or to bisection. It runs in a ``lax.while_loop`` that stops when every point has
converged or after ``MAX_STEPS`` steps, so it works under ``jit`` and ``vmap``; its derivative
is not taken through the iterations (see :func:`mixgrad.jax.quantile`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax
from jax.scipy.special import ndtri

from ._diag_math import SQRT_2PI, Stacked, _max_finite, scaled_tail

__all__ = ["MAX_STEPS", "solve"]

#: Newton/bisection steps per coordinate, at most. Newton converges in ~5-10 steps from the
#: weighted mean of the component quantiles; bisection needs ~60 to shrink a bracket to an ulp.
MAX_STEPS = 100


def _log_tail_and_slope(log_w, lower, x, mu, inv_sigma):
    """log C(x) (C = F where lower, else S) and d log F / dx (or -d log S / dx), each (N, B).

    With t_k = z_k (lower) or -z_k and a_k = log w_k - t_k^2/2, every term is scaled by e^{-M},
    M = max_k of a_k (t_k < 0) or log w_k (t_k >= 0), so none overflows:
    w_k Phi(t_k) = e^{a_k} Q(|t_k|) (t_k < 0) or w_k - e^{a_k} Q(t_k) (t_k >= 0).
    """
    z = (x[..., None] - mu) * inv_sigma
    t = jnp.where(lower[..., None], z, -z)
    a = log_w - 0.5 * (t * t)
    neg = t < 0.0
    m = _max_finite(jnp.where(neg, a, log_w))
    p = jnp.exp(a - m)
    q = p * scaled_tail(jnp.abs(t))
    s1 = jnp.sum(jnp.where(neg, q, jnp.exp(log_w - m) - q), axis=-1)
    s2 = jnp.sum(p * inv_sigma, axis=-1)
    return m[..., 0] + jnp.log(s1), s2 / s1 / SQRT_2PI


def _solve_coordinate(log_w, u, mu, sigma, inv_sigma):
    """x_d (N, B) with F_d(x_d) = u_d, for normalized log weights ``log_w`` (N, B, K)."""
    dtype = u.dtype
    eps = jnp.finfo(dtype).eps
    inf = jnp.asarray(jnp.inf, dtype)
    valid = (u >= 0.0) & (u <= 1.0) & ~jnp.isnan(jnp.sum(log_w, axis=-1))  # NaN earlier: NaN
    active = valid & (u > 0.0) & (u < 1.0)
    uc = jnp.where(active, u, 0.5)
    lower = uc < 0.5
    target = jnp.log(jnp.where(lower, uc, 1.0 - uc))
    q = mu + sigma * ndtri(uc)[..., None]
    live = log_w > -jnp.inf
    lo = jnp.min(jnp.where(live, q, inf), axis=-1)
    hi = jnp.max(jnp.where(live, q, -inf), axis=-1)
    x0 = jnp.clip(jnp.sum(jnp.where(live, jnp.exp(log_w) * q, 0.0), axis=-1), lo, hi)
    running = active & (lo < hi)
    tol_h = 4.0 * eps * (1.0 + jnp.abs(target))
    false = jnp.zeros_like(running)

    def body(state):
        i, x, lo, hi, lo_seen, hi_seen, running = state
        log_c, slope = _log_tail_and_slope(log_w, lower, jnp.where(running, x, lo), mu, inv_sigma)
        h = jnp.where(lower, log_c - target, target - log_c)
        below = h < 0.0
        nlo = jnp.where(below, x, lo)
        nhi = jnp.where(below, hi, x)
        nlo_seen = below | lo_seen
        nhi_seen = ~below | hi_seen
        xt = x - h / slope
        newton = (xt > nlo) & (xt < nhi)
        conv = (jnp.abs(h) <= tol_h) | (xt == x)
        # A Newton step past an end of the bracket tries that end first if h was never evaluated
        # there (the root is often within rounding of a component quantile), else bisects.
        xn = jnp.where(
            newton,
            xt,
            jnp.where(
                conv,
                x,
                jnp.where((xt >= nhi) & ~nhi_seen, nhi, jnp.where((xt <= nlo) & ~nlo_seen, nlo, 0.5 * (nlo + nhi))),
            ),
        )
        step = jnp.abs(xn - x)
        upd = running & (h != 0.0)
        stop = (
            (h == 0.0)
            | conv
            | (step <= 2.0 * eps * jnp.abs(xn))
            | ~(nlo < nhi)
            | (nhi - nlo <= 2.0 * eps * jnp.abs(xn))
        )
        return (
            i + 1,
            jnp.where(upd, xn, x),
            jnp.where(upd, nlo, lo),
            jnp.where(upd, nhi, hi),
            jnp.where(upd, nlo_seen, lo_seen),
            jnp.where(upd, nhi_seen, hi_seen),
            running & ~stop,
        )

    def cond(state):
        return (state[0] < MAX_STEPS) & jnp.any(state[-1])

    state = (jnp.asarray(0), jnp.where(active, x0, 0.0), lo, hi, false, false, running)
    x = lax.while_loop(cond, body, state)[1]
    edge = jnp.where(u == 0.0, -inf, inf)
    return jnp.where(active, x, jnp.where(valid, edge, jnp.nan))


def solve(p: Stacked, u: jax.Array) -> jax.Array:
    """x (D, N, B) with T(x) = u for u (D, N, B) in [0, 1] (0 -> -inf, 1 -> +inf, else NaN)."""

    def step(log_w, xs):
        ud, mu, sig, inv, logs = xs
        xd = _solve_coordinate(log_w, ud, mu, sig, inv)
        z = (xd[..., None] - mu) * inv
        ell = log_w - logs - 0.5 * (z * z)
        top = _max_finite(ell)
        ell = ell - top
        return ell - jnp.log(jnp.sum(jnp.exp(ell), axis=-1, keepdims=True)), xd

    lw0 = jnp.broadcast_to(p.log_weights, (u.shape[1], *p.log_weights.shape))
    _, x = lax.scan(step, lw0, (u, p.means, p.scales, p.inv_scales, p.log_scales))
    return x
