"""The `mixgrad` command: version, help, the quick demo's report and figures, bench tables."""

import os

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
