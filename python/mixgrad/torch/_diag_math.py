"""Diagonal Gaussian mixtures in torch ops: the forward recurrence of the distributional
transform in log space (DESIGN.md 3.1 and 9), and from it the implicit VJP and JVP (3.3) and
u = T(x). Vectorized over samples and components, a Python loop over the coordinates; every
function takes its device and dtype from its inputs and works in float64 (as the C++ core does:
float32 tails need float64 sums), casting results back.

Shapes: logits (*batch, K), means and scales (*batch, K, D), points (*sample, *batch, D); any
leading dimensions that broadcast.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

__all__ = [
    "Params",
    "cdf_transform",
    "coordinate",
    "jvp",
    "next_log_weights",
    "one_side",
    "prepare",
    "scaled_lower_tail",
    "vjp",
    "vjp_chunked",
]

WORK_DTYPE = torch.float64
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
_SQRT_HALF = math.sqrt(0.5)
# exp(x/2)^2 with x clamped here is finite, so term_k = (t_k e^{x/2}) e^{x/2} is 0 for t_k = 0 and
# overflows to an infinity of the right sign only where the exact value does (DESIGN 9).
_MAX_LOG_SCALE = 1400.0
# Phi(z) ~ sigmoid(1.702 z) within 0.01: enough to tell which tail is smaller.
_LOGISTIC_SCALE = 1.702
# Elements (rows x K) per block of vjp_chunked: a block's per-coordinate arrays stay in cache.
CHUNK_ELEMENTS = 1 << 17


class Params(NamedTuple):
    """Parameters in the working dtype, one (*batch, K) slice per coordinate."""

    log_w: torch.Tensor  # log-softmax of the logits, (*batch, K); -inf for a zero weight
    mu: tuple[torch.Tensor, ...]
    sigma: tuple[torch.Tensor, ...]
    log_sigma: tuple[torch.Tensor, ...]
    inv_sigma: tuple[torch.Tensor, ...]


def prepare(logits: torch.Tensor, means: torch.Tensor, scales: torch.Tensor) -> Params:
    """Working-dtype parameters (differentiable: autograd sees every step)."""
    s = scales.to(WORK_DTYPE)
    return Params(
        torch.log_softmax(logits.to(WORK_DTYPE), dim=-1),
        means.to(WORK_DTYPE).unbind(-1),
        s.unbind(-1),
        torch.log(s).unbind(-1),
        torch.reciprocal(s).unbind(-1),
    )


def scaled_lower_tail(y: torch.Tensor) -> torch.Tensor:
    """Q(y) = Phi(-y) e^{y^2/2} for y >= 0 (at most 1/2; ~1/(y sqrt(2 pi)) for large y)."""
    return 0.5 * torch.special.erfcx(y * _SQRT_HALF)


def one_side(
    log_w: torch.Tensor, z: torch.Tensor, sign: torch.Tensor, q: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The smaller tail of one coordinate, scaled so that no term overflows.

    With q = Q(|z|) (:func:`scaled_lower_tail`), t_k = sign * z_k (sign = +1: the lower tail F,
    -1: the upper tail S) and M = max_k (log w_k - z_k^2/2 where t_k < 0, else log w_k), returns
    X_k = w_k Phi(t_k) e^{-M} (each at most 1), M (keepdim) and P_k = w_k e^{-z_k^2/2 - M}
    (for the density). The tail is e^M sum_k X_k; the terms with t_k < 0 come from
    Q(|z_k|) e^{log w_k - z_k^2/2 - M}, never from 1 - Phi (DESIGN 9).
    """
    t = sign * z
    below = t < 0
    a = log_w - 0.5 * (z * z)
    m = torch.where(below, a, log_w).amax(-1, keepdim=True)
    m = torch.where(torch.isfinite(m), m, torch.zeros_like(m))
    p = torch.exp(a - m)
    tail = p * q
    # exp of the guarded argument: the unused branch stays finite (no NaN in double backward).
    whole = torch.exp(torch.where(below, torch.zeros_like(a), log_w - m))
    return torch.where(below, tail, whole - tail), m, p


class Coordinate(NamedTuple):
    """The per-coordinate quantities of the forward recurrence (DESIGN 3.1, 3.3)."""

    z: torch.Tensor  # (x_d - mu_kd) / sigma_kd, (..., K)
    log_r: torch.Tensor  # log w^(d+1): the responsibilities, the next running log weights
    log_f: torch.Tensor  # log f_d, (..., 1)
    lower: torch.Tensor  # F_d <= 1/2 (the lower tail is the smaller one), (..., 1)
    log_tail: torch.Tensor  # log F_d if lower else log S_d, (..., 1)
    term: torch.Tensor | None  # w_k (Phi(z_k) - F_d) / f_d, (..., K)


def next_log_weights(
    log_w: torch.Tensor, z: torch.Tensor, log_sigma: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """log w^(d+1) = log-softmax(log w^(d) + log N(x_d; mu, sigma)) and log f_d (keepdim).

    z^2/2 enters as (|z_k| - z_min)(|z_k| + z_min)/2 with z_min the smallest live |z_k|: a
    constant shift, so the weights stay exact when x_d is so far out that z^2 overflows.
    """
    az = z.abs()
    live = log_w > -math.inf
    z_min = torch.where(live, az, torch.full_like(az, math.inf)).amin(-1, keepdim=True)
    z_min = torch.where(torch.isfinite(z_min), z_min, torch.zeros_like(z_min))
    lp = log_w - log_sigma - 0.5 * ((az - z_min) * (az + z_min))
    lse = torch.logsumexp(lp, dim=-1, keepdim=True)
    return lp - lse, lse - 0.5 * (z_min * z_min) - _HALF_LOG_2PI


def coordinate(
    log_w: torch.Tensor,
    w: torch.Tensor,
    x_d: torch.Tensor,
    mu: torch.Tensor,
    log_sigma: torch.Tensor,
    inv_sigma: torch.Tensor,
    *,
    with_term: bool,
) -> Coordinate:
    """One step of the forward recurrence at x_d (shape (...,)); w = exp(log_w)."""
    z = (x_d.unsqueeze(-1) - mu) * inv_sigma
    log_r, log_f = next_log_weights(log_w, z, log_sigma)
    # Which tail is smaller: an estimate suffices (both forms are exact near F = 1/2).
    with torch.no_grad():
        lower = (w * torch.sigmoid(_LOGISTIC_SCALE * z)).sum(-1, keepdim=True) <= 0.5
    sign = torch.where(lower, 1.0, -1.0).to(z.dtype)
    x_scaled, m, _ = one_side(log_w, z, sign, scaled_lower_tail(z.abs()))
    total = x_scaled.sum(-1, keepdim=True)
    log_tail = m + torch.log(total)
    term = None
    if with_term:
        # lower: A_k - w_k sum A; upper: w_k sum B - B_k, with A_k = X_k e^{M - log f_d}.
        half = torch.exp(0.5 * torch.clamp(m - log_f, max=_MAX_LOG_SCALE))
        term = ((x_scaled - w * total) * (sign * half)) * half
    return Coordinate(z, log_r, log_f, lower, log_tail, term)


def _rows(p: Params, x: torch.Tensor):
    """Initial running log weights and weights broadcast against the rows of x."""
    lead = x.shape[:-1]
    log_w = p.log_w.expand(*torch.broadcast_shapes(lead, p.log_w.shape[:-1]), p.log_w.shape[-1])
    return log_w, torch.exp(log_w)


def cdf_transform(logits: torch.Tensor, means: torch.Tensor, scales: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """u = T(x), u_d = F_d(x_d | x_<d), in x's dtype (differentiable by autograd)."""
    p = prepare(logits, means, scales)
    xw = x.to(WORK_DTYPE)
    log_w, w = _rows(p, xw)
    out = []
    for d in range(len(p.mu)):
        c = coordinate(log_w, w, xw[..., d], p.mu[d], p.log_sigma[d], p.inv_sigma[d], with_term=False)
        tail = torch.exp(c.log_tail)
        out.append(torch.where(c.lower, tail, 1.0 - tail).squeeze(-1))
        log_w = c.log_r
        w = torch.exp(log_w)
    return torch.stack(out, -1).to(x.dtype)


def vjp_chunked(
    logits: torch.Tensor,
    means: torch.Tensor,
    scales: torch.Tensor,
    x: torch.Tensor,
    grad_x: torch.Tensor,
    *,
    with_u: bool = False,
    chunk_elements: int = CHUNK_ELEMENTS,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """:func:`vjp` over blocks of the sample dimensions (for a first derivative without a graph):
    the per-coordinate scratch of a block stays in cache and the memory is that of one block.
    Parameters batch-shaped, x of shape (*sample, *batch, D)."""
    lead = x.dim() - logits.dim()
    if lead < 1 or x.numel() == 0:
        return vjp(logits, means, scales, x, grad_x, with_u=with_u)
    rows = x.reshape(-1, *x.shape[lead:])
    g = grad_x.expand_as(x).reshape(rows.shape)
    per_row = max(1, rows[0].numel() // x.shape[-1] * logits.shape[-1])
    step = max(1, chunk_elements // per_row)
    totals: list[torch.Tensor] = []
    parts_u: list[torch.Tensor] = []
    for i in range(0, rows.shape[0], step):
        ga, gm, gs, gu = vjp(logits, means, scales, rows[i : i + step], g[i : i + step], with_u=with_u)
        totals = [ga, gm, gs] if not totals else [t + v for t, v in zip(totals, (ga, gm, gs))]
        if gu is not None:
            parts_u.append(gu)
    gu_all = torch.cat(parts_u).reshape(x.shape) if with_u else None
    return totals[0], totals[1], totals[2], gu_all


def vjp(
    logits: torch.Tensor,
    means: torch.Tensor,
    scales: torch.Tensor,
    x: torch.Tensor,
    grad_x: torch.Tensor,
    *,
    with_u: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Gradient of sum(grad_x * x) with u = T(x) held fixed (DESIGN 3.3).

    Returns the gradients for logits, means and scales, in their shapes (summed over the
    dimensions of x they were broadcast over), and, with ``with_u``, dx/du applied to grad_x
    (the gradient for u when x = quantile(u)), in x's shape. Written in differentiable ops:
    autograd through it gives second derivatives.
    """
    p = prepare(logits, means, scales)
    xw = x.to(WORK_DTYPE)
    gw = grad_x.to(WORK_DTYPE)
    log_w, w = _rows(p, xw)
    D = len(p.mu)
    saved = []
    for d in range(D):
        c = coordinate(log_w, w, xw[..., d], p.mu[d], p.log_sigma[d], p.inv_sigma[d], with_term=True)
        assert c.term is not None
        saved.append((c.z, torch.exp(c.log_r), c.term, c.log_f))
        log_w = c.log_r
        w = saved[-1][1]
    lam = torch.zeros_like(log_w)
    g_mu: list[torch.Tensor] = [lam] * D
    g_sigma: list[torch.Tensor] = [lam] * D
    g_u: list[torch.Tensor] = [lam] * D
    for d in reversed(range(D)):
        z, r, term, log_f = saved[d]
        zs = z * p.inv_sigma[d]
        x_bar = gw[..., d].unsqueeze(-1) - (lam * zs).sum(-1, keepdim=True)
        xr = x_bar * r
        g_mu[d] = lam * zs + xr
        g_sigma[d] = lam * (z * zs - p.inv_sigma[d]) + xr * z
        if with_u:
            g_u[d] = (x_bar * torch.exp(-log_f)).squeeze(-1)
        lam = lam - x_bar * term
    ga = lam.sum_to_size(logits.shape)
    gm = torch.stack(g_mu, -1).sum_to_size(means.shape)
    gs = torch.stack(g_sigma, -1).sum_to_size(scales.shape)
    gu = torch.stack(g_u, -1).to(x.dtype) if with_u else None
    return ga.to(logits.dtype), gm.to(means.dtype), gs.to(scales.dtype), gu


def jvp(
    logits: torch.Tensor,
    means: torch.Tensor,
    scales: torch.Tensor,
    x: torch.Tensor,
    t_logits: torch.Tensor | None,
    t_means: torch.Tensor | None,
    t_scales: torch.Tensor | None,
    t_u: torch.Tensor | None = None,
) -> torch.Tensor:
    """The change of x along a parameter direction (and of u, when x = quantile(u)), u held
    fixed: the forward-mode recurrence x_dot_d = sum_k r_k (mu_dot + z sigma_dot) -
    term_k ell_dot_k (+ u_dot_d / f_d). A missing tangent means zero. Shape of x."""
    p = prepare(logits, means, scales)
    xw = x.to(WORK_DTYPE)
    log_w, w = _rows(p, xw)
    D = len(p.mu)
    zero = torch.zeros((), dtype=WORK_DTYPE, device=x.device)
    ta = zero if t_logits is None else t_logits.to(WORK_DTYPE)
    tm = [zero] * D if t_means is None else t_means.to(WORK_DTYPE).unbind(-1)
    ts = [zero] * D if t_scales is None else t_scales.to(WORK_DTYPE).unbind(-1)
    lam = ta + torch.zeros_like(log_w)  # the tangent of the running log weights
    out = []
    for d in range(D):
        c = coordinate(log_w, w, xw[..., d], p.mu[d], p.log_sigma[d], p.inv_sigma[d], with_term=True)
        assert c.term is not None
        r = torch.exp(c.log_r)
        xd = (r * (tm[d] + c.z * ts[d])).sum(-1, keepdim=True) - (c.term * lam).sum(-1, keepdim=True)
        if t_u is not None:
            xd = xd + t_u[..., d].to(WORK_DTYPE).unsqueeze(-1) * torch.exp(-c.log_f)
        zs = c.z * p.inv_sigma[d]
        lam = lam + zs * (tm[d] - xd) + (c.z * zs - p.inv_sigma[d]) * ts[d]
        out.append(xd.squeeze(-1))
        log_w, w = c.log_r, r
    return torch.stack(out, -1).to(x.dtype)
