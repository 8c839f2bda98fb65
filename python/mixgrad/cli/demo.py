"""`mixgrad demo`: a tour of what mixgrad does, with numbers, figures and a one-page report.

Each section is a function that prints its results and returns a block of Markdown (and any
figures it wrote); `run_demo` runs them in order and writes `report.md` into the output folder.
"""

from __future__ import annotations

import functools
import math
import os
import time
from typing import Callable, NamedTuple

import numpy as np

from .. import __version__, special
from .._threads import get_num_threads
from .bench import have, machine_description
from .progress import step
from .timing import median_time


class Section(NamedTuple):
    title: str
    markdown: str
    figures: list[str]


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
            ours = median_time(functools.partial(getattr(special, name), arg, out=out), repeats=3)
            if have("scipy"):
                import scipy.special as sc

                theirs = median_time(functools.partial(getattr(sc, name), arg, out=out), repeats=3)
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


def _mixture_section(out_dir: str, quick: bool, seed: int) -> Section:
    """(a) samples of a large mixture and their gradients; (b) those gradients against finite
    differences of the quantile transform."""
    from ..mixture import DiagGaussianMixture

    rng = np.random.default_rng(seed)
    k, d, n = 8, 16, (20_000 if quick else 100_000)
    mix = DiagGaussianMixture(rng.normal(size=k), 3.0 * rng.normal(size=(k, d)), 0.5 + rng.uniform(size=(k, d)))
    grad_x = rng.normal(size=d)
    with step("mixture: sample + gradients (K=8, D=16)", total=2) as s:
        t_sample = median_time(lambda: mix.sample(n, seed=seed), repeats=3)
        x = mix.sample(n, seed=seed)
        s.update()
        t_vjp = median_time(lambda: mix.vjp(x, np.broadcast_to(grad_x, x.shape)), repeats=3)
        s.update()
    lines = [
        f"One mixture with K = {k} components in D = {d} dimensions, N = {n:,} samples, {get_num_threads()} threads:",
        "",
        "| step | time (ms) | samples per second |",
        "|---|---:|---:|",
        f"| sample | {t_sample * 1e3:.1f} | {n / t_sample:,.0f} |",
        f"| gradient of Σ g·x w.r.t. logits, means, scales (vjp) | {t_vjp * 1e3:.1f} | {n / t_vjp:,.0f} |",
        "",
    ]
    # (b) Finite differences: x(theta) = quantile_theta(u) with u = cdf_transform(x) held fixed.
    small = DiagGaussianMixture(rng.normal(size=5), 2.0 * rng.normal(size=(5, 3)), 0.5 + rng.uniform(size=(5, 3)))
    xs = small.sample(4, seed=seed + 1)
    u = small.cdf_transform(xs)
    g = rng.normal(size=xs.shape)
    analytic = small.vjp(xs, g)
    h = 1e-6
    worst = 0.0
    with step("mixture: finite-difference check", total=3) as s:
        base = {"logits": small.logits, "means": small.means, "scales": small.scales}
        for name in ("logits", "means", "scales"):
            fd = np.zeros_like(base[name])
            for idx in np.ndindex(fd.shape):
                e = np.zeros_like(fd)
                e[idx] = h * (1.0 if name != "scales" else base[name][idx])
                up = dict(base, **{name: base[name] + e})
                dn = dict(base, **{name: base[name] - e})
                fd[idx] = np.sum(
                    g * (DiagGaussianMixture(**up).quantile(u) - DiagGaussianMixture(**dn).quantile(u))
                ) / (2 * e[idx])
            got = getattr(analytic, name)
            worst = max(worst, float(np.max(np.abs(got - fd)) / max(1e-300, float(np.max(np.abs(fd))))))
            s.update()
    lines += [
        "Check: the implicit gradients of 4 samples of a K = 5, D = 3 mixture against central finite "
        "differences of the quantile transform (u held fixed), all 35 parameters: "
        f"largest relative error {worst:.1e}.",
    ]
    text = "\n".join(lines)
    print(text)
    return Section("Gaussian mixtures: samples and their gradients", text, [])


def _rebar_toy_section(out_dir: str, quick: bool, seed: int) -> Section:
    """(c) the REBAR toy: variance of each estimator against plain REINFORCE, and SGD on theta."""
    from ..experiments import toy

    with step("REBAR toy: training and variance table", total=1):
        res = toy.run_toy(quick=quick, seed=seed)
    figures = []
    if have("matplotlib"):
        from ..experiments import toy_plots

        figures = toy_plots.make_figures(res, out_dir)
    text = "\n".join(
        [
            "f(b) = mean_d (b_d − t)², b_d ~ Bernoulli(σ(α_d)) (logistic noise): per-coordinate variance of "
            "each gradient estimator at θ = 1/2, and how many times smaller it is than plain REINFORCE's "
            "(the column 'max bias / stderr' checks every estimate against the exact gradient; Concrete is biased).",
            "",
            toy.format_table(res.table),
        ]
    )
    print(text)
    return Section("Discrete samples: REBAR and its peers on the toy problem", text, figures)


def _gmm_section(out_dir: str, quick: bool, seed: int) -> Section:
    """(d) the report's GMM: EM, exact gradient, REBAR, REINFORCE; figures."""
    from ..experiments import gmm_report

    n_iter = 200 if quick else 600
    with step("GMM: 1-D report setup (EM, exact, REBAR, REINFORCE)", total=4) as s:
        one = gmm_report.report_1d(n_iter=n_iter, seed=seed, on_fit=lambda m: s.update())
    with step("GMM: K = 4 in 2-D", total=4) as s:
        two = gmm_report.four_clusters_2d(n_iter=n_iter // 2 if quick else 400, seed=seed, on_fit=lambda m: s.update())
    figures = []
    if have("matplotlib"):
        with step("GMM: figures", total=1):
            figures = gmm_report.make_figures(one, two, out_dir)
    text = "\n".join(
        [
            f"The REBAR reproduction report's experiment ({n_iter} iterations): 200 points from "
            "0.3·N(−3, 2²) + 0.7·N(3, 1²), weights P(c = 1) = Φ(α) learned by REBAR (Gaussian noise) "
            "and REINFORCE, against EM and the exact gradient:",
            "",
            gmm_report.summary_table(one),
            "",
            "K = 4 components in 2-D (true weights 0.1, 0.2, 0.3, 0.4), softmax weights, categorical REBAR:",
            "",
            gmm_report.summary_table(two),
        ]
    )
    print(text)
    return Section("Learning mixture weights with REBAR (vs EM and REINFORCE)", text, figures)


SECTIONS: list[Callable[[str, bool, int], Section]] = [
    _special_section,
    _mixture_section,
    _rebar_toy_section,
    _gmm_section,
]


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
