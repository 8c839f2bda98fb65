"""The REBAR toy study (Tucker et al. 2017): minimize E[(b - t)^2] for t in {0.45, 0.49, 0.499}.

Makes rebar_toy_theta.png (theta over SGD iterations), rebar_toy_logvar.png (log-variance of the
gradient estimate at the current theta) and prints the variance table (D = 1 and D = 100).

    python examples/rebar_toy.py [--quick] [--out DIR]
"""

import argparse

from mixgrad.experiments import toy, toy_plots


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=".")
    args = ap.parse_args()
    res = toy.run_toy(quick=args.quick)
    for path in toy_plots.make_figures(res, args.out):
        print("wrote", path)
    print(toy.format_table(res.table))


if __name__ == "__main__":
    main()
