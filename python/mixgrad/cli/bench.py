"""`mixgrad bench`: mixgrad against the peer libraries installed here, measured in one run.

Each peer comparison returns rows (workload, peer, peer seconds, mixgrad seconds); a peer that
is not installed is reported as skipped. Ratios are peer time / mixgrad time (higher is better).
mixgrad and its peers are timed in interleaved rounds (:func:`interleaved_median_times`), so that
a change of load on a shared machine moves both sides of a ratio alike.
The W1 kernel costs have a table of their own (:class:`KernelCostRow`): each kernel's time, its
cost per (sample, component, coordinate) per thread, and quantile / (sample + vjp).

mixgrad's multi-threaded rows run at the run's thread count (``mixgrad bench --threads N``,
default :func:`mixgrad.get_num_threads`); the special functions and the W1 kernels also have
rows at 1 thread.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
import platform
import statistics
import time
from collections.abc import Hashable, Iterator, Mapping
from typing import Callable, NamedTuple, TypeVar

import numpy as np

from .. import special
from .._simd import simd_level, supported_simd_levels
from .._threads import get_num_threads, threads
from .timing import median_time

KeyT = TypeVar("KeyT", bound=Hashable)


class Row(NamedTuple):
    workload: str
    peer: str
    peer_seconds: float | None
    mixgrad_seconds: float
    note: str = ""

    @property
    def ratio(self) -> float | None:
        return None if self.peer_seconds is None else self.peer_seconds / self.mixgrad_seconds


class KernelCostRow(NamedTuple):
    """One kernel of a mixture workload at one thread count, in the kernel-cost table.

    ``triples`` is samples x components x coordinates, the unit of the kernels' work;
    ``sample_vjp_seconds`` (quantile rows only) is sample + vjp at the same thread count.
    """

    workload: str
    kernel: str
    nthreads: int
    seconds: float
    triples: int
    sample_vjp_seconds: float | None = None

    @property
    def ns_per_triple(self) -> float:
        """Nanoseconds per (sample, component, coordinate) per thread: seconds x threads / triples."""
        return self.seconds * self.nthreads / self.triples * 1e9

    @property
    def ratio(self) -> float | None:
        """This kernel's time / (sample + vjp) at the same thread count (quantile rows), else None."""
        return None if self.sample_vjp_seconds is None else self.seconds / self.sample_vjp_seconds


# The kernels of the kernel-cost table, in the order they are timed and printed.
KERNELS = ("sample", "vjp", "quantile")


def have(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def thread_counts(nthreads: int | None) -> list[int]:
    """The thread counts of the rows that are timed at 1 thread and at the run's count.

    Parameters
    ----------
    nthreads : int or None
        The run's thread count; None: :func:`mixgrad.get_num_threads`.

    Returns
    -------
    list of int
        ``[1, nthreads]``, or ``[1]`` when the run's count is 1 (no duplicate rows).
    """
    n = get_num_threads() if nthreads is None else nthreads
    return [1] if n == 1 else [1, n]


def interleaved_median_times(
    calls: Mapping[KeyT, Callable[[], object]], repeats: int = 5, warmup: int = 1
) -> dict[KeyT, float]:
    """Median seconds of each call, timed in rounds that run every call once, in order.

    Unlike :func:`~mixgrad.cli.timing.median_time`, which times one call's repeats back to
    back, a change of load on a shared machine hits all the calls alike, so their ratios hold.

    Parameters
    ----------
    calls : mapping of key -> zero-argument callable
    repeats : int
        Timed rounds (at least 1).
    warmup : int
        Untimed rounds first.

    Returns
    -------
    dict of key -> float
        The median over the timed rounds of each call's seconds.
    """
    for _ in range(warmup):
        for fn in calls.values():
            fn()
    times: dict[KeyT, list[float]] = {key: [] for key in calls}
    for _ in range(max(1, repeats)):
        for key, fn in calls.items():
            t0 = time.perf_counter()
            fn()
            times[key].append(time.perf_counter() - t0)
    return {key: statistics.median(t) for key, t in times.items()}


def _thread_label(nthreads: int) -> str:
    return "1 thread" if nthreads == 1 else f"{nthreads} threads"


def compare_special(quick: bool = False, repeats: int = 5, nthreads: int | None = None) -> list[Row]:
    """ndtr, log_ndtr, ndtri, erfcx on 10^7 (quick: 10^6) float64 values against scipy.special,
    mixgrad at 1 thread and at ``nthreads`` (None: :func:`mixgrad.get_num_threads`) when that
    is more; scipy (single-threaded) is timed once per function, interleaved with mixgrad."""
    n = 10**6 if quick else 10**7
    rng = np.random.default_rng(0)
    x = 3.0 * rng.standard_normal(n)
    p = rng.uniform(size=n)
    out = np.empty(n)
    counts = thread_counts(nthreads)
    scipy_special = importlib.import_module("scipy.special") if have("scipy") else None
    rows = []
    for name, arg in (("ndtr", x), ("log_ndtr", x), ("ndtri", p), ("erfcx", x)):
        calls: dict[int | str, Callable[[], object]] = {
            t: functools.partial(getattr(special, name), arg, out=out, nthreads=t) for t in counts
        }
        if scipy_special is not None:
            calls["scipy"] = functools.partial(getattr(scipy_special, name), arg, out=out)
        seconds = interleaved_median_times(calls, repeats)
        for t in counts:
            label = f"{name}, n={n:.0e}, {_thread_label(t)}"
            if scipy_special is None:
                rows.append(Row(label, "scipy.special", None, seconds[t], "scipy not installed"))
            else:
                rows.append(Row(label, "scipy.special", seconds["scipy"], seconds[t]))
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
    seconds = interleaved_median_times(
        {
            "mixgrad": lambda: estimate_logit_gradient("rebar", x, params, 16, 0, options),
            "numpy": lambda: rebar_logit_gradient(x, means, params.scales, params.logits, 16, np.random.default_rng(0)),
        },
        repeats,
    )
    return [Row(f"GMM REBAR step, n={n:.0e}, K={k}, S=16", "numpy (vectorized)", seconds["numpy"], seconds["mixgrad"])]


def _mixture_label(name: str, scale: float) -> str:
    from .mixture_workloads import SPECS

    M, K, D, N = SPECS[name]
    return f"{name} (K={K}, D={D}, " + (f"N={int(N * scale):,})" if N else f"M={int((M or 1) * scale):,})")


def compare_mixture(quick: bool = False, repeats: int = 5, nthreads: int | None = None) -> list[Row]:
    """DESIGN section 7 workloads W1-W3 (sample + gradient w.r.t. all parameters) against Pyro's
    MixtureOfDiagNormals and TFP's MixtureSameFamily(reparameterize=True) on JAX. Pyro runs on
    ``nthreads`` torch threads (when given), as many as mixgrad."""
    with _torch_threads_restored():
        if nthreads and have("torch"):
            import torch

            torch.set_num_threads(nthreads)
        return _compare_mixture(quick, repeats, nthreads)


def _compare_mixture(quick: bool, repeats: int, nthreads: int | None) -> list[Row]:
    from . import mixture_workloads as mw

    scale = 0.1 if quick else 1.0
    ours = mw.workloads(nthreads=nthreads, scale=scale)
    peers = mw.peer_workloads(scale=scale)
    titles = {"pyro": "Pyro MixtureOfDiagNormals", "tfp": "TFP MixtureSameFamily (JAX, jit)"}
    rows = []
    for name, run in ours.items():
        label = _mixture_label(name, scale)
        # mixgrad and the peers in interleaved rounds (their ratios see the same load), three
        # rounds when a peer takes part (Pyro's W1 call takes seconds).
        calls: dict[str, Callable[[], object]] = {"mixgrad": run}
        notes: dict[str, str] = {}
        slow: Callable[[], object] | None = None
        for peer in titles:
            fn = peers[name][peer]
            if peer == "tfp" and name == "W3":
                # TFP's implicit mixture gradient forms a D x D Jacobian per sample: minutes here.
                notes[peer] = "not run (too slow)"
            elif fn is None:
                notes[peer] = "not installed"
            elif peer == "pyro" and name == "W3":
                slow = fn  # Pyro's W3 backward is O(K^2 D): one call, timed on its own
            else:
                calls[peer] = fn
        seconds = interleaved_median_times(calls, repeats if len(calls) == 1 else min(repeats, 3))
        t_ours = seconds["mixgrad"]
        for peer, title in titles.items():
            if peer in notes:
                rows.append(Row(label, title, None, t_ours, notes[peer]))
            elif peer in seconds:
                rows.append(Row(label, title, seconds[peer], t_ours))
            elif slow is not None:
                rows.append(Row(label, title, median_time(slow, 1, warmup=0), t_ours))
    return rows


def compare_mixture_kernels(quick: bool = False, repeats: int = 5, nthreads: int | None = None) -> list[KernelCostRow]:
    """W1's sample, vjp and quantile (of the distributional transform of W1's samples), each at
    1 thread and at ``nthreads`` (None: :func:`mixgrad.get_num_threads`) when that is more.

    All six calls are timed interleaved (:func:`interleaved_median_times`), so that the ratio
    quantile / (sample + vjp) and the 1-thread / n-thread comparison see the same load.
    """
    from ..mixture import DiagGaussianMixture
    from . import mixture_workloads as mw

    scale = 0.1 if quick else 1.0
    logits, means, scales, g = mw.make_inputs("W1", scale=scale)
    mix = DiagGaussianMixture(logits, means, scales)
    n = mw.n_samples("W1", scale)
    assert n is not None  # W1 is one mixture with N samples
    x = mix.sample(n, seed=1)
    u = mix.cdf_transform(x)
    _, K, D, _ = mw.SPECS["W1"]
    calls: dict[tuple[int, str], Callable[[], object]] = {}
    for t in thread_counts(nthreads):
        calls[t, "sample"] = functools.partial(mix.sample, n, seed=1, nthreads=t)
        calls[t, "vjp"] = functools.partial(mix.vjp, x, g, nthreads=t)
        calls[t, "quantile"] = functools.partial(mix.quantile, u, nthreads=t)
    seconds = interleaved_median_times(calls, repeats)
    by_threads: dict[int, dict[str, float]] = {}
    for (t, kernel), s in seconds.items():
        by_threads.setdefault(t, {})[kernel] = s
    return kernel_cost_rows(_mixture_label("W1", scale), n * K * D, by_threads)


def kernel_cost_rows(workload: str, triples: int, seconds: Mapping[int, Mapping[str, float]]) -> list[KernelCostRow]:
    """The kernel-cost rows of one workload from measured times.

    Parameters
    ----------
    workload : str
        The workload's label.
    triples : int
        Samples x components x coordinates of one call.
    seconds : mapping of thread count -> {kernel: seconds}
        The time of each kernel of KERNELS ("sample", "vjp", "quantile") at each thread count.

    Returns
    -------
    list of KernelCostRow
        One row per thread count and kernel, in the order of ``seconds`` and KERNELS; the
        quantile rows carry sample + vjp at their thread count for the ratio.
    """
    rows = []
    for t, by_kernel in seconds.items():
        sample_vjp = by_kernel["sample"] + by_kernel["vjp"]
        for kernel in KERNELS:
            baseline = sample_vjp if kernel == "quantile" else None
            rows.append(KernelCostRow(workload, kernel, t, by_kernel[kernel], triples, baseline))
    return rows


@contextlib.contextmanager
def _torch_threads_restored() -> Iterator[None]:
    """Put torch's process-wide thread count back on exit: the PyTorch peers set it to the
    run's count, and a caller in the same process (the tests) should not inherit that."""
    if not have("torch"):
        yield
        return
    import torch

    before = torch.get_num_threads()
    try:
        yield
    finally:
        torch.set_num_threads(before)


def compare_rebar(quick: bool = False, repeats: int = 5, nthreads: int | None = None) -> list[Row]:
    """REBAR per-sample estimates (the toy objective) against the vectorized PyTorch REBAR of
    ../shared/anchors/torch_rebar.py, at B = 1e6 x D = 1 and B = 1e4 x D = 200, for each noise
    variant of rebar_workloads.VARIANTS (logistic: the fast path; probit; coupled), and the
    categorical workload, which has no peer."""
    from . import rebar_workloads as rw

    # (label, mixgrad callable, torch callable or None, estimates per call, note when no torch callable)
    cases: list[tuple[str, Callable[[], object], Callable[[], object] | None, int, str]] = []
    with _torch_threads_restored():
        for variant in rw.VARIANTS:
            for name, (B, D) in rw.SHAPES.items():
                # The logistic rows keep their old labels, so that earlier outputs stay comparable.
                label = name if variant == "logistic" else f"{name} {variant}"
                ours = rw.mixgrad_rebar(B, D, nthreads, variant=variant)
                peer = rw.torch_rebar(B, D, nthreads, variant=variant)
                cases.append((label, ours, peer, B * D, "torch not installed"))
        for name, run in rw.workloads(nthreads).items():
            if name not in rw.SHAPES:
                cases.append((name, run, None, rw.estimates_per_call(name), "no peer"))
        rows = []
        for label, run, peer, estimates, note in cases:
            # interleaved rounds with the peer: the ratio sees the same load on both
            seconds = interleaved_median_times(
                {"mixgrad": run} if peer is None else {"mixgrad": run, "torch": peer}, repeats
            )
            t_ours = seconds["mixgrad"]
            workload = f"{label} ({estimates / t_ours / 1e6:.0f} M estimates/s)"
            rows.append(Row(workload, "PyTorch REBAR (vectorized)", seconds.get("torch"), t_ours, "" if peer else note))
    return rows


def compare_disarm(quick: bool = False, repeats: int = 5, nthreads: int | None = None) -> list[Row]:
    """DisARM per-pair estimates (Bernoulli, the REBAR workload's objective) against a vectorized
    PyTorch DisARM, at B = 1e6 x D = 1 and B = 1e4 x D = 200 (B antithetic pairs)."""
    from . import rebar_workloads as rw

    rows = []
    with _torch_threads_restored():
        for name, (B, D) in rw.DISARM_SHAPES.items():
            run = rw.mixgrad_disarm(B, D, nthreads)
            peer = rw.torch_disarm(B, D, nthreads)
            seconds = interleaved_median_times(
                {"mixgrad": run} if peer is None else {"mixgrad": run, "torch": peer}, repeats
            )
            t_ours = seconds["mixgrad"]
            label = f"{name} ({B * D / t_ours / 1e6:.0f} M estimates/s)"
            if peer is None:
                rows.append(Row(label, "PyTorch DisARM (vectorized)", None, t_ours, "torch not installed"))
            else:
                rows.append(Row(label, "PyTorch DisARM (vectorized)", seconds["torch"], t_ours))
    return rows


COMPARISONS: dict[str, Callable[..., list[Row]] | Callable[..., list[KernelCostRow]]] = {
    "special functions": compare_special,
    "Gaussian mixtures: sample + gradients": compare_mixture,
    "Gaussian mixtures: W1 kernel costs": compare_mixture_kernels,
    "REBAR estimators": compare_rebar,
    "DisARM estimators": compare_disarm,
    "GMM application": compare_gmm_step,
}


def cpu_model(cpuinfo: str = "/proc/cpuinfo") -> str | None:
    """The CPU's model name with its family and model numbers where Linux's ``cpuinfo`` gives them
    ("AMD EPYC (family 25, model 17)": virtual machines often report only the brand), else None."""
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as fh:
            text = fh.read(1 << 16)
    except OSError:
        return None
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            break  # the first processor's block is enough
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    name = fields.get("model name")
    if not name:
        return None
    if "cpu family" in fields and "model" in fields:
        return f"{name} (family {fields['cpu family']}, model {fields['model']})"
    return name


def machine_description(nthreads: int | None = None) -> str:
    """The header line: CPU (its model where the OS tells it), kernel copy, mixgrad's thread count
    (``nthreads``, None: the current default), Python and numpy versions."""
    count = get_num_threads() if nthreads is None else nthreads
    model = cpu_model()
    return (
        f"{platform.processor() or platform.machine()}, {f'{model}, ' if model else ''}"
        f"{os.cpu_count()} logical CPUs, "
        f"kernels {simd_level()} (supported: {', '.join(supported_simd_levels())}), "
        f"mixgrad threads={count}, Python {platform.python_version()}, numpy {np.__version__}"
    )


def peers_description() -> str:
    """The header's second line: the peers' versions and the instruction set PyTorch's CPU
    kernels run (its own dispatch, which ``mixgrad bench --simd-level`` holds to the same level
    through ATEN_CPU_CAPABILITY: :func:`mixgrad.cli.main.hold_torch_to_level`)."""
    parts = []
    if have("torch"):
        import torch

        parts.append(f"torch {torch.__version__} (CPU kernels {torch.backends.cpu.get_cpu_capability()})")
    if have("scipy"):
        import scipy

        parts.append(f"scipy {scipy.__version__}")
    return ", ".join(parts) if parts else "none installed"


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


def format_kernel_costs(rows: list[KernelCostRow]) -> str:
    """The Markdown table of kernel-cost rows: ms, ns per (sample, component, coordinate) per
    thread, and quantile / (sample + vjp) on the quantile rows (— on the others).

    Parameters
    ----------
    rows : list of KernelCostRow

    Returns
    -------
    str
        A header, a separator and one line per row.
    """
    lines = [
        "| workload | threads | kernel | ms | ns per (sample, component, coordinate) per thread "
        "| quantile / (sample + vjp) |",
        "|---|---:|---|---:|---:|---:|",
    ]
    for r in rows:
        ratio = "—" if r.ratio is None else f"{r.ratio:.2f}x"
        lines.append(
            f"| {r.workload} | {r.nthreads} | {r.kernel} | {r.seconds * 1e3:.2f} | {r.ns_per_triple:.2f} | {ratio} |"
        )
    return "\n".join(lines)


def format_table(rows: list[Row] | list[KernelCostRow]) -> str:
    """The Markdown table of one comparison's rows, in the layout of their row type."""
    cost_rows = [r for r in rows if isinstance(r, KernelCostRow)]
    if cost_rows:
        return format_kernel_costs(cost_rows)
    return format_rows([r for r in rows if isinstance(r, Row)])


def run_bench(quick: bool = False, repeats: int = 5, only: list[str] | None = None, nthreads: int | None = None) -> int:
    """Print the header and the table of each comparison (those whose title contains one of
    ``only``, when given).

    Parameters
    ----------
    quick : bool
        Smaller problems where a comparison has them.
    repeats : int
        Timed repeats per case; the median is reported.
    only : list of str, optional
        Run only the comparisons whose title contains one of these.
    nthreads : int, optional
        mixgrad's thread count for its multi-threaded rows and torch's for the PyTorch peers
        (Pyro's mixtures, REBAR and DisARM; JAX's thread pool is fixed when JAX starts) (None:
        :func:`mixgrad.get_num_threads`). It is also the default of the calls a comparison
        makes without ``nthreads=`` (the GMM step).

    Returns
    -------
    int
        The exit status, 0.
    """
    count = get_num_threads() if nthreads is None else nthreads
    print(f"machine: {machine_description(count)}")
    print(f"peers: {peers_description()}")
    print(f"median of {repeats} runs; ratio = peer time / mixgrad time\n")
    with threads(count):
        for title, fn in COMPARISONS.items():
            if only and not any(words in title for words in only):
                continue
            rows = fn(quick=quick, repeats=repeats, nthreads=count)
            print(f"## {title}\n{format_table(rows)}\n", flush=True)
    return 0
