"""`mixgrad demo`: a tour of what mixgrad does, with numbers, figures and a one-page report.

Each section is a function that prints its results and returns a block of Markdown (and any
figures it wrote); `run_demo` runs them in order and writes `report.md` into the output folder.
"""

from __future__ import annotations

import math
import os
import time
from typing import Callable, List, NamedTuple

import numpy as np

from . import __version__, special
from ._progress import step
from ._threads import get_num_threads
from ._timing import median_time
from .bench import have, machine_description


class Section(NamedTuple):
    title: str
    markdown: str
    figures: List[str]


def _special_section(out_dir: str, quick: bool, seed: int) -> Section:
    n = 10**6 if quick else 10**7
    rng = np.random.default_rng(seed)
    x = 3.0 * rng.standard_normal(n)
    p = rng.uniform(size=n)
    out = np.empty(n)
    lines = [f"Throughput on {n:.0e} float64 values ({get_num_threads()} threads):", ""]
    lines += ["| function | mixgrad (ns/value) | scipy.special (ns/value) | speed-up |", "|---|---:|---:|---:|"]
    with step("special functions: throughput", total=4) as s:
        for name, arg in (("ndtr", x), ("log_ndtr", x), ("ndtri", p), ("erfcx", x)):
            ours = median_time(lambda: getattr(special, name)(arg, out=out), repeats=3)
            if have("scipy"):
                import scipy.special as sc

                theirs = median_time(lambda: getattr(sc, name)(arg, out=out), repeats=3)
                lines.append(f"| {name} | {ours / n * 1e9:.2f} | {theirs / n * 1e9:.2f} | {theirs / ours:.1f}x |")
            else:
                lines.append(f"| {name} | {ours / n * 1e9:.2f} | not installed | — |")
            s.update()
    lines += ["", "Tails where the textbook formula fails (it returns 0 or -inf):", ""]
    lines += ["| x | 0.5*(1+erf(x/√2)) | mixgrad ndtr(x) | mixgrad log_ndtr(x) |", "|---:|---:|---:|---:|"]
    for v in (-10.0, -30.0, -38.0, -1e4):
        naive = 0.5 * (1.0 + math.erf(v / math.sqrt(2.0)))
        lines.append(f"| {v:g} | {naive:.3g} | {special.ndtr(v):.6g} | {special.log_ndtr(v):.10g} |")
    text = "\n".join(lines)
    print(text)
    return Section("Normal special functions", text, [])


SECTIONS: List[Callable[[str, bool, int], Section]] = [_special_section]


def run_demo(out_dir: str = "mixgrad-demo", quick: bool = False, seed: int = 0) -> int:
    """Run every demo section, write figures and ``report.md`` into ``out_dir``; return 0."""
    os.makedirs(out_dir, exist_ok=True)
    t0 = time.perf_counter()
    print(f"mixgrad {__version__} demo ({'quick' if quick else 'full'}) on {machine_description()}\n")
    sections = []
    for make in SECTIONS:
        sections.append(make(out_dir, quick, seed))
        print()
    report = os.path.join(out_dir, "report.md")
    with open(report, "w", encoding="utf-8") as fh:
        fh.write(f"# mixgrad {__version__} demo\n\nMachine: {machine_description()}\n\n")
        for sec in sections:
            fh.write(f"## {sec.title}\n\n{sec.markdown}\n\n")
            for fig in sec.figures:
                fh.write(f"![{os.path.basename(fig)}]({os.path.basename(fig)})\n\n")
    figures = [f for sec in sections for f in sec.figures]
    print(f"done in {time.perf_counter() - t0:.0f} s. Report: {os.path.abspath(report)}")
    if figures:
        print("Figures:\n" + "\n".join(f"  {os.path.abspath(f)}" for f in figures))
    return 0
