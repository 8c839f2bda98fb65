"""The vjp's extra memory is O(threads K D) (issue 12 item 4): it used to allocate 128 chunk
partials of K + 2KD doubles whatever N was (K = D = 1024, N = 2: +2.4 GB), and a single
mixture with one row was copied into all 8 lanes."""

import subprocess
import sys
import textwrap

import pytest

PROBE = textwrap.dedent(
    """
    import resource, numpy as np, mixgrad
    K = D = {kd}
    rng = np.random.default_rng(0)
    mix = mixgrad.DiagGaussianMixture(rng.normal(size=K), rng.normal(size=(K, D)), 0.5 + rng.uniform(size=(K, D)))
    x = mix.sample({n}, seed=1)
    g = np.ones_like(x)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    mix.vjp(x, g, nthreads=1)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
    """
)


@pytest.mark.parametrize("n", [1, 2])
def test_vjp_memory_is_bounded_by_the_per_thread_scratch(n):
    kd = 512
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(kd=kd, n=n)], check=True, capture_output=True, text=True, timeout=120
    )
    extra_mib = int(out.stdout.strip()) / 1024
    # One thread's scratch: five [D][K][8] double arrays (z, r, term and two accumulators) plus
    # the prepared parameters, ~90 MiB at K = D = 512; the old 128 partials alone were 512 MiB.
    scratch_mib = 5 * kd * kd * 8 * 8 / 2**20
    assert extra_mib < 1.5 * scratch_mib + 32, extra_mib
