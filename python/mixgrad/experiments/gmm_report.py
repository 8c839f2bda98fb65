"""The reproduction report's GMM experiment, made general: fit the same data by EM, exact-gradient
ascent, REBAR and REINFORCE, and draw the report's figures (used by `mixgrad demo` and by
``examples/gmm_rebar.py``)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Callable, NamedTuple

import numpy as np

from .. import gmm

REPORT_INIT = {"weights": [0.5, 0.5], "means": [[-1.0], [1.0]], "scales": [[2.0], [2.0]]}
GRADIENT_METHODS = ("exact", "rebar", "reinforce")


class Experiment(NamedTuple):
    """Data, fits by method, and the generating parameters."""

    x: np.ndarray
    results: dict[str, gmm.FitResult]
    true_weights: np.ndarray
    true_means: np.ndarray


def _fit_all(x, k, init, methods, n_iter, learning_rate, n_samples, seed, on_fit) -> dict[str, gmm.FitResult]:
    results = {"em": gmm.fit(x, k, "em", n_iter=min(n_iter, 200), init=init)}
    if on_fit:
        on_fit("em")
    for m in methods:
        # The report's rule: plain gradient ascent on the logits, a fixed number of iterations.
        results[m] = gmm.fit(
            x,
            k,
            m,
            n_iter=n_iter,
            learning_rate=learning_rate,
            n_samples=n_samples,
            init=init,
            seed=seed,
            optimizer="gradient",
        )
        if on_fit:
            on_fit(m)
    return results


def report_1d(
    n_iter: int = 600,
    n_samples: int = 16,
    learning_rate: float = 0.2,
    seed: int = 0,
    methods: Sequence[str] = GRADIENT_METHODS,
    on_fit: Callable[[str], None] | None = None,
) -> Experiment:
    """The report's setup: 200 points from 0.3 N(-3, 2^2) + 0.7 N(3, 1^2); probit weights."""
    x = gmm.report_data(200, seed=seed)
    res = _fit_all(x, 2, REPORT_INIT, methods, n_iter, learning_rate, n_samples, seed, on_fit)
    return Experiment(x[:, None], res, np.array([0.3, 0.7]), np.array([[-3.0], [3.0]]))


def four_clusters_2d(
    n_iter: int = 400,
    n_samples: int = 8,
    learning_rate: float = 0.5,
    seed: int = 0,
    methods: Sequence[str] = GRADIENT_METHODS,
    on_fit: Callable[[str], None] | None = None,
) -> Experiment:
    """K = 4 in the plane, weights 0.1..0.4, softmax weights and categorical REBAR."""
    rng = np.random.default_rng(seed)
    centers = np.array([[-4.0, -4.0], [4.0, -4.0], [-4.0, 4.0], [4.0, 4.0]])
    weights = np.array([0.1, 0.2, 0.3, 0.4])
    c = rng.choice(4, size=400, p=weights)
    x = centers[c] + rng.normal(size=(400, 2))
    init = {
        "weights": np.full(4, 0.25),
        "means": np.array([[-2.0, -2.0], [2.0, -2.0], [-2.0, 2.0], [2.0, 2.0]]),
        "scales": np.full((4, 2), 2.0),
    }
    res = _fit_all(x, 4, init, methods, n_iter, learning_rate, n_samples, seed, on_fit)
    return Experiment(x, res, weights, centers)


def summary_table(exp: Experiment) -> str:
    """Markdown: final weights, mean of the last 10% of iterations, log-likelihood per method."""
    em = exp.results["em"]
    lines = [
        "| method | final weights | weights, last 10% mean | max |w − w_EM| | avg log-lik | mean grad. variance |",
        "|---|---|---|---:|---:|---:|",
    ]
    for m, r in exp.results.items():
        t = max(1, len(r.history["weights"]) // 10)
        tail = r.history["weights"][-t:].mean(axis=0)
        var = np.mean(r.history["gradient_variance"][1:]) if len(r.history["gradient_variance"]) > 1 else 0.0
        fmt = lambda w: "(" + ", ".join(f"{v:.3f}" for v in w) + ")"  # noqa: E731
        lines.append(
            f"| {m} | {fmt(r.weights)} | {fmt(tail)} | {np.max(np.abs(tail - em.weights)):.4f} | "
            f"{r.log_likelihood:.4f} | {var:.2e} |"
        )
    return "\n".join(lines)


def make_figures(exp_1d: Experiment | None, exp_2d: Experiment | None, out_dir: str) -> list[str]:
    """The report's Figures 8-10 (and a weight plot) as PNGs in ``out_dir``; returns the paths."""
    from . import gmm_plots

    os.makedirs(out_dir, exist_ok=True)
    paths = []
    if exp_1d is not None:
        paths.append(
            gmm_plots.save(
                gmm_plots.mean_trajectories_1d(exp_1d.results, truth=exp_1d.true_means[:, 0].tolist()),
                os.path.join(out_dir, "gmm_1d_means.png"),
            )
        )
        paths.append(
            gmm_plots.save(gmm_plots.log_likelihood_curves(exp_1d.results), os.path.join(out_dir, "gmm_1d_loglik.png"))
        )
        paths.append(
            gmm_plots.save(
                gmm_plots.weight_trajectories(exp_1d.results, reference=exp_1d.results["em"].weights),
                os.path.join(out_dir, "gmm_1d_weights.png"),
            )
        )
    if exp_2d is not None:
        paths.append(
            gmm_plots.save(
                gmm_plots.mean_trajectories_2d(exp_2d.results, exp_2d.x), os.path.join(out_dir, "gmm_2d_means.png")
            )
        )
        paths.append(
            gmm_plots.save(gmm_plots.log_likelihood_curves(exp_2d.results), os.path.join(out_dir, "gmm_2d_loglik.png"))
        )
    return paths
