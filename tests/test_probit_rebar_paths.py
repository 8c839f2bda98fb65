"""REBAR with probit noise: the vectorized rectangle kernels (the estimators' path) against the
scalar per-draw path (Bernoulli.noise) recombined in numpy.

Both paths draw from the same Philox counters, so with one seed the estimates must agree to
rounding: a few ulp of z, z~, dz~/dalpha and the relaxations, magnified by the cancellation in
g = [f(b) - f(sigma(z~))] score + f'(sigma(z)) jz - f'(sigma(z~)) jz~ (the tolerance is relative
to the scale of the terms before they cancel). The shapes cover each loop order of the kernels: one coordinate
vectorized over samples, a few interleaved coordinates, and runs of coordinates; the logits
include |alpha| = 30 to 45, where the kernels hand lanes to the scalar fallback.
"""

import numpy as np
import pytest

import mixgrad as mg

TARGET = 0.45
LOGITS = {
    "one coordinate": np.zeros((1, 1)),
    "three interleaved": np.array([[-2.0, 0.3, 4.0]]),
    "rows of twenty": np.linspace(-8.0, 8.0, 40).reshape(2, 20),
    "tails": np.array([[-45.0, -38.0, -37.0, -30.0, -6.0, -1e-3, 0.0, 1.0, 6.0, 30.0, 37.0, 38.0, 45.0]]),
}


def sigmoid_slope(x):
    """sigma(x)(1 - sigma(x)) without the cancellation of 1 - sigma(x)."""
    t = np.exp(-np.abs(x))
    return t / (1.0 + t) ** 2


def rebar_from_noise(dist, n, seed, lam, coupling):
    nd = dist.noise(n, seed=seed, temperature=lam, coupling=coupling)
    E = dist.shape[-1]
    sz, szt = nd.relaxed, nd.relaxed_tilde
    jz = sigmoid_slope(nd.z / lam) / lam
    jzt = sigmoid_slope(nd.z_tilde / lam) / lam * nd.dz_tilde_dalpha
    f_b = np.mean((nd.b - TARGET) ** 2, axis=-1, keepdims=True)
    f_zt = np.mean((szt - TARGET) ** 2, axis=-1, keepdims=True)
    score = dist.score(nd.b)
    t_rel, t_rel_tilde = 2.0 / E * (sz - TARGET) * jz, -2.0 / E * (szt - TARGET) * jzt
    # the scale of the rounding: f(b) - f(sigma(z~)) cancels, so its error is that of f(b) and f(sigma(z~))
    scale = (np.abs(f_b) + np.abs(f_zt)) * np.abs(score) + np.abs(t_rel) + np.abs(t_rel_tilde)
    return (f_b - f_zt) * score + t_rel + t_rel_tilde, scale


@pytest.mark.parametrize("name", list(LOGITS))
@pytest.mark.parametrize("coupling", ["independent", "coupled"])
@pytest.mark.parametrize("lam", [0.5, 0.7])
def test_kernels_match_the_scalar_path(name, coupling, lam):
    alpha = LOGITS[name]
    dist = mg.Bernoulli(alpha, noise="gaussian")
    n = 400
    ours = mg.rebar(mg.Quadratic(TARGET), dist, n, 21, temperature=lam, eta=1.0, coupling=coupling).samples
    ref, scale = rebar_from_noise(dist, n, 21, lam, coupling)
    assert ours.shape == ref.shape
    assert np.isfinite(ours).all()
    np.testing.assert_array_less(np.abs(ours - ref), 1e-13 * scale + 1e-300)
