"""The `mixgrad` command: version, help, the quick demo's report and figures, bench tables."""

import contextlib
import importlib.util
import io
import math
import os
import re

import pytest

import mixgrad
from mixgrad.cli import bench, main


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == mixgrad.__version__


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "demo" in capsys.readouterr().err


def test_quick_demo_writes_report_and_figures(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "demo"
    assert main(["demo", "--quick", "--out", str(out)]) == 0
    report = (out / "report.md").read_text(encoding="utf-8")
    for title in ("Normal special functions", "Gaussian mixtures", "REBAR", "mixture weights"):
        assert title in report
    pngs = [f for f in os.listdir(out) if f.endswith(".png")]
    assert len(pngs) >= 5
    assert all(os.path.getsize(out / f) > 10_000 for f in pngs)
    assert "Report:" in capsys.readouterr().out


def test_bench_rows_and_table():
    rows = bench.compare_gmm_step(quick=True, repeats=1)
    assert rows
    assert all(r.mixgrad_seconds > 0 and r.peer_seconds > 0 for r in rows)
    table = bench.format_rows([*rows, bench.Row("w", "missing peer", None, 0.5, "not installed")])
    assert "not installed" in table
    assert table.count("\n") == 3


def test_bench_only_and_simd_level(capsys):
    import mixgrad

    if importlib.util.find_spec("torch") is not None:
        # Imported first, so that `--simd-level baseline` leaves PyTorch's kernels for the rest of
        # the session as they are (ATEN_CPU_CAPABILITY is read when torch is imported).
        import torch  # noqa: F401
    before = mixgrad.simd_level()
    try:
        assert main(["bench", "--quick", "--repeats", "1", "--only", "GMM", "--simd-level", "baseline"]) == 0
        out = capsys.readouterr().out
        assert "kernels baseline" in out
        assert "## GMM application" in out
        assert "## special functions" not in out
    finally:
        mixgrad.set_simd_level(before)
    if "x86-64-v4" not in mixgrad.supported_simd_levels():
        assert main(["bench", "--simd-level", "x86-64-v4"]) == 2
        assert "not supported by this CPU" in capsys.readouterr().err


def _section(out, title):
    """The body rows of the Markdown table under ``## title`` in bench output, as lists of cells."""
    body = out.split(f"## {title}\n", 1)[1].split("\n\n", 1)[0]
    lines = body.splitlines()[2:]  # after the header and the separator
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]


def _positive(text):
    value = float(text.rstrip("x"))
    return math.isfinite(value) and value > 0


@pytest.fixture(scope="module")
def bench_two_threads():
    """The output of one quick bench run of the special-function, W1 kernel and REBAR sections at
    2 threads (given, so that the multi-threaded rows exist on a 1-CPU machine too), shared by
    the tests that read it."""
    out = io.StringIO()
    argv = ["bench", "--quick", "--repeats", "1", "--threads", "2"]
    with contextlib.redirect_stdout(out):
        assert main([*argv, "--only", "special", "--only", "W1 kernel", "--only", "REBAR"]) == 0
    return out.getvalue()


def test_bench_threads_in_header(bench_two_threads):
    assert "mixgrad threads=2," in bench_two_threads.splitlines()[0]


def test_bench_mixture_peers_run_on_the_given_threads(monkeypatch):
    torch = pytest.importorskip("torch")
    from mixgrad.cli import mixture_workloads as mw

    seen = []

    def peers(scale=1.0, dtype=None):
        return {name: {"pyro": lambda: seen.append(torch.get_num_threads()), "tfp": None} for name in mw.SPECS}

    monkeypatch.setattr(mw, "peer_workloads", peers)
    before = torch.get_num_threads()
    want = 1 if before != 1 else 2
    rows = bench.compare_mixture(quick=True, repeats=1, nthreads=want)
    assert seen
    assert set(seen) == {want}
    assert torch.get_num_threads() == before
    assert {r.peer for r in rows} == {"Pyro MixtureOfDiagNormals", "TFP MixtureSameFamily (JAX, jit)"}


def test_bench_header_names_the_peers_instruction_set(bench_two_threads):
    peers = bench_two_threads.splitlines()[1]
    assert peers.startswith("peers: ")
    if importlib.util.find_spec("torch") is not None:
        import torch

        assert f"(CPU kernels {torch.backends.cpu.get_cpu_capability()})" in peers


def test_bench_special_rows_at_1_and_2_threads(bench_two_threads):
    pytest.importorskip("scipy")
    rows = _section(bench_two_threads, "special functions")
    expected = [f"{f}, n=1e+06, {t}" for f in ("ndtr", "log_ndtr", "ndtri", "erfcx") for t in ("1 thread", "2 threads")]
    assert [r[0] for r in rows] == expected
    for workload, peer, peer_ms, mixgrad_ms, ratio in rows:
        assert peer == "scipy.special"
        assert all(_positive(v) for v in (peer_ms, mixgrad_ms, ratio)), workload
    # scipy is timed once per function and shared by its two rows
    assert [r[2] for r in rows[::2]] == [r[2] for r in rows[1::2]]


def test_bench_w1_kernel_costs(bench_two_threads):
    rows = _section(bench_two_threads, "Gaussian mixtures: W1 kernel costs")
    assert [(r[1], r[2]) for r in rows] == [(t, k) for t in ("1", "2") for k in ("sample", "vjp", "quantile")]
    for workload, _, kernel, ms, ns, ratio in rows:
        assert workload == "W1 (K=8, D=16, N=10,000)"
        assert _positive(ms)
        assert _positive(ns)
        assert _positive(ratio) if kernel == "quantile" else ratio == "—"


def test_bench_rebar_variants(bench_two_threads):
    pytest.importorskip("torch")
    rows = {r[0].split(" (")[0]: r for r in _section(bench_two_threads, "REBAR estimators")}
    shapes = ("rebar B=1e6 D=1", "rebar B=1e4 D=200")
    with_peer = [f"{shape}{variant}" for variant in ("", " probit", " coupled") for shape in shapes]
    assert list(rows) == [*with_peer, "rebar categorical B=1e5 K=8 S=16"]
    for name in with_peer:
        _, peer, peer_ms, mixgrad_ms, ratio = rows[name]
        assert peer == "PyTorch REBAR (vectorized)"
        assert all(_positive(v) for v in (peer_ms, mixgrad_ms, ratio)), name
        assert re.search(r"\((\d+) M estimates/s\)$", rows[name][0]), name
    assert rows["rebar categorical B=1e5 K=8 S=16"][-1] == "no peer"


def test_bench_one_thread_has_no_duplicate_rows(capsys):
    pytest.importorskip("scipy")
    assert (
        main(["bench", "--quick", "--repeats", "1", "--threads", "1", "--only", "special", "--only", "W1 kernel"]) == 0
    )
    out = capsys.readouterr().out
    assert "mixgrad threads=1," in out
    special_rows = _section(out, "special functions")
    assert [r[0] for r in special_rows] == [f"{f}, n=1e+06, 1 thread" for f in ("ndtr", "log_ndtr", "ndtri", "erfcx")]
    kernel_rows = _section(out, "Gaussian mixtures: W1 kernel costs")
    assert [(r[1], r[2]) for r in kernel_rows] == [("1", "sample"), ("1", "vjp"), ("1", "quantile")]


def test_kernel_cost_rows_arithmetic_and_table():
    # N=1000 samples, K=8, D=16: 128,000 triples; ns per triple per thread = seconds * threads / 128000 * 1e9
    seconds = {
        1: {"sample": 0.00256, "vjp": 0.00768, "quantile": 0.0256},
        2: {"sample": 0.0016, "vjp": 0.0048, "quantile": 0.0128},
    }
    rows = bench.kernel_cost_rows("W1 (K=8, D=16, N=1,000)", 1000 * 8 * 16, seconds)
    assert [(r.nthreads, r.kernel) for r in rows] == [(t, k) for t in (1, 2) for k in ("sample", "vjp", "quantile")]
    assert [r.ns_per_triple for r in rows] == pytest.approx([20.0, 60.0, 200.0, 25.0, 75.0, 200.0])
    # quantile / (sample + vjp): 25.6 / 10.24 at 1 thread, 12.8 / 6.4 at 2
    assert [r.ratio for r in rows] == [None, None, pytest.approx(2.5), None, None, pytest.approx(2.0)]
    table = bench.format_kernel_costs(rows).splitlines()
    assert len(table) == 2 + 6
    assert table[2] == "| W1 (K=8, D=16, N=1,000) | 1 | sample | 2.56 | 20.00 | — |"
    assert table[4] == "| W1 (K=8, D=16, N=1,000) | 1 | quantile | 25.60 | 200.00 | 2.50x |"
    assert table[6] == "| W1 (K=8, D=16, N=1,000) | 2 | vjp | 4.80 | 75.00 | — |"
    assert table[7] == "| W1 (K=8, D=16, N=1,000) | 2 | quantile | 12.80 | 200.00 | 2.00x |"
    assert bench.format_table(rows) == bench.format_kernel_costs(rows)


@pytest.mark.parametrize("value", ["0", "-2", "two"])
def test_bench_threads_rejects_bad_counts(value, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["bench", "--threads", value])
    assert exc.value.code == 2
    assert "--threads" in capsys.readouterr().err


def test_simd_level_holds_torch_to_the_same_instruction_set():
    from mixgrad.cli.main import hold_torch_to_level

    env: dict[str, str] = {}
    assert hold_torch_to_level("x86-64-v3", env, {}) == "avx2"
    assert env == {"ATEN_CPU_CAPABILITY": "avx2"}
    env = {}
    assert hold_torch_to_level("baseline", env, {}) == "default"
    assert env == {"ATEN_CPU_CAPABILITY": "default"}
    # The user's own setting wins; an imported torch has read it already; AVX-512 and auto keep
    # PyTorch's own choice.
    env = {"ATEN_CPU_CAPABILITY": "avx512"}
    assert hold_torch_to_level("x86-64-v3", env, {}) is None
    assert env == {"ATEN_CPU_CAPABILITY": "avx512"}
    env = {}
    assert hold_torch_to_level("x86-64-v3", env, {"torch": object()}) is None
    assert hold_torch_to_level("x86-64-v4", env, {}) is None
    assert hold_torch_to_level("auto", env, {}) is None
    assert env == {}


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch not installed")
@pytest.mark.skipif("x86-64-v3" not in mixgrad.supported_simd_levels(), reason="no AVX2 on this CPU")
def test_bench_at_avx2_runs_the_torch_peers_at_avx2():
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "ATEN_CPU_CAPABILITY"}
    args = ["bench", "--quick", "--repeats", "1", "--only", "DisARM", "--simd-level", "x86-64-v3"]
    code = "import sys; from mixgrad.cli import main; sys.exit(main(sys.argv[1:]))"
    run = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, check=True)
    out = run.stdout
    assert "kernels x86-64-v3" in out
    assert "(CPU kernels AVX2)" in out.splitlines()[1]


def test_cpu_model_from_cpuinfo(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text(
        "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 17\n"
        "model name\t: AMD EPYC\nflags\t\t: fpu avx2\n\nprocessor\t: 1\nmodel name\t: other\n"
    )
    assert bench.cpu_model(str(info)) == "AMD EPYC (family 25, model 17)"
    info.write_text("processor\t: 0\nmodel name\t: Some CPU\n")
    assert bench.cpu_model(str(info)) == "Some CPU"
    info.write_text("processor\t: 0\n")
    assert bench.cpu_model(str(info)) is None
    assert bench.cpu_model(str(tmp_path / "missing")) is None


def test_header_names_the_cpu_model_where_linux_gives_it():
    model = bench.cpu_model()
    header = bench.machine_description(1)
    if model is not None:
        assert f", {model}, " in header
    assert "mixgrad threads=1" in header
