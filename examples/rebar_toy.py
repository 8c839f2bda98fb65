"""The REBAR toy study (Tucker et al. 2017): minimize E[(b - t)^2] for t in {0.45, 0.49, 0.499}.

Makes rebar_toy_theta.png (theta over SGD iterations), rebar_toy_logvar.png (log-variance of the
gradient estimate at the current theta) and prints the variance table (D = 1 and D = 100).

    python examples/rebar_toy.py [--quick] [--out DIR]
"""

import argparse
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from mixgrad import toy  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=".")
    args = ap.parse_args()
    res = toy.run_toy(quick=args.quick)
    os.makedirs(args.out, exist_ok=True)
    targets = list(res.theta)
    for kind in ("theta", "logvar"):
        fig, axes = plt.subplots(1, len(targets), figsize=(5 * len(targets), 3.6), sharey=kind == "theta")
        for ax, t in zip(axes, targets):
            for label in res.theta[t]:
                if kind == "theta":
                    ax.plot(res.theta[t][label], label=label, lw=1)
                else:
                    ax.plot(res.variance_iterations, res.log_variance[t][label], label=label, lw=1)
            ax.set_title(f"t = {t}")
            ax.set_xlabel("iteration")
            ax.set_ylabel("theta" if kind == "theta" else "log variance of the estimate")
        axes[0].legend(fontsize=7)
        fig.tight_layout()
        path = os.path.join(args.out, f"rebar_toy_{kind}.png")
        fig.savefig(path, dpi=120)
        print("wrote", path)
    print(toy.format_table(res.table))


if __name__ == "__main__":
    main()
