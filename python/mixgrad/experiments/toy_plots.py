"""Figures of the REBAR toy study (theta over SGD iterations; log-variance of the estimates), as
the REBAR and RELAX papers show them. matplotlib is imported only when called."""

from __future__ import annotations

import os

from .toy import ToyResult


def make_figures(res: ToyResult, out_dir: str) -> list[str]:
    """Write rebar_toy_theta.png and rebar_toy_logvar.png into ``out_dir``; return the paths."""
    from .gmm_plots import _pyplot

    plt = _pyplot()
    os.makedirs(out_dir, exist_ok=True)
    targets = list(res.theta)
    paths = []
    for kind in ("theta", "logvar"):
        fig, axes = plt.subplots(
            1, len(targets), figsize=(5 * len(targets), 3.6), sharey=kind == "theta", squeeze=False
        )
        for ax, t in zip(axes[0], targets):
            for label in res.theta[t]:
                if kind == "theta":
                    ax.plot(res.theta[t][label], label=label, lw=1)
                else:
                    ax.plot(res.variance_iterations, res.log_variance[t][label], label=label, lw=1)
            ax.set_title(f"t = {t}")
            ax.set_xlabel("iteration")
            ax.set_ylabel("theta = P(b = 1)" if kind == "theta" else "log variance of the estimate")
        axes[0][0].legend(fontsize=7, frameon=False)
        fig.suptitle("REBAR toy: minimize E[(b − t)²]" + (", θ by SGD" if kind == "theta" else ", gradient variance"))
        fig.tight_layout()
        path = os.path.join(out_dir, f"rebar_toy_{kind}.png")
        fig.savefig(path, dpi=120)
        plt.close(fig)
        paths.append(path)
    return paths
