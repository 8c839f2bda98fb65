"""mixgrad's Gaussian-mixture workloads W1-W3 (DESIGN.md section 7: sample + gradient of
sum(g * x) with respect to all parameters, float64) against Pyro and TFP-on-JAX, measured in one
run on this machine; prints median times and ratios.

    python benchmarks/compare_mixture_peers.py [--threads 2] [--repeats 5] [--peer-repeats 3]
                                               [--skip-tfp-w3] [--scale 1.0] [--workloads W1 W2 W3]

Peers that are not installed are reported as such. Torch gets the same thread count; XLA (JAX)
uses its own thread pool. TFP timings exclude jit compilation (one warm-up call). The machine
may be shared, so each peer repeat is interleaved with `--repeats` mixgrad repeats and both
medians come from the same stretch of time.
"""

from __future__ import annotations

import argparse
import statistics

from mixgrad.cli.mixture_workloads import SPECS, peer_workloads, workloads
from mixgrad.cli.timing import median_time

TARGETS = {("W1", "pyro"): 50, ("W1", "tfp"): 100, ("W2", "pyro"): 30, ("W2", "tfp"): 30, ("W3", "pyro"): 200}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--peer-repeats", type=int, default=3)
    ap.add_argument("--scale", type=float, default=1.0, help="shrink N (or M) for a quick run")
    ap.add_argument("--workloads", nargs="+", default=list(SPECS), choices=list(SPECS))
    ap.add_argument("--skip-tfp-w3", action="store_true", help="TFP's O(D^2) Jacobian makes W3 very slow")
    args = ap.parse_args(argv)
    try:
        import torch

        torch.set_num_threads(args.threads)
    except ImportError:
        pass
    mine = workloads(nthreads=args.threads, scale=args.scale)
    peers = peer_workloads(scale=args.scale)
    print(f"float64, mixgrad threads={args.threads}, median of {args.repeats} (peers: {args.peer_repeats})")
    print(f"{'workload':9s} {'mixgrad ms':>10s} {'peer':>5s} {'peer ms':>10s} {'ratio':>8s} {'target':>7s}")
    rows = []
    for name in args.workloads:
        mine[name]()  # warm-up
        t_alone = median_time(mine[name], args.repeats, warmup=0)
        for peer, fn in peers[name].items():
            target = TARGETS.get((name, peer))
            if fn is None:
                print(f"{name:9s} {t_alone * 1e3:10.1f} {peer:>5s} {'not installed':>10s}")
                continue
            if peer == "tfp" and name == "W3" and args.skip_tfp_w3:
                print(f"{name:9s} {t_alone * 1e3:10.1f} {peer:>5s} {'skipped':>10s}")
                continue
            fn()  # warm-up (and jit compilation)
            t_peer, t_mine = [], []
            for _ in range(args.peer_repeats):
                t_peer.append(median_time(fn, 1, warmup=0))
                t_mine.append(median_time(mine[name], args.repeats, warmup=0))
            tp, tm = statistics.median(t_peer), statistics.median(t_mine)
            tgt = f">={target}x" if target else "-"
            print(f"{name:9s} {tm * 1e3:10.1f} {peer:>5s} {tp * 1e3:10.1f} {tp / tm:7.1f}x {tgt:>7s}", flush=True)
            rows.append((name, peer, tp, tm))
    return rows


if __name__ == "__main__":
    main()
