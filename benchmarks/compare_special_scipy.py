"""Ratios of mixgrad.special to scipy.special, measured in one run (medians of repeats).

python benchmarks/compare_special_scipy.py [--n 10000000] [--repeats 7]
"""

from __future__ import annotations

import argparse
import functools

import numpy as np

from mixgrad.cli.timing import median_time


def main(argv=None):
    import scipy.special as sc

    import mixgrad.special as S

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=10**7)
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    inputs = {
        "ndtr": 3.0 * rng.standard_normal(args.n),
        "log_ndtr": 3.0 * rng.standard_normal(args.n),
        "ndtri": rng.uniform(size=args.n),
        "erfcx": 3.0 * rng.standard_normal(args.n),
    }
    out = np.empty(args.n)
    print(f"n = {args.n:.0e} float64, median of {args.repeats}; ns per element")
    print(f"{'function':10s} {'scipy':>8s} {'1 thread':>9s} {'ratio':>7s} {'2 threads':>10s} {'ratio':>7s}")
    rows = []
    for name, x in inputs.items():
        t_sc = median_time(functools.partial(getattr(sc, name), x, out=out), args.repeats)
        t1 = median_time(functools.partial(getattr(S, name), x, out=out, nthreads=1), args.repeats)
        t2 = median_time(functools.partial(getattr(S, name), x, out=out, nthreads=2), args.repeats)
        ns = 1e9 / args.n
        print(f"{name:10s} {t_sc * ns:8.2f} {t1 * ns:9.2f} {t_sc / t1:6.1f}x {t2 * ns:10.2f} {t_sc / t2:6.1f}x")
        rows.append((name, t_sc, t1, t2))
    return rows


if __name__ == "__main__":
    main()
