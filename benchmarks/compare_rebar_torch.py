"""mixgrad REBAR and DisARM against vectorized PyTorch ones, measured in one run (medians or minima of repeats).

Per-coordinate estimates per second for B = 10^6 x D = 1 and B = 10^4 x D = 200 (float64,
lambda = 0.5, eta = 1, f = mean (b - 0.45)^2; logistic noise, probit noise and coupled logistic
noise, see rebar_workloads.VARIANTS), both libraries limited to the same thread count; DisARM on
the same f and shapes (B antithetic pairs). Also runs
../shared/anchors/torch_rebar.py (the project's reference script) in a subprocess when it exists
and prints its own figure.

    python benchmarks/compare_rebar_torch.py [--threads 2] [--repeats 5]
"""

from __future__ import annotations

import argparse
import functools
import os
import re
import statistics
import subprocess
import sys
import time

from mixgrad.cli.rebar_workloads import (
    DISARM_SHAPES,
    SHAPES,
    VARIANTS,
    mixgrad_disarm,
    mixgrad_rebar,
    torch_disarm,
    torch_rebar,
)

ANCHOR = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "anchors", "torch_rebar.py")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--stat", choices=("median", "min"), default="median", help="summary of the repeats")
    ap.add_argument("--variants", default=",".join(VARIANTS), help="REBAR variants, comma-separated")
    ap.add_argument("--no-disarm", action="store_true")
    ap.add_argument("--anchor", default=os.environ.get("MIXGRAD_TORCH_REBAR_ANCHOR", ANCHOR))
    args = ap.parse_args(argv)
    stat = statistics.median if args.stat == "median" else min
    print(f"threads={args.threads}, {args.stat} of {args.repeats}; M/s = million per-coordinate estimates per second")
    print(
        "| workload | torch (M/s) | mixgrad, samples kept (M/s) | ratio | mixgrad, keep_samples=False (M/s) | ratio |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    work = [
        (
            f"{name} {variant}",
            B,
            D,
            functools.partial(torch_rebar, variant=variant),
            functools.partial(mixgrad_rebar, variant=variant),
        )
        for variant in args.variants.split(",")
        for name, (B, D) in SHAPES.items()
    ]
    if not args.no_disarm:
        work += [(name, B, D, torch_disarm, mixgrad_disarm) for name, (B, D) in DISARM_SHAPES.items()]
    for name, B, D, peer_fn, ours_fn in work:
        n = B * D
        peer = peer_fn(B, D, args.threads)
        keep = ours_fn(B, D, args.threads, True)
        acc = ours_fn(B, D, args.threads, False)
        # interleaved repeats, so that load changes on a shared machine hit all three alike
        times = {"peer": [], "keep": [], "acc": []}
        for fn in (peer, keep, acc):
            if fn is not None:
                fn()
        for _ in range(args.repeats):
            for key, fn in (("peer", peer), ("keep", keep), ("acc", acc)):
                if fn is not None:
                    t0 = time.perf_counter()
                    fn()
                    times[key].append(time.perf_counter() - t0)
        t_keep, t_acc = stat(times["keep"]), stat(times["acc"])
        t_peer = stat(times["peer"]) if peer is not None else None
        rp = "—" if t_peer is None else f"{n / t_peer / 1e6:.1f}"
        r1 = "—" if t_peer is None else f"{t_peer / t_keep:.1f}x"
        r2 = "—" if t_peer is None else f"{t_peer / t_acc:.1f}x"
        print(f"| {name} | {rp} | {n / t_keep / 1e6:.1f} | {r1} | {n / t_acc / 1e6:.1f} | {r2} |", flush=True)
    if os.path.exists(args.anchor):
        env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
        for B, D in SHAPES.values():
            out = subprocess.run([sys.executable, args.anchor, str(B), str(D)], capture_output=True, text=True, env=env)
            m = re.search(r"([0-9.]+) M estimates/s", out.stdout)
            print(f"anchor torch_rebar.py {B} {D}: {m.group(1) + ' M/s' if m else out.stderr.strip()[-200:]}")


if __name__ == "__main__":
    main()
