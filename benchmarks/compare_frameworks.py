"""Sample + VJP of the mixture workloads W1-W3 (DESIGN.md section 7) in every framework, in one run:
mixgrad's C++ core (numpy API), mixgrad.jax (jit), mixgrad.torch (eager, and torch.compile),
Pyro's MixtureOfDiagNormals and TFP-on-JAX MixtureSameFamily(reparameterize=True).

    python benchmarks/compare_frameworks.py [--device cpu|cuda] [--dtype float32 float64]
        [--repeat 5] [--workloads W1 W2 W3] [--threads 2] [--scale 1.0] [--columns ...]

Each cell runs in a fresh subprocess, so that imports, jit caches and allocator state of one
framework do not leak into another. A cell builds its inputs, then calls the workload once
(warm-up; jit compilation for JAX and TFP, tracing for torch.compile), then ``--repeat`` times;
the time is the median of those. Memory: the subprocess's peak resident set size
(``ru_maxrss``) minus its resident set size just before the warm-up, i.e. the extra memory the
workload needed at its peak, compilation included (tracemalloc cannot see framework buffers).
The mixgrad backends of the torch and JAX paths (``backend="core"`` / ``"native"``) are timed
when the installed mixgrad has them; otherwise the column shows the default path. On
``--device cuda`` the torch and Pyro tensors live on the GPU and JAX uses its default (GPU)
device; the core column stays on the CPU.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

from mixgrad.cli.mixture_workloads import SPECS, make_inputs, n_samples, peer_workload, workloads

COLUMNS = (
    "core",
    "jax",
    "jax-native",
    "jax-core",
    "torch",
    "torch-native",
    "torch-core",
    "torch-compile",
    "pyro",
    "tfp",
)


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _backend_kwargs(fn, column: str) -> dict | None:
    """{"backend": ...} for a "-native"/"-core" column, {} for the default; None when the installed
    mixgrad has no ``backend`` argument (the column is then skipped)."""
    if "-" not in column or column.endswith("compile"):
        return {}
    if "backend" not in inspect.signature(fn).parameters:
        return None
    return {"backend": column.split("-", 1)[1]}


def _jax_cell(name, dtype, scale, column):
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    import mixgrad.jax as mj

    kwargs = _backend_kwargs(mj.rsample, column)
    if kwargs is None:
        return None
    a, m, s, g = (jnp.asarray(t) for t in make_inputs(name, dtype, scale=scale))
    n = n_samples(name, scale)
    shape = (n,) if n is not None else ()

    def loss(params, key):
        return jnp.sum(mj.rsample(*params, key, shape, **kwargs) * g)

    f = jax.jit(jax.grad(loss))
    counter = [0]

    def run():
        counter[0] += 1
        jax.block_until_ready(f((a, m, s), jax.random.key(counter[0])))

    return run


def _torch_cell(name, dtype, scale, column, device):
    import torch

    import mixgrad.torch as mt

    kwargs = _backend_kwargs(mt.DiagGaussianMixture.__init__, column)
    if kwargs is None:
        return None
    *params, g_np = make_inputs(name, dtype, scale=scale)
    a, m, s = (torch.tensor(t, device=device, requires_grad=True) for t in params)
    g = torch.tensor(g_np, device=device)
    n = n_samples(name, scale)
    shape = (n,) if n is not None else ()

    def step(a, m, s, g):
        x = mt.DiagGaussianMixture(a, m, s, **kwargs).rsample(shape)
        return torch.autograd.grad((x * g).sum(), (a, m, s))

    fn = torch.compile(step) if column == "torch-compile" else step

    def run():
        fn(a, m, s, g)
        if device != "cpu":
            torch.cuda.synchronize()

    return run


def _cell(column, name, dtype, scale, threads, device):
    """The workload callable of one cell (None: not available here)."""
    if column == "core":
        return workloads(nthreads=threads, dtype=dtype, scale=scale)[name]
    if column.startswith("jax"):
        return _jax_cell(name, dtype, scale, column)
    if column.startswith("torch"):
        import torch

        torch.set_num_threads(threads)
        return _torch_cell(name, dtype, scale, column, device)
    if column == "pyro":
        import torch

        torch.set_num_threads(threads)
    return peer_workload(name, column, scale, dtype, device)


def run_cell(column, name, dtype, scale, threads, device, repeat):
    """Time one cell in this process; returns a dict with the median seconds and peak extra MiB,
    or a note why it did not run."""
    try:
        fn = _cell(column, name, np.dtype(dtype), scale, threads, device)
    except ImportError as exc:
        return {"note": f"not installed ({exc.name})"}
    if fn is None:
        return {"note": "not available"}
    rss0 = _rss_bytes()
    try:
        fn()  # warm-up (compilation)
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
    except Exception as exc:  # a framework that cannot run this cell: report, do not abort the table
        return {"note": f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:80]}"}
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    return {"seconds": statistics.median(times), "extra_mib": max(0, peak - rss0) / 2**20}


def _child_env(threads: int, device: str) -> dict:
    env = dict(os.environ)
    env["MIXGRAD_NUM_THREADS"] = str(threads)
    env["OMP_NUM_THREADS"] = str(threads)
    env["XLA_FLAGS"] = (
        env.get("XLA_FLAGS", "") + f" --xla_cpu_multi_thread_eigen=true intra_op_parallelism_threads={threads}"
    ).strip()
    if device == "cpu":
        env["JAX_PLATFORMS"] = "cpu"
    return env


def _format(cell, core_seconds):
    if "seconds" not in cell:
        return cell["note"]
    ms = cell["seconds"] * 1e3
    ratio = f" ({cell['seconds'] / core_seconds:.1f}x)" if core_seconds else ""
    return f"{ms:.1f} ms{ratio}, +{cell['extra_mib']:.0f} MiB"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--dtype", nargs="+", default=["float32", "float64"], choices=["float32", "float64"])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--workloads", nargs="+", default=list(SPECS), choices=list(SPECS))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--scale", type=float, default=1.0, help="shrink N (or M) for a quick run")
    ap.add_argument("--columns", nargs="+", default=list(COLUMNS), choices=list(COLUMNS))
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per cell")
    ap.add_argument("--cell", nargs=3, metavar=("COLUMN", "WORKLOAD", "DTYPE"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.cell:
        column, name, dtype = args.cell
        print(json.dumps(run_cell(column, name, dtype, args.scale, args.threads, args.device, args.repeat)))
        return None
    table = {}
    for name in args.workloads:
        for dtype in args.dtype:
            row = {}
            for column in args.columns:
                cmd = [sys.executable, __file__, "--cell", column, name, dtype, "--repeat", str(args.repeat)]
                cmd += ["--threads", str(args.threads), "--scale", str(args.scale), "--device", args.device]
                try:
                    out = subprocess.run(
                        cmd,
                        capture_output=True,
                        text=True,
                        env=_child_env(args.threads, args.device),
                        timeout=args.timeout,
                    )
                    lines = out.stdout.strip().splitlines()
                    if out.returncode == 0 and lines:
                        row[column] = json.loads(lines[-1])
                    else:  # e.g. exit -9: killed for memory
                        err = (out.stderr.strip().splitlines() or [""])[-1][:80]
                        row[column] = {"note": f"crashed (exit {out.returncode}) {err}".strip()}
                except subprocess.TimeoutExpired:
                    row[column] = {"note": f"over {args.timeout:.0f} s"}
                print(f"{name} {dtype} {column}: {row[column]}", file=sys.stderr, flush=True)
            table[(name, dtype)] = row
    print(f"\nsample + VJP, device {args.device}, {args.threads} threads, median of {args.repeat}; ")
    print("cells: time (ratio to the core), peak extra resident memory\n")
    print("| workload | dtype | " + " | ".join(args.columns) + " |")
    print("|---|---|" + "---|" * len(args.columns))
    for (name, dtype), row in table.items():
        core = row.get("core", {}).get("seconds")
        print(f"| {name} | {dtype} | " + " | ".join(_format(row[c], core) for c in args.columns) + " |")
    return table


if __name__ == "__main__":
    main()
