"""Ratios of mixgrad.special to scipy.special, measured in one run.

python benchmarks/compare_special_scipy.py [--n 1000000] [--repeats 30] [--stat min|median]

The calls are interleaved (scipy, mixgrad on 1 thread, mixgrad on 2 threads, again and again)
so that all three see the same machine load, and each time is the minimum over the repeats by
default: on a shared machine the minimum is the statistic that load disturbs least.
Inputs: 3 N(0, 1) values (ndtr, log_ndtr, erfcx), U(0, 1) (ndtri), -Exp(mean 5) (ndtri_exp).
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time

import numpy as np


def inputs(n, seed=0):
    """The benchmark inputs of each function, float64."""
    rng = np.random.default_rng(seed)
    x = 3.0 * rng.standard_normal(n)
    return {
        "ndtr": x,
        "log_ndtr": x,
        "ndtri": rng.uniform(size=n),
        "erfcx": x,
        "ndtri_exp": -rng.exponential(5.0, size=n),
    }


def _seconds(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main(argv=None):
    import scipy.special as sc

    import mixgrad.special as S

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=10**6)
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--stat", choices=["min", "median"], default="min")
    args = ap.parse_args(argv)
    stat = min if args.stat == "min" else statistics.median
    out = np.empty(args.n)
    print(f"n = {args.n:.0e} float64, {args.stat} of {args.repeats} interleaved repeats; ns per value")
    print(f"{'function':10s} {'scipy':>8s} {'1 thread':>9s} {'ratio':>7s} {'2 threads':>10s} {'ratio':>7s}")
    rows = []
    for name, x in inputs(args.n).items():
        calls = (
            functools.partial(getattr(sc, name), x, out=out),
            functools.partial(getattr(S, name), x, out=out, nthreads=1),
            functools.partial(getattr(S, name), x, out=out, nthreads=2),
        )
        for call in calls:  # warm-up: page faults of out, thread pool start
            call()
        times = [[], [], []]
        for _ in range(args.repeats):
            for t, call in zip(times, calls):
                t.append(_seconds(call))
        t_sc, t1, t2 = (stat(t) for t in times)
        ns = 1e9 / args.n
        print(
            f"{name:10s} {t_sc * ns:8.2f} {t1 * ns:9.2f} {t_sc / t1:6.1f}x {t2 * ns:10.2f} {t_sc / t2:6.1f}x",
            flush=True,
        )
        rows.append((name, t_sc, t1, t2))
    return rows


if __name__ == "__main__":
    main()
