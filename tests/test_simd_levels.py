"""The kernels' instruction-set levels: every copy the CPU supports gives the answers of the
others to rounding, and the level is chosen as documented (MIXGRAD_SIMD_LEVEL, set_simd_level).

CI also runs the whole suite at each supported level below the highest (.ci/run)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import numpy as np
import pytest

import mixgrad
import mp_reference as R

LEVELS = mixgrad.supported_simd_levels()


@pytest.fixture
def restore_level() -> Iterator[None]:
    before = mixgrad.simd_level()
    yield
    mixgrad.set_simd_level(before)


def _run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, **env}, timeout=120
    )


def test_levels_listed_highest_first_and_default_is_highest() -> None:
    order = ["x86-64-v4", "x86-64-v3", "baseline"]
    assert LEVELS[-1] == "baseline"
    assert list(LEVELS) == [lv for lv in order if lv in LEVELS]
    proc = _run_python("import mixgrad; print(mixgrad.simd_level())", MIXGRAD_SIMD_LEVEL="auto")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == LEVELS[0]


@pytest.mark.parametrize("level", LEVELS)
def test_environment_variable_selects_level(level: str) -> None:
    proc = _run_python("import mixgrad; print(mixgrad.simd_level())", MIXGRAD_SIMD_LEVEL=level)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == level


def test_bad_environment_variable_fails_import_naming_it() -> None:
    proc = _run_python("import mixgrad", MIXGRAD_SIMD_LEVEL="avx9000")
    assert proc.returncode != 0
    assert "MIXGRAD_SIMD_LEVEL" in proc.stderr
    assert "avx9000" in proc.stderr
    assert "missing" not in proc.stderr  # not reported as a broken install


def test_set_simd_level_rejects_unknown_and_unsupported(restore_level: None) -> None:
    with pytest.raises(ValueError, match="'x86-64-v9'"):
        mixgrad.set_simd_level("x86-64-v9")
    with pytest.raises(TypeError, match="level must be a string"):
        mixgrad.set_simd_level(3)  # type: ignore[arg-type]
    if "x86-64-v4" not in LEVELS:
        with pytest.raises(ValueError, match="not supported by this CPU"):
            mixgrad.set_simd_level("x86-64-v4")
    mixgrad.set_simd_level("auto")
    assert mixgrad.simd_level() == LEVELS[0]


def _kernel_outputs() -> dict[str, np.ndarray]:
    """One call of each kernel family, on inputs that reach their tails."""
    x = np.concatenate([np.linspace(-40, 10, 2001), [-1e3, 0.0, 5e3]])
    p = np.concatenate([np.logspace(-300, -1, 300), np.linspace(0.01, 0.99, 300), 1 - np.logspace(-16, -1, 100)])
    rng = np.random.default_rng(7)
    K, D = 3, 4
    mix = mixgrad.DiagGaussianMixture(rng.normal(size=K), rng.normal(size=(K, D)) * 5, rng.uniform(0.5, 2, (K, D)))
    u = rng.uniform(size=(257, D))
    xs = mix.quantile(u)
    grads = mix.vjp(xs, np.ones_like(xs))
    est = mixgrad.rebar(mixgrad.Quadratic(0.45), mixgrad.Bernoulli(rng.normal(size=5)), 4096, seed=3)
    dis = mixgrad.disarm(mixgrad.Quadratic(0.45), mixgrad.Bernoulli(rng.normal(size=5)), 4096, seed=3)
    return {
        "ndtr": mixgrad.special.ndtr(x),
        "log_ndtr": mixgrad.special.log_ndtr(x),
        "erfcx": mixgrad.special.erfcx(x),
        "ndtri": mixgrad.special.ndtri(p),
        "uniform": mixgrad.random.uniform(10**5, seed=1),
        "quantile": xs,
        "log_prob": mix.log_prob(xs),
        "vjp_logits": grads.logits,
        "vjp_means": grads.means,
        "vjp_scales": grads.scales,
        "rebar": est.mean,
        "disarm": dis.mean,
    }


@pytest.mark.skipif(len(LEVELS) < 2, reason="one instruction-set level only")
def test_every_level_agrees_with_scipy_and_with_the_others(restore_level: None) -> None:
    outs = {}
    for level in LEVELS:
        mixgrad.set_simd_level(level)
        assert mixgrad.simd_level() == level
        outs[level] = _kernel_outputs()
    # every copy meets the documented accuracy (<= 8 ulp) against mpmath, on every 20th point
    x = np.concatenate([np.linspace(-40, 10, 2001), [-1e3, 0.0, 5e3]])[::20]
    refs = {name: [getattr(R, name)(v) for v in x] for name in ("ndtr", "log_ndtr", "erfcx")}
    for level, out in outs.items():
        for name, exact in refs.items():
            assert R.ulp_errors(out[name][::20], exact).max() <= 8, (name, level)
    top = outs[LEVELS[0]]
    for level in LEVELS[1:]:
        for name, ref in top.items():
            got = outs[level][name]
            if name == "uniform":  # integer arithmetic: identical on every level
                np.testing.assert_array_equal(got, ref, err_msg=f"{name} at {level}")
            else:  # fused multiply-adds differ between levels: agreement to rounding
                np.testing.assert_allclose(got, ref, rtol=1e-11, atol=1e-300, err_msg=f"{name} at {level}")
