"""Thread-count controls: set/get, context manager, environment variable, threadpoolctl."""

import os
import subprocess
import sys

import pytest

import mixgrad


def test_set_get_and_restore():
    default = mixgrad.get_num_threads()
    assert default >= 1
    try:
        mixgrad.set_num_threads(3)
        assert mixgrad.get_num_threads() == 3
    finally:
        mixgrad.set_num_threads(None)
    assert mixgrad.get_num_threads() == default


def test_context_manager_restores_even_on_error():
    before = mixgrad.get_num_threads()
    with pytest.raises(RuntimeError):
        with mixgrad.threads(5):
            assert mixgrad.get_num_threads() == 5
            raise RuntimeError("boom")
    assert mixgrad.get_num_threads() == before


@pytest.mark.parametrize("bad, exc", [(0, ValueError), (-2, ValueError), (1.5, TypeError), ("2", TypeError)])
def test_bad_counts(bad, exc):
    with pytest.raises(exc, match="n"):
        mixgrad.set_num_threads(bad)


def _run(code, env_extra):
    env = dict(os.environ, **env_extra)
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)


def test_environment_variable():
    r = _run("import mixgrad; print(mixgrad.get_num_threads())", {"MIXGRAD_NUM_THREADS": "3"})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "3"
    r = _run("import mixgrad", {"MIXGRAD_NUM_THREADS": "zero"})
    assert r.returncode != 0 and "MIXGRAD_NUM_THREADS" in r.stderr


def test_threadpoolctl_limits_the_default():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    if not mixgrad.has_openmp:
        pytest.skip("built without OpenMP")
    with threadpoolctl.threadpool_limits(1, user_api="openmp"):
        assert mixgrad.get_num_threads() == 1
    # An explicit setting wins over OpenMP's default.
    with mixgrad.threads(2), threadpoolctl.threadpool_limits(1, user_api="openmp"):
        assert mixgrad.get_num_threads() == 2
