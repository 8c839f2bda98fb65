"""What the unbiasedness tests of the numpy estimators share: random logits with extreme
coordinates, and the allowance for outcomes too rare for any finite run to draw."""

import numpy as np

import mixgrad as mg


def random_logits(rng, rows, E, extreme):
    """Random logits; with ``extreme``, the first row gets +-30, 6 and -4 in its first coordinates
    (only where other coordinates or rows remain that are drawn both ways, so the test keeps its
    power: an event dominated by alpha = 30 alone would pass anything within the allowance)."""
    a = rng.normal(scale=2.0, size=(rows, E))
    if extreme:
        flat = a.reshape(-1)
        flat[0] = 30.0
        if flat.size > 1:
            flat[1] = -30.0
        if flat.size > 3:
            flat[2] = 6.0
            flat[3] = -4.0
    return a


def rare_bound(dist, obj, n, lam=1.0):
    """2 * P(some outcome of probability < 1e-3 / n) * sup|g|, per row (broadcast to logits);
    sup|g| bounded generously by 10 (max|f| + max|f'| / lam) max(1, |score|), ``lam`` the
    relaxation temperature of the estimators that differentiate f at relaxed points."""
    if isinstance(dist, mg.Categorical):
        p = dist.probs.reshape(dist.n_rows, -1)
        p_rare = np.where(p * n < 1e-3, p, 0.0).sum(-1)
    else:
        th = dist.probs.reshape(dist.n_rows, -1)
        th_c = mg.Bernoulli(-dist.logits, noise=dist.noise_type).probs.reshape(dist.n_rows, -1)  # 1 - theta
        pm = np.minimum(th, th_c)
        p_rare = np.where(pm * n < 1e-3, pm, 0.0).sum(-1)
    E = dist.event_size
    pts = np.random.default_rng(0).uniform(size=(256, dist.n_rows, E)).reshape((256, *dist.shape))
    fmax = np.abs(obj.value(pts, dist)).max() + np.abs(obj.value(np.round(pts), dist)).max()
    gmax = np.abs(obj.grad(pts, dist)).max()
    score = 1.0 + np.abs(dist.logits).max()
    bound = 2 * p_rare * 10 * (fmax + gmax / lam) * score
    return np.broadcast_to(bound[:, None], (dist.n_rows, E)).reshape(dist.shape)
