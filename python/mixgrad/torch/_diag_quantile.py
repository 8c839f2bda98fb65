"""Diagonal Gaussian mixtures in torch ops: the quantile transform x = T^{-1}(u), solving
F_d(x_d | x_<d) = u_d coordinate by coordinate (DESIGN.md 3.4) with at most a fixed number
of safeguarded Newton steps, every lane in lockstep (converged lanes are frozen; the loop ends
when all are). Runs on any device; torch.compile sees it as one op
(``_diag_custom_ops.native_quantile``), so the loop is never unrolled. Not differentiable itself: the
implicit gradient is attached by the caller."""

from __future__ import annotations

import math

import torch

from ._diag_math import WORK_DTYPE, next_log_weights, one_side, prepare, scaled_lower_tail

__all__ = ["STEPS", "quantile"]

# Newton in log space from inside the bracket of the component quantiles converges in a few
# steps; the rest are for lanes that bisect first. Lanes that have converged are frozen.
STEPS = 48
_EPS = torch.finfo(torch.float64).eps
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _solve(log_w, mu, sigma, inv_sigma, u):
    """x with F(x) = u for one coordinate: u (...,), parameters (..., K)."""
    ok = (u > 0) & (u < 1)
    lower = u < 0.5
    uc = torch.where(ok, u, torch.full_like(u, 0.5))
    target = torch.log(torch.where(lower, uc, 1.0 - uc))  # 1 - u is exact for u >= 1/2
    sign = torch.where(lower, 1.0, -1.0).to(u.dtype).unsqueeze(-1)
    # The root lies between the smallest and largest component quantile (live components).
    q = mu + sigma * torch.special.ndtri(uc).unsqueeze(-1)
    live = log_w > -math.inf
    inf = torch.full_like(q, math.inf)
    lo = torch.where(live, q, inf).amin(-1)
    hi = torch.where(live, q, -inf).amax(-1)
    x = torch.minimum(torch.maximum((torch.exp(log_w) * q).sum(-1), lo), hi)
    active = ok & (lo < hi)
    lo_seen = torch.zeros_like(ok)  # h was evaluated at lo / hi (else try the end itself)
    hi_seen = torch.zeros_like(ok)
    tol = 4.0 * _EPS * (1.0 + target.abs())
    for _ in range(STEPS):
        z = (x.unsqueeze(-1) - mu) * inv_sigma
        x_scaled, m, p = one_side(log_w, z, sign, scaled_lower_tail(z.abs()))
        total = x_scaled.sum(-1)
        log_c = m.squeeze(-1) + torch.log(total)
        slope = (p * inv_sigma).sum(-1) / total * _INV_SQRT_2PI  # f / C: d log C / dx, up to sign
        h = torch.where(lower, log_c - target, target - log_c)  # increasing in x
        neg = h < 0
        nlo = torch.where(neg, x, lo)
        nhi = torch.where(neg, hi, x)
        nlo_seen = lo_seen | neg
        nhi_seen = hi_seen | ~neg
        xt = x - h / slope
        newton = (xt > nlo) & (xt < nhi)
        conv = (h.abs() <= tol) | (xt == x)
        fallback = torch.where(
            (xt >= nhi) & ~nhi_seen,
            nhi,
            torch.where((xt <= nlo) & ~nlo_seen, nlo, 0.5 * (nlo + nhi)),
        )
        xn = torch.where(newton, xt, torch.where(conv, x, fallback))
        step = (xn - x).abs()
        stop = (h == 0) | conv | (step <= 2.0 * _EPS * xn.abs()) | ~(nlo < nhi) | (nhi - nlo <= 2.0 * _EPS * xn.abs())
        upd = active & (h != 0)
        lo = torch.where(upd, nlo, lo)
        hi = torch.where(upd, nhi, hi)
        lo_seen = torch.where(upd, nlo_seen, lo_seen)
        hi_seen = torch.where(upd, nhi_seen, hi_seen)
        x = torch.where(upd, xn, x)
        active = active & ~stop
        if not bool(active.any()):  # allowed here: the solver runs as one opaque op
            break
    edge = torch.where(u == 0, -math.inf, torch.where(u == 1, math.inf, math.nan))
    return torch.where(ok, x, edge.to(x.dtype))


@torch.no_grad()
def quantile(logits: torch.Tensor, means: torch.Tensor, scales: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """x = T^{-1}(u) (u of shape (*sample, *batch, D) in [0, 1]; 0 and 1 give -inf and +inf, NaN
    a NaN row from there on), in u's dtype. No gradient: see ``_diag_implicit``."""
    p = prepare(logits, means, scales)
    uw = u.to(WORK_DTYPE)
    lead = torch.broadcast_shapes(uw.shape[:-1], p.log_w.shape[:-1])
    log_w = p.log_w.expand(*lead, p.log_w.shape[-1])
    out = []
    for d in range(len(p.mu)):
        x = _solve(log_w, p.mu[d], p.sigma[d], p.inv_sigma[d], uw[..., d].expand(lead))
        out.append(x)
        z = (x.unsqueeze(-1) - p.mu[d]) * p.inv_sigma[d]
        log_w, _ = next_log_weights(log_w, z, p.log_sigma[d])
    return torch.stack(out, -1).to(u.dtype)
