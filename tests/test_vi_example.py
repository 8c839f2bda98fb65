"""The VI example's core (mixgrad.experiments.vi): a mixture posterior fitted with rsample finds every mode
of a 6-mode ring target, and the gradient-variance comparison runs."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from mixgrad.experiments import vi  # noqa: E402

N_MODES = 6
MAX_DISTANCE = 0.5  # a component mean within this distance of each mode center (mode sd 0.5)
MIN_WEIGHT = 0.3 / N_MODES  # ... carrying at least 30% of the target's per-mode mass


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_all_modes_recovered(seed):
    log_p, centers = vi.ring_target(N_MODES, radius=2.0, scale=0.5)
    res = vi.fit_mixture_vi(log_p, n_components=12, steps=400, n_samples=64, lr=0.05, init_radius=3.0, seed=seed)
    found = vi.recovered_modes(res, centers, max_distance=MAX_DISTANCE, min_weight=MIN_WEIGHT)
    assert found.all(), (found, res.means, res.weights)
    # the ELBO is a lower bound on log Z = 0 (normalized target) and ends close to it
    assert -0.2 < np.mean(res.elbo[-50:]) < 0.05


def test_ring_target_is_normalized():
    log_p, centers = vi.ring_target(4, radius=2.0, scale=0.5)
    g = torch.linspace(-6, 6, 601, dtype=torch.float64)
    X, Y = torch.meshgrid(g, g, indexing="ij")
    mass = log_p(torch.stack([X, Y], -1)).exp().sum() * (12 / 600) ** 2
    assert abs(float(mass) - 1) < 1e-6
    assert centers.shape == (4, 2)


def test_gradient_variance_comparison_runs():
    log_p, _ = vi.ring_target(4, radius=2.0, scale=0.5)
    K = 5
    rng = np.random.default_rng(0)
    out = vi.elbo_gradient_variance(log_p, np.zeros(K), rng.normal(size=(K, 2)), np.ones((K, 2)), n_samples=32, reps=20)
    assert set(out) == {"reparam", "reparam_stl", "score"}
    for est in out.values():
        assert set(est) == {"logits", "means", "log_scales", "all"}
        assert all(v > 0 and np.isfinite(v) for v in est.values())


def test_recovered_modes_criterion():
    centers = np.array([[0.0, 0.0], [3.0, 0.0]])
    res = vi.VIResult(np.log(np.array([0.9, 0.1])), np.array([[0.1, 0.0], [3.0, 0.6]]), np.ones((2, 2)))
    assert vi.recovered_modes(res, centers, max_distance=0.5).tolist() == [True, False]
    assert vi.recovered_modes(res, centers, max_distance=0.7, min_weight=0.2).tolist() == [True, False]
    assert vi.recovered_modes(res, centers, max_distance=0.7, min_weight=0.05).tolist() == [True, True]
