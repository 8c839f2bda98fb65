"""A forked child (multiprocessing 'fork', os.fork, PyTorch DataLoader workers) must not hang in
libgomp after the parent ran a multi-threaded call (issue 12, item 2)."""

import os

import pytest

import mixgrad
from subprocess_helpers import last_json, run_python

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")

_FORK_CHILD = """
import json, os, pickle, sys, tempfile, time
import multiprocessing as mp
import numpy as np
import mixgrad
from mixgrad import special

rng = np.random.default_rng(0)
x = rng.normal(size=200_000)
mix = mixgrad.DiagGaussianMixture(rng.normal(size=4), rng.normal(size=(4, 3)), 0.5 + rng.uniform(size=(4, 3)))
u = rng.uniform(size=(20_000, 3))

def work():
    # Each large enough to run a 2-thread parallel region (explicit nthreads and the default).
    return special.ndtr(x, nthreads=2), mix.quantile(u, nthreads=2), mix.sample(20_000, seed=3)

parent = work()
path = os.path.join(tempfile.mkdtemp(), "child.pkl")

def child():
    with open(path, "wb") as f:
        pickle.dump(work(), f)

if HOW == "mp":
    p = mp.get_context("fork").Process(target=child)
    p.start()
    p.join(30)
    hung = p.is_alive()
    if hung:
        p.kill()
        p.join()
else:
    pid = os.fork()
    if pid == 0:
        try:
            child()
        finally:
            os._exit(0)
    deadline = time.monotonic() + 30
    hung = True
    while time.monotonic() < deadline:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            hung = False
            break
        time.sleep(0.05)
    if hung:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
if hung:
    print(json.dumps({"hung": True}))
    sys.exit(0)
with open(path, "rb") as f:
    got = pickle.load(f)
print(json.dumps({"hung": False, "equal": [bool(np.array_equal(a, b)) for a, b in zip(parent, got)]}))
"""


@pytest.mark.parametrize("how", ["mp", "os"])
def test_forked_child_after_parallel_call_does_not_hang(how):
    if not mixgrad.has_openmp:
        pytest.skip("built without OpenMP")
    out = last_json(run_python(_FORK_CHILD.replace("HOW", repr(how)), timeout=120))
    assert not out["hung"], "the forked child blocked in a multi-threaded call"
    assert out["equal"] == [True, True, True]  # the child's results equal the parent's
