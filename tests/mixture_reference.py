"""An independent high-precision reference for diagonal Gaussian mixtures (mpmath).

Written from the definitions, not from the kernels: the conditional CDFs come from the joint
density in arbitrary precision (no log-space tricks, no recurrences), and the implicit gradient
from the implicit function theorem, dx/dtheta = -(dT/dx)^{-1} dT/dtheta, with both Jacobians
from the quotient rule applied to the conditional CDFs, at 60 digits.
"""

from __future__ import annotations

import mpmath as mp
import numpy as np

DPS = 60


def _conditional_cdfs(logits, means, scales, x):
    """u_d = F_d(x_d | x_<d) for one point, every argument an mpmath list."""
    K, D = len(logits), len(x)
    m = max(logits)
    w = [mp.exp(a - m) for a in logits]
    total = mp.fsum(w)
    w = [wk / total for wk in w]
    u = []
    for d in range(D):
        # posterior weight of k given x_<d, times the 1-D CDF of coordinate d
        num = mp.mpf(0)
        den = mp.mpf(0)
        for k in range(K):
            lik = w[k]
            for j in range(d):
                lik *= mp.npdf(x[j], means[k][j], scales[k][j])
            num += lik * mp.ncdf(x[d], means[k][d], scales[k][d])
            den += lik
        u.append(num / den)
    return u


def _conditional_sfs(logits, means, scales, x):
    """1 - u_d, from the upper tails (no cancellation where u_d is near 1)."""
    flipped = [[-v for v in row] for row in means]
    return _conditional_cdfs(logits, flipped, scales, [-v for v in x])


def _mp(logits, means, scales, x):
    """The arguments as exact mpmath numbers (at the working precision, which must be set)."""
    return (
        [mp.mpf(float(v)) for v in logits],
        [[mp.mpf(float(v)) for v in row] for row in np.asarray(means, dtype=np.float64)],
        [[mp.mpf(float(v)) for v in row] for row in np.asarray(scales, dtype=np.float64)],
        [mp.mpf(float(v)) for v in x],
    )


def cdf_transform(logits, means, scales, x):
    """The distributional transform of one point x (numpy in, numpy float64 out)."""
    with mp.workdps(DPS):
        return np.array([float(v) for v in _conditional_cdfs(*_mp(logits, means, scales, x))])


def survival_transform(logits, means, scales, x):
    """1 - u for one point, from the upper tails (accurate where u is near 1)."""
    with mp.workdps(DPS):
        return np.array([float(v) for v in _conditional_sfs(*_mp(logits, means, scales, x))])


def vjp(logits, means, scales, x, g):
    """Gradient of sum(g * x) w.r.t. (logits, means, scales) with u = T(x) held fixed.

    T_d = N_d / Z_d with L_k = pi_k prod_{j<d} phi(x_j; mu_kj, sigma_kj), Z_d = sum_k L_k and
    N_d = sum_k L_k Phi_kd; its partial derivatives by the quotient rule (every one a sum of
    L_k (...)(Phi_kd - T_d) / Z_d or L_k phi_kd (...) / Z_d terms, with Phi_kd - T_d taken as
    S_d - Phi(-z_kd) in the upper half so that nothing cancels), then dx/dtheta =
    -(dT/dx)^{-1} dT/dtheta by forward substitution. Returns float64 arrays shaped like the
    parameters.
    """
    logits = np.asarray(logits, dtype=np.float64)
    means = np.asarray(means, dtype=np.float64)
    scales = np.asarray(scales, dtype=np.float64)
    K, D = means.shape
    P = K + 2 * K * D
    with mp.workdps(DPS):
        a, mu, sg, xx = _mp(logits, means, scales, x)
        m = max(a)
        pi = [mp.exp(v - m) for v in a]
        tot = mp.fsum(pi)
        pi = [v / tot for v in pi]
        z = [[(xx[d] - mu[k][d]) / sg[k][d] for d in range(D)] for k in range(K)]
        jx = [[mp.mpf(0)] * D for _ in range(D)]
        jt = [[mp.mpf(0)] * P for _ in range(D)]

        def im(k, d):  # parameter index of mu_kd; sigma_kd follows K*D later
            return K + k * D + d

        for d in range(D):
            lk = [pi[k] * mp.fprod(mp.npdf(z[k][j]) / sg[k][j] for j in range(d)) for k in range(K)]
            Z = mp.fsum(lk)
            lo = [mp.ncdf(z[k][d]) for k in range(K)]
            up = [mp.ncdf(-z[k][d]) for k in range(K)]
            T = mp.fsum(lk[k] * lo[k] for k in range(K)) / Z
            S = mp.fsum(lk[k] * up[k] for k in range(K)) / Z
            diff = [(lo[k] - T) if T <= 0.5 else (S - up[k]) for k in range(K)]  # Phi_kd - T_d
            dens = [lk[k] * mp.npdf(z[k][d]) / sg[k][d] / Z for k in range(K)]
            jx[d][d] = mp.fsum(dens)
            for k in range(K):
                c = lk[k] * diff[k] / Z
                jt[d][k] += c  # logits (the softmax term sums to zero)
                for j in range(d):
                    # d log phi(z_kj)/sigma_kj: x_j -> -z/sigma, mu -> z/sigma, sigma -> (z^2 - 1)/sigma
                    jx[d][j] += c * (-z[k][j] / sg[k][j])
                    jt[d][im(k, j)] += c * (z[k][j] / sg[k][j])
                    jt[d][K * D + im(k, j)] += c * ((z[k][j] ** 2 - 1) / sg[k][j])
                jt[d][im(k, d)] += -dens[k]
                jt[d][K * D + im(k, d)] += -dens[k] * z[k][d]
        # dx = -jx^{-1} jt by forward substitution (jx is lower triangular; its diagonal, the
        # conditional densities, may be as small as e^-800).
        dx = [[mp.mpf(0)] * P for _ in range(D)]
        for p in range(P):
            for d in range(D):
                acc = jt[d][p] + mp.fsum(jx[d][j] * dx[j][p] for j in range(d))
                dx[d][p] = -acc / jx[d][d]
        out = np.array([float(mp.fsum(mp.mpf(float(g[d])) * dx[d][p] for d in range(D))) for p in range(P)])
    return out[:K], out[K : K + K * D].reshape(K, D), out[K + K * D :].reshape(K, D)


def transport(logits, means, scales, x, to_logits, to_means, to_scales):
    """F_to^{-1}(F_self(x)) coordinate by coordinate, by bisection in 60-digit arithmetic."""
    with mp.workdps(DPS):
        a, mu, sg, xx = _mp(logits, means, scales, x)
        ta, tmu, tsg, _ = _mp(to_logits, to_means, to_scales, [])
        u = _conditional_cdfs(a, mu, sg, xx)
        sf = _conditional_sfs(a, mu, sg, xx)
        y = []
        for d in range(len(xx)):
            lo = min(tmu[k][d] - 60 * tsg[k][d] for k in range(len(ta))) - abs(xx[d])
            hi = max(tmu[k][d] + 60 * tsg[k][d] for k in range(len(ta))) + abs(xx[d])
            for _ in range(400):  # bisection to ~1e-100 relative: F is increasing in y_d
                mid = (lo + hi) / 2
                if u[d] <= 0.5:  # compare in the smaller tail
                    below = _conditional_cdfs(ta, tmu, tsg, [*y, mid])[d] < u[d]
                else:
                    below = _conditional_sfs(ta, tmu, tsg, [*y, mid])[d] > sf[d]
                if below:
                    lo = mid
                else:
                    hi = mid
            y.append((lo + hi) / 2)
        return np.array([float(v) for v in y])
