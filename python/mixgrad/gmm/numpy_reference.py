"""A vectorized numpy version of one categorical-REBAR step of the GMM application.

It is the baseline that `mixgrad bench` and the asv suite compare the C++ core against, written
the way a careful numpy user would: the (n, K) density table once, then one vectorized pass per
Monte Carlo sample over all points and components (a single (S, n, K) pass needs several GiB of
temporaries at n = 1e5, K = 8, S = 16). Same estimator as `mixgrad.estimators.rebar` with
independent conditional noise (Tucker et al. 2017), f_i(s) = sum_k s_k p(x_i | k) / p(x_i).
"""

from __future__ import annotations

import numpy as np


def _softmax_rows(a: np.ndarray) -> np.ndarray:
    e = np.exp(a - a.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def rebar_logit_gradient(
    x: np.ndarray,
    means: np.ndarray,
    scales: np.ndarray,
    logits: np.ndarray,
    n_samples: int,
    rng: np.random.Generator,
    temperature: float = 0.5,
    eta: float = 1.0,
) -> np.ndarray:
    """REBAR estimate of d/dalpha (1/n) sum_i log p(x_i) for softmax weights; shape (K,)."""
    n, _ = x.shape
    k = means.shape[0]
    log_theta = logits - np.logaddexp.reduce(logits)
    theta = np.exp(log_theta)
    z = (x[:, None, :] - means[None]) / scales[None]
    log_dens = (
        -0.5 * np.sum(z * z, axis=2) - np.sum(np.log(scales), axis=1)[None] - 0.5 * x.shape[1] * np.log(2 * np.pi)
    )
    joint = log_dens + log_theta[None]
    log_px = np.logaddexp.reduce(joint, axis=1)
    table = np.exp(log_dens - log_px[:, None])  # f_i(k)
    rows = np.arange(n)
    total = np.zeros(k)
    for _ in range(n_samples):
        u = rng.uniform(size=(n, k))
        v = rng.uniform(size=(n, k))
        gz = log_theta[None] - np.log(-np.log(u))
        b = np.argmax(gz, axis=1)
        log_vb = np.log(v[rows, b])[:, None]
        e = -np.log(v) / theta[None] - log_vb  # z~_i = -log e_i for i != b
        zt = -np.log(e)
        zt[rows, b] = -np.log(-log_vb[:, 0])
        r = (-np.log(v) / theta[None]) / e  # dz~_i / d log theta_i, i != b
        r[rows, b] = 0.0
        s = _softmax_rows(gz / temperature)
        st = _softmax_rows(zt / temperature)
        fs = np.sum(s * table, axis=1)
        fst = np.sum(st * table, axis=1)
        w = s * (table - fs[:, None]) / temperature  # d f(softmax(z/lam)) / dz
        wt = st * (table - fst[:, None]) / temperature
        d_relaxed = w  # dz/dalpha = I - theta^T and sum_k w_k = 0
        wr = wt * r
        d_relaxed_t = wr - theta[None] * wr.sum(axis=1, keepdims=True)
        score = -np.broadcast_to(theta, (n, k)).copy()
        score[rows, b] += 1.0
        fb = table[rows, b]
        g = (fb - eta * fst)[:, None] * score + eta * (d_relaxed - d_relaxed_t)
        total += g.sum(axis=0)
    return total / (n * n_samples)
