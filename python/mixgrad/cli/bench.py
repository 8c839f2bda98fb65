"""`mixgrad bench`: mixgrad against the peer libraries installed here, measured in one run.

Each comparison returns rows (workload, peer, peer seconds, mixgrad seconds); a peer that is
not installed is reported as skipped. Ratios are peer time / mixgrad time (higher is better).
"""

from __future__ import annotations

import functools
import importlib.util
import os
import platform
from typing import Callable, NamedTuple

import numpy as np

from .. import special
from .._simd import simd_level, supported_simd_levels
from .._threads import get_num_threads
from .timing import median_time


class Row(NamedTuple):
    workload: str
    peer: str
    peer_seconds: float | None
    mixgrad_seconds: float
    note: str = ""

    @property
    def ratio(self) -> float | None:
        return None if self.peer_seconds is None else self.peer_seconds / self.mixgrad_seconds


def have(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def compare_special(quick: bool = False, repeats: int = 5, nthreads: int | None = None) -> list[Row]:
    """ndtr, log_ndtr, ndtri, erfcx on 10^7 (quick: 10^6) float64 values against scipy.special."""
    n = 10**6 if quick else 10**7
    rng = np.random.default_rng(0)
    x = 3.0 * rng.standard_normal(n)
    p = rng.uniform(size=n)
    out = np.empty(n)
    rows = []
    for name, arg in (("ndtr", x), ("log_ndtr", x), ("ndtri", p), ("erfcx", x)):
        ours = median_time(functools.partial(getattr(special, name), arg, out=out, nthreads=nthreads), repeats)
        if have("scipy"):
            import scipy.special as sc

            theirs = median_time(functools.partial(getattr(sc, name), arg, out=out), repeats)
            rows.append(Row(f"{name}, n={n:.0e}", "scipy.special", theirs, ours))
        else:
            rows.append(Row(f"{name}, n={n:.0e}", "scipy.special", None, ours, "scipy not installed"))
    return rows


def compare_gmm_step(quick: bool = False, repeats: int = 5, nthreads: int | None = None) -> list[Row]:
    """One categorical-REBAR step of the GMM application (K = 8, S = 16, D = 2) against the same
    step in vectorized numpy."""
    from ..gmm.estimate import estimate_logit_gradient
    from ..gmm.model import MixtureParams
    from ..gmm.numpy_reference import rebar_logit_gradient

    n, k, d = (10**4 if quick else 10**5), 8, 2
    rng = np.random.default_rng(0)
    means = 4.0 * rng.normal(size=(k, d))
    x = means[rng.integers(k, size=n)] + rng.normal(size=(n, d))
    params = MixtureParams(rng.normal(size=k), means, 1.0 + 0.2 * rng.uniform(size=(k, d)), "softmax")
    options = {"temperature": 0.5, "eta": 1.0}
    ours = median_time(lambda: estimate_logit_gradient("rebar", x, params, 16, 0, options), repeats)
    theirs = median_time(
        lambda: rebar_logit_gradient(x, means, params.scales, params.logits, 16, np.random.default_rng(0)), repeats
    )
    return [Row(f"GMM REBAR step, n={n:.0e}, K={k}, S=16", "numpy (vectorized)", theirs, ours)]


def compare_mixture(quick: bool = False, repeats: int = 5, nthreads: int | None = None) -> list[Row]:
    """DESIGN section 7 workloads W1-W3 (sample + gradient w.r.t. all parameters) against Pyro's
    MixtureOfDiagNormals and TFP's MixtureSameFamily(reparameterize=True) on JAX."""
    from . import mixture_workloads as mw

    scale = 0.1 if quick else 1.0
    ours = mw.workloads(nthreads=nthreads, scale=scale)
    peers = mw.peer_workloads(scale=scale)
    rows = []
    for name, run in ours.items():
        M, K, D, N = mw.SPECS[name]
        label = f"{name} (K={K}, D={D}, " + (f"N={int(N * scale):,})" if N else f"M={int((M or 1) * scale):,})")
        t_ours = median_time(run, repeats)
        for peer, title in (("pyro", "Pyro MixtureOfDiagNormals"), ("tfp", "TFP MixtureSameFamily (JAX, jit)")):
            fn = peers[name][peer]
            if peer == "tfp" and name == "W3":
                # TFP's implicit mixture gradient forms a D x D Jacobian per sample: minutes here.
                rows.append(Row(label, title, None, t_ours, "not run (too slow)"))
                continue
            if fn is None:
                rows.append(Row(label, title, None, t_ours, "not installed"))
                continue
            # Pyro's W3 backward is O(K^2 D): a single timed call is enough there.
            slow = peer == "pyro" and name == "W3"
            rows.append(
                Row(label, title, median_time(fn, 1 if slow else min(repeats, 3), warmup=0 if slow else 1), t_ours)
            )
    return rows


def compare_rebar(quick: bool = False, repeats: int = 5, nthreads: int | None = None) -> list[Row]:
    """REBAR per-sample estimates (logistic noise, the toy objective) against the vectorized
    PyTorch REBAR of ../shared/anchors/torch_rebar.py, at B = 1e6 x D = 1 and B = 1e4 x D = 200."""
    from . import rebar_workloads as rw

    ours = rw.workloads(nthreads)
    peers = rw.peer_workloads(nthreads)
    rows = []
    for name, run in ours.items():
        t_ours = median_time(run, repeats)
        rate = rw.estimates_per_call(name) / t_ours / 1e6
        fn = peers.get(name)
        label = f"{name} ({rate:.0f} M estimates/s)"
        if fn is None:
            note = "no peer" if name not in rw.SHAPES else "torch not installed"
            rows.append(Row(label, "PyTorch REBAR (vectorized)", None, t_ours, note))
        else:
            rows.append(Row(label, "PyTorch REBAR (vectorized)", median_time(fn, repeats), t_ours))
    return rows


def compare_disarm(quick: bool = False, repeats: int = 5, nthreads: int | None = None) -> list[Row]:
    """DisARM per-pair estimates (Bernoulli, the REBAR workload's objective) against a vectorized
    PyTorch DisARM, at B = 1e6 x D = 1 and B = 1e4 x D = 200 (B antithetic pairs)."""
    from . import rebar_workloads as rw

    rows = []
    for name, (B, D) in rw.DISARM_SHAPES.items():
        run = rw.mixgrad_disarm(B, D, nthreads)
        t_ours = median_time(run, repeats)
        label = f"{name} ({B * D / t_ours / 1e6:.0f} M estimates/s)"
        peer = rw.torch_disarm(B, D, nthreads)
        if peer is None:
            rows.append(Row(label, "PyTorch DisARM (vectorized)", None, t_ours, "torch not installed"))
        else:
            rows.append(Row(label, "PyTorch DisARM (vectorized)", median_time(peer, repeats), t_ours))
    return rows


COMPARISONS: dict[str, Callable[..., list[Row]]] = {
    "special functions": compare_special,
    "Gaussian mixtures: sample + gradients": compare_mixture,
    "REBAR estimators": compare_rebar,
    "DisARM estimators": compare_disarm,
    "GMM application": compare_gmm_step,
}


def machine_description() -> str:
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs, "
        f"kernels {simd_level()} (supported: {', '.join(supported_simd_levels())}), "
        f"mixgrad threads={get_num_threads()}, Python {platform.python_version()}, numpy {np.__version__}"
    )


def format_rows(rows: list[Row]) -> str:
    lines = [
        "| workload | peer | peer (ms) | mixgrad (ms) | ratio |",
        "|---|---|---:|---:|---:|",
    ]
    for r in rows:
        peer = "—" if r.peer_seconds is None else f"{r.peer_seconds * 1e3:.1f}"
        ratio = (r.note or "—") if r.ratio is None else f"{r.ratio:.1f}x"
        lines.append(f"| {r.workload} | {r.peer} | {peer} | {r.mixgrad_seconds * 1e3:.2f} | {ratio} |")
    return "\n".join(lines)


def run_bench(quick: bool = False, repeats: int = 5, only: list[str] | None = None) -> int:
    print(f"machine: {machine_description()}")
    print(f"median of {repeats} runs; ratio = peer time / mixgrad time\n")
    for title, fn in COMPARISONS.items():
        if only and not any(words in title for words in only):
            continue
        rows = fn(quick=quick, repeats=repeats)
        print(f"## {title}\n{format_rows(rows)}\n", flush=True)
    return 0
