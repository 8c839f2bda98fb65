"""Figures for the GMM application (the reproduction report's Figures 8-10), with matplotlib.

matplotlib is imported only when a function here is called, with the non-interactive Agg
backend unless a backend is already in use.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ..gmm import FitResult

# One colour per method, fixed so that every figure uses the same legend.
# Widths decrease down the list so that curves which coincide (the gradient methods share exact
# gradients for means and scales) stay visible on top of each other.
METHOD_STYLE = {
    "em": {"color": "black", "ls": "-", "lw": 3.2, "label": "EM"},
    "exact": {"color": "tab:green", "ls": "-", "lw": 4.0, "label": "exact gradient"},
    "rebar": {"color": "tab:blue", "ls": "-", "lw": 2.2, "label": "REBAR"},
    "reinforce": {"color": "tab:red", "ls": "--", "lw": 1.2, "label": "REINFORCE"},
    "concrete": {"color": "tab:purple", "ls": ":", "lw": 1.2, "label": "Concrete"},
}


def _pyplot():
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "pdf", "svg", "ps", "cairo"):
        try:
            matplotlib.use("Agg", force=False)
        except Exception:  # pragma: no cover - a GUI backend is already active
            pass
    import matplotlib.pyplot as plt

    return plt


def _style(method: str) -> dict:
    return dict(METHOD_STYLE.get(method, {"color": None, "ls": "-", "lw": 1.5, "label": method}))


def mean_trajectories_1d(results: Mapping[str, FitResult], truth: Sequence[float] | None = None, ax=None):
    """Trajectories of the component means over iterations, 1-D data (report Figure 8)."""
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    for method, res in results.items():
        style = _style(method)
        means = res.history["means"][:, :, 0]
        for k in range(means.shape[1]):
            ax.plot(
                means[:, k],
                color=style["color"],
                ls=style["ls"],
                lw=style["lw"],
                label=style["label"] if k == 0 else None,
            )
    if truth is not None:
        for m in truth:
            ax.axhline(m, color="grey", lw=0.8, ls=":")
    ax.set_xlabel("iteration")
    ax.set_ylabel("component mean")
    ax.set_title("Component means during fitting (1-D)")
    ax.legend(frameon=False)
    return ax


def mean_trajectories_2d(results: Mapping[str, FitResult], x: np.ndarray, ax=None):
    """Paths of the component means in the plane over a scatter of the data (report Figure 9)."""
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 6))
    ax.scatter(x[:, 0], x[:, 1], s=4, color="0.75", label="data")
    for method, res in results.items():
        style = _style(method)
        means = res.history["means"]
        for k in range(means.shape[1]):
            ax.plot(
                means[:, k, 0],
                means[:, k, 1],
                color=style["color"],
                ls=style["ls"],
                lw=style["lw"],
                label=style["label"] if k == 0 else None,
            )
            ax.plot(means[-1, k, 0], means[-1, k, 1], "o", color=style["color"], ms=5)
            ax.plot(means[0, k, 0], means[0, k, 1], "x", color=style["color"], ms=6)
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_title("Paths of the component means (2-D; x start, o end)")
    ax.legend(frameon=False, loc="best")
    return ax


def log_likelihood_curves(results: Mapping[str, FitResult], ax=None):
    """Average log-likelihood per iteration for each method (report Figure 10)."""
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    for method, res in results.items():
        style = _style(method)
        ax.plot(
            res.history["log_likelihood"], color=style["color"], ls=style["ls"], lw=style["lw"], label=style["label"]
        )
    ax.set_xlabel("iteration")
    ax.set_ylabel("average log-likelihood")
    ax.set_title("Average log-likelihood per iteration")
    ax.legend(frameon=False)
    return ax


def weight_trajectories(results: Mapping[str, FitResult], reference: np.ndarray | None = None, ax=None):
    """The weight of the last component over iterations, with the maximum-likelihood value."""
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    for method, res in results.items():
        style = _style(method)
        ax.plot(
            res.history["weights"][:, -1], color=style["color"], ls=style["ls"], lw=style["lw"], label=style["label"]
        )
    if reference is not None:
        ax.axhline(float(reference[-1]), color="grey", lw=0.8, ls=":", label="maximum likelihood")
    ax.set_xlabel("iteration")
    ax.set_ylabel("weight of the last component")
    ax.set_title("Mixing weight during fitting")
    ax.legend(frameon=False)
    return ax


def save(fig_or_ax, path: str) -> str:
    """Save a figure (or an axes' figure) as PNG at 120 dpi, close it, return the path."""
    plt = _pyplot()
    fig = fig_or_ax.figure if hasattr(fig_or_ax, "figure") and not hasattr(fig_or_ax, "savefig") else fig_or_ax
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
