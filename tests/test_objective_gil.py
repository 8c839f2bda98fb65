"""Built-in objectives release the GIL while they evaluate (issue 12, item 13)."""

import threading
import time

import numpy as np
import pytest

import mixgrad


@pytest.mark.parametrize("method", ["value", "grad"])
def test_objective_evaluation_releases_the_gil(method):
    R, E, n = 10, 400, 1000  # about 0.8 s on one thread of a 3.7 GHz Zen 5 (the fastest here)
    rng = np.random.default_rng(0)
    dist = mixgrad.Bernoulli(np.zeros((R, E)))
    obj = mixgrad.QuadraticForm(rng.normal(size=(E, E)))
    x = rng.uniform(size=(n, R, E))
    stamps = []
    stop = threading.Event()

    def count():
        while not stop.is_set():
            stamps.append(time.perf_counter())

    t = threading.Thread(target=count)
    t.start()
    try:
        time.sleep(0.05)
        with mixgrad.threads(1):  # one thread: the call lasts long enough to tell
            t0 = time.perf_counter()
            getattr(obj, method)(x, dist)
            t1 = time.perf_counter()
    finally:
        stop.set()
        t.join()
    assert t1 - t0 > 0.2, "the call is too short to tell"
    # With the GIL held during the C++ work, the counter runs only for a few switch intervals
    # (5 ms) at either end of the call; with it released, it runs throughout.
    lo, hi = t0 + 0.25 * (t1 - t0), t1 - 0.25 * (t1 - t0)
    during = sum(lo < s < hi for s in stamps)
    assert during > 0, f"counter did not advance during the middle half of a {t1 - t0:.2f} s call"


def test_objective_values_and_gradients():
    rng = np.random.default_rng(1)
    R, E, n = 3, 5, 7
    dist = mixgrad.Bernoulli(np.zeros((R, E)))
    A = rng.normal(size=(E, E))
    c = rng.normal(size=E)
    obj = mixgrad.QuadraticForm(A, c, 0.5)
    x = rng.uniform(size=(n, R, E))
    want = np.einsum("nra,ab,nrb->nr", x, A, x) + x @ c + 0.5
    np.testing.assert_allclose(obj.value(x, dist), want, rtol=1e-12)
    np.testing.assert_allclose(obj.grad(x, dist), x @ (A + A.T) + c, rtol=1e-12)


@pytest.mark.parametrize("objective", [mixgrad.Quadratic(0.3), mixgrad.QuadraticForm(np.eye(4) - 0.5, np.ones(4), 1.0)])
def test_objective_evaluation_is_identical_for_any_thread_count(objective):
    rng = np.random.default_rng(2)
    dist = mixgrad.Bernoulli(np.zeros((7, 4)))
    x = rng.uniform(size=(20_000, 7, 4))  # 140,000 events: several blocks, on threads
    for method in ("value", "grad"):
        with mixgrad.threads(1):
            ref = getattr(objective, method)(x, dist)
        for n in (2, 3):
            with mixgrad.threads(n):
                assert np.array_equal(getattr(objective, method)(x, dist), ref)
