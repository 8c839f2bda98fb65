"""`mixgrad bench`: mixgrad against the peer libraries installed here, measured in one run.

Each comparison returns rows (workload, peer, peer seconds, mixgrad seconds); a peer that is
not installed is reported as skipped. Ratios are peer time / mixgrad time (higher is better).
"""

from __future__ import annotations

import importlib.util
import os
import platform
from typing import Callable, Dict, List, NamedTuple, Optional

import numpy as np

from . import special
from ._threads import get_num_threads
from ._timing import median_time


class Row(NamedTuple):
    workload: str
    peer: str
    peer_seconds: Optional[float]
    mixgrad_seconds: float
    note: str = ""

    @property
    def ratio(self) -> Optional[float]:
        return None if self.peer_seconds is None else self.peer_seconds / self.mixgrad_seconds


def have(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def compare_special(quick: bool = False, repeats: int = 5, nthreads: Optional[int] = None) -> List[Row]:
    """ndtr, log_ndtr, ndtri, erfcx on 10^7 (quick: 10^6) float64 values against scipy.special."""
    n = 10**6 if quick else 10**7
    rng = np.random.default_rng(0)
    x = 3.0 * rng.standard_normal(n)
    p = rng.uniform(size=n)
    out = np.empty(n)
    rows = []
    for name, arg in (("ndtr", x), ("log_ndtr", x), ("ndtri", p), ("erfcx", x)):
        ours = median_time(lambda: getattr(special, name)(arg, out=out, nthreads=nthreads), repeats)
        if have("scipy"):
            import scipy.special as sc

            theirs = median_time(lambda: getattr(sc, name)(arg, out=out), repeats)
            rows.append(Row(f"{name}, n={n:.0e}", "scipy.special", theirs, ours))
        else:
            rows.append(Row(f"{name}, n={n:.0e}", "scipy.special", None, ours, "scipy not installed"))
    return rows


COMPARISONS: Dict[str, Callable[..., List[Row]]] = {"special functions": compare_special}


def machine_description() -> str:
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs, "
        f"mixgrad threads={get_num_threads()}, Python {platform.python_version()}, numpy {np.__version__}"
    )


def format_rows(rows: List[Row]) -> str:
    lines = [
        "| workload | peer | peer (ms) | mixgrad (ms) | ratio |",
        "|---|---|---:|---:|---:|",
    ]
    for r in rows:
        peer = "—" if r.peer_seconds is None else f"{r.peer_seconds * 1e3:.1f}"
        ratio = (r.note or "—") if r.ratio is None else f"{r.ratio:.1f}x"
        lines.append(f"| {r.workload} | {r.peer} | {peer} | {r.mixgrad_seconds * 1e3:.2f} | {ratio} |")
    return "\n".join(lines)


def run_bench(quick: bool = False, repeats: int = 5) -> int:
    print(f"machine: {machine_description()}")
    print("median of %d runs; ratio = peer time / mixgrad time\n" % repeats)
    for title, fn in COMPARISONS.items():
        rows = fn(quick=quick, repeats=repeats)
        print(f"## {title}\n{format_rows(rows)}\n", flush=True)
    return 0
