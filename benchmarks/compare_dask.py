"""W1 (one mixture, K=8, D=16) at large N on Dask: the cost of the Dask path against the in-memory
call, on a distributed.LocalCluster of 1 and 2 worker processes (one thread each).

    python benchmarks/compare_dask.py [--n 10000000] [--chunk 1000000] [--repeats 3]

Workload: sample N rows and the gradient of sum(g * x) with respect to logits, means and scales
(g one (D,) vector, broadcast: the upstream gradient of a sum). In memory the call returns x and
the gradient; on Dask only the gradient comes back (each task draws its rows, differentiates them
and drops them; the partial gradients are tree-summed). Also measured: the scheduler's overhead
per task (tiny tasks) and the bytes that go in and out of one task. Medians; cluster start-up and
the workers' first import of mixgrad (a small warm-up graph) are not timed. The machine may be
shared: compare ratios from one run, and say so.
"""

from __future__ import annotations

import argparse
import pickle
import platform
import time

import numpy as np

import mixgrad
from mixgrad.cli.timing import median_time


def _w1(seed: int = 0):
    rng = np.random.default_rng(seed)
    K, D = 8, 16
    means = rng.standard_normal((K, D))
    scales = 0.5 + rng.uniform(size=(K, D))
    logits = rng.standard_normal(K)
    g = rng.standard_normal(D)
    return logits, means, scales, g


def _max_rel(a, b) -> float:
    return max(float(np.max(np.abs(x - y)) / np.max(np.abs(y))) for x, y in zip(a, b))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=10_000_000)
    ap.add_argument("--chunk", type=int, default=1_000_000, help="rows per task")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--tiny-tasks", type=int, default=400, help="tasks of one row, for the overhead per task")
    args = ap.parse_args(argv)

    import dask
    import distributed

    import mixgrad.dask as md

    logits, means, scales, g = _w1()
    mix = mixgrad.DiagGaussianMixture(logits, means, scales)
    dmix = md.DiagGaussianMixture(logits, means, scales)
    n, chunk = args.n, args.chunk
    tasks = -(-n // chunk)
    rows: list[tuple[str, int, float, str]] = []

    last: dict[str, object] = {}

    def in_memory(nt: int):
        last["grad"] = mix.sample_and_vjp(n, g, seed=1, nthreads=nt)[1]

    for nt in (1, 2):
        t = median_time(lambda nt=nt: in_memory(nt), args.repeats, warmup=0)
        rows.append((f"in memory, {nt} thread(s)", 1, t, "x and gradient"))
    ref = last.pop("grad")

    _, grad = dmix.sample_and_vjp(n, g, seed=1, chunks=chunk)
    rel = None
    for workers in (1, 2):
        t0 = time.perf_counter()
        with (
            distributed.LocalCluster(
                n_workers=workers, processes=True, threads_per_worker=1, dashboard_address=None, silence_logs=40
            ) as cluster,
            distributed.Client(cluster) as client,
        ):
            start = time.perf_counter() - t0

            def run(client=client):
                last["grad"] = client.compute(list(grad), sync=True)

            # workers import mixgrad on their first task: warm them up with a small graph
            client.compute(list(dmix.sample_and_vjp(1000, g, seed=1, chunks=100)[1]), sync=True)
            t = median_time(run, args.repeats, warmup=0)
            rows.append((f"Dask, {workers} worker(s) x 1 thread", tasks, t, f"gradient only; start-up {start:.1f} s"))
            rel = _max_rel(last.pop("grad"), ref)
            if workers == 2:
                tiny = dmix.sample_and_vjp(args.tiny_tasks, g, seed=1, chunks=1)[1]
                t_tiny = median_time(lambda tiny=tiny: client.compute(list(tiny), sync=True), args.repeats, warmup=1)
                # one sample+vjp task, the getitem, one tree add per leaf and three outputs
                per_task = t_tiny / (3 * args.tiny_tasks)
    t_thr = median_time(lambda: dask.compute(*grad, scheduler="threads"), args.repeats, warmup=0)
    rows.append(("Dask threaded scheduler (2 threads)", tasks, t_thr, "gradient only"))

    params = sum(len(pickle.dumps(a)) for a in (logits, means, scales))
    partial = sum(len(pickle.dumps(np.asarray(p))) for p in ref)
    cpu = platform.processor() or platform.machine()
    print(f"W1 K=8 D=16, N={n:,} rows in {tasks} tasks of {chunk:,}; float64; {cpu}")
    print("machine shared with other jobs: ratios from one run only\n")
    base1, base2 = rows[0][2], rows[1][2]
    print(f"{'path':<38}{'tasks':>7}{'median s':>11}{'vs 1 thr':>10}{'vs 2 thr':>10}  returns")
    for name, nt, t, what in rows:
        print(f"{name:<38}{nt:>7}{t:>11.3f}{t / base1:>10.2f}{t / base2:>10.2f}  {what}")
    print(f"\nDask gradient vs in-memory: max relative difference {rel:.1e} (tree sum of {tasks} partials)")
    print(f"scheduler overhead: {1e3 * per_task:.1f} ms per task ({args.tiny_tasks} one-row tasks, 2 workers)")
    print(f"bytes per task: in ~{params} (parameters, pickled; g broadcast), out ~{partial} (partial gradient)")
    print(f"compute per task: {1e3 * base1 / tasks:.0f} ms at one thread ({chunk:,} rows)")


if __name__ == "__main__":
    main()
