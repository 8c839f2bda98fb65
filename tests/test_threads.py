"""Thread-count controls: set/get, context manager, environment variable, threadpoolctl."""

import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import mixgrad
from mixgrad import _core
from subprocess_helpers import last_json, run_python


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

    def body():
        with mixgrad.threads(5):
            assert mixgrad.get_num_threads() == 5
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        body()
    assert mixgrad.get_num_threads() == before


@pytest.mark.parametrize(("bad", "exc"), [(0, ValueError), (-2, ValueError), (1.5, TypeError), ("2", TypeError)])
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
    assert r.returncode != 0
    assert "MIXGRAD_NUM_THREADS" in r.stderr


def test_threadpoolctl_limits_the_default():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    if not mixgrad.has_openmp:
        pytest.skip("built without OpenMP")
    with threadpoolctl.threadpool_limits(1, user_api="openmp"):
        assert mixgrad.get_num_threads() == 1
    # An explicit setting wins over OpenMP's default.
    with mixgrad.threads(2), threadpoolctl.threadpool_limits(1, user_api="openmp"):
        assert mixgrad.get_num_threads() == 2


# --------------------------------------------------------------------------------------------
# Bounded thread counts (issue 12, item 3).


@pytest.mark.parametrize("bad", [10**6, 2**31, 2**64, -1, 0])
def test_absurd_nthreads_is_a_value_error_naming_it(bad):
    with pytest.raises(ValueError, match="nthreads"):
        mixgrad.special.ndtr(np.zeros(10), nthreads=bad)
    mix = mixgrad.DiagGaussianMixture(np.zeros(2), np.zeros((2, 1)), np.ones((2, 1)))
    with pytest.raises(ValueError, match="nthreads"):
        mix.sample(3, seed=0, nthreads=bad)


@pytest.mark.parametrize("bad", [1.0, "2", True, np.float64(2)])
def test_non_integer_nthreads_is_a_type_error_naming_it(bad):
    with pytest.raises(TypeError, match="nthreads"):
        mixgrad.special.ndtr(np.zeros(3), nthreads=bad)


@pytest.mark.parametrize("bad", [10**6, 2**31])
def test_absurd_default_thread_count_is_a_value_error(bad):
    before = mixgrad.get_num_threads()
    try:
        with pytest.raises(ValueError, match="n must be"):
            mixgrad.set_num_threads(bad)
        with pytest.raises(ValueError, match="n must be"):
            with mixgrad.threads(bad):
                pass
    finally:
        mixgrad.set_num_threads(None)  # before the fix, 10**6 was accepted and left set
    assert mixgrad.get_num_threads() == before


def test_absurd_environment_variable_is_a_clear_error():
    r = run_python("import mixgrad", timeout=60, env_extra={"MIXGRAD_NUM_THREADS": str(2**31)})
    assert r.returncode != 0
    assert "ValueError: MIXGRAD_NUM_THREADS" in r.stderr, r.stderr
    assert "incompatible function arguments" not in r.stderr


_MANY_THREADS = """
import json, os, threading, time
import numpy as np
import mixgrad
from mixgrad import special

def count():
    return len(os.listdir("/proc/self/task"))

peak = [count()]
done = threading.Event()
def watch():
    while not done.is_set():
        peak[0] = max(peak[0], count())
        time.sleep(0.002)
w = threading.Thread(target=watch)
w.start()
x = np.linspace(-3, 3, 4_000_000)
y = special.ndtr(x, nthreads=NT)            # explicitly
with mixgrad.threads(NT):                   # and as the default
    y2 = special.log_ndtr(x)
done.set()
w.join()
peak[0] = max(peak[0], count())             # libgomp keeps its pool alive after the call
print(json.dumps({"peak": peak[0], "procs": len(os.sched_getaffinity(0)),
                  "same": bool(np.array_equal(y, special.ndtr(x, nthreads=1)))}))
"""


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts threads in /proc")
def test_many_threads_are_bounded():
    """nthreads=1000 (allowed) must not start 1000 OS threads."""
    if not mixgrad.has_openmp:
        pytest.skip("built without OpenMP")
    out = last_json(run_python(_MANY_THREADS.replace("NT", "1000"), timeout=120))
    assert out["same"]
    # main + watcher + an OpenMP team of at most 4 per processor the process may run on.
    assert out["peak"] <= 2 + 4 * max(out["procs"], 1), out


# --------------------------------------------------------------------------------------------
# threads(n) is per thread and restores exactly the previous state (issue 12, item 7).


def test_threads_context_is_per_thread_and_restores_not_set():
    assert _core._explicit_num_threads() == 0, "precondition: no process-wide count set"
    default = mixgrad.get_num_threads()
    inside = {}
    after = {}
    both_in = threading.Barrier(2)
    first_out = threading.Event()

    def worker(n, leave_first):
        with mixgrad.threads(n):
            both_in.wait(timeout=10)
            inside[n] = mixgrad.get_num_threads()
            both_in.wait(timeout=10)  # both have looked before either leaves
            if not leave_first:
                first_out.wait(timeout=10)
        after[n] = mixgrad.get_num_threads()
        if leave_first:
            first_out.set()

    ts = [threading.Thread(target=worker, args=(1, True)), threading.Thread(target=worker, args=(3, False))]
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout=30)
    assert inside == {1: 1, 3: 3}
    assert after == {1: default, 3: default}
    assert _core._explicit_num_threads() == 0, "threads() left an explicit process-wide count set"
    assert mixgrad.get_num_threads() == default


def test_threads_context_nests_and_set_num_threads_stays_process_wide():
    default = mixgrad.get_num_threads()
    try:
        with mixgrad.threads(2):
            with mixgrad.threads(3):
                assert mixgrad.get_num_threads() == 3
            assert mixgrad.get_num_threads() == 2
            seen = []
            t = threading.Thread(target=lambda: seen.append(mixgrad.get_num_threads()))
            t.start()
            t.join()
            assert seen == [default]  # another thread does not see this thread's context
            mixgrad.set_num_threads(4)
            assert mixgrad.get_num_threads() == 2  # the context wins in this thread
            with mixgrad.threads(None):  # OpenMP's default, as set_num_threads(None) means
                assert mixgrad.get_num_threads() == _core.openmp_default_threads()
        assert mixgrad.get_num_threads() == 4  # the process-wide count set inside stays
    finally:
        mixgrad.set_num_threads(None)
    assert mixgrad.get_num_threads() == default
