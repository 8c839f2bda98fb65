"""Running Python code in a subprocess, bounded by a timeout, for tests of things that could hang
or kill the interpreter."""

import json
import os
import subprocess
import sys
import textwrap

import pytest


def run_python(code, timeout, env_extra=None):
    """Run ``code`` in a fresh interpreter; running past ``timeout`` seconds fails the test (a hang)."""
    env = dict(os.environ)
    for name in ("MIXGRAD_NUM_THREADS", "OMP_NUM_THREADS"):
        env.pop(name, None)
    env.update(env_extra or {})
    try:
        return subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code)],
            check=False,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"subprocess still running after {timeout} s (a hang); output so far: {e.stdout!r} {e.stderr!r}")


def last_json(r):
    """The JSON object printed on the last line of a successful run's stdout."""
    assert r.returncode == 0, f"exit {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"
    return json.loads(r.stdout.strip().splitlines()[-1])
