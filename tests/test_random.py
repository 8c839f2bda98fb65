"""The counter-based generator: known answers, determinism across threads, distribution tests."""

import numpy as np
import pytest

import mixgrad
from mixgrad import random as R
from mixgrad._loader import _core


def test_philox_known_answers():
    # Known-answer vectors of Random123 (Salmon et al.) for Philox4x32-10.
    assert _core.philox4x32_10([0, 0, 0, 0], [0, 0]) == [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]
    assert _core.philox4x32_10([0xFFFFFFFF] * 4, [0xFFFFFFFF] * 2) == [0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD]
    assert _core.philox4x32_10(
        [0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344], [0xA4093822, 0x299F31D0]
    ) == [0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1]


@pytest.mark.parametrize("fn", [R.uniform, R.normal])
def test_bit_identical_for_any_thread_count(fn):
    ref = fn(1_000_003, seed=12345, nthreads=1)
    for n in (2, 7):
        assert np.array_equal(fn(1_000_003, seed=12345, nthreads=n), ref)


def test_element_depends_only_on_key_and_index():
    long = R.normal(100_000, seed=3)
    short = R.normal(1000, seed=3)
    assert np.array_equal(long[:1000], short)
    assert np.array_equal(R.normal((10, 100), seed=3).reshape(-1), long[:1000])


def test_seeds():
    assert np.array_equal(R.uniform(10, seed=1), R.uniform(10, seed=np.random.SeedSequence(1)))
    assert not np.array_equal(R.uniform(10, seed=1), R.uniform(10, seed=2))
    assert not np.array_equal(R.uniform(10, seed=1, stream=0), R.uniform(10, seed=1, stream=1))
    g = np.random.default_rng(5)
    a, b = R.uniform(10, seed=g), R.uniform(10, seed=g)
    assert not np.array_equal(a, b)  # a Generator advances
    g2 = np.random.default_rng(5)
    assert np.array_equal(R.uniform(10, seed=g2), a)
    assert not np.array_equal(R.uniform(10), R.uniform(10))  # fresh entropy


def test_uniform_open_interval_and_moments():
    u = R.uniform(2_000_000, seed=11)
    assert u.min() > 0 and u.max() < 1
    # Mean 1/2, variance 1/12: standard errors sqrt(1/12/n) and ~sqrt(1/180/n); 5 SE bounds.
    n = u.size
    assert abs(u.mean() - 0.5) < 5 * np.sqrt(1 / 12 / n)
    assert abs(u.var() - 1 / 12) < 5 * np.sqrt(1 / 180 / n)


def test_normal_ks_and_moments():
    stats = pytest.importorskip("scipy.stats")
    z = R.normal(1_000_000, seed=2024)
    res = stats.kstest(z, "norm")
    # Under the null the p-value is uniform: failing at 1e-4 happens once in 10^4 seeds.
    assert res.pvalue > 1e-4, f"KS statistic {res.statistic}, p = {res.pvalue}"
    n = z.size
    assert abs(z.mean()) < 5 / np.sqrt(n)
    assert abs(z.var() - 1) < 5 * np.sqrt(2 / n)
    # Symmetric tails: the sign bit is independent of the magnitude.
    assert abs(np.mean(z > 0) - 0.5) < 5 * 0.5 / np.sqrt(n)


def test_normal_loc_scale_dtype():
    z = R.normal(1000, seed=1, loc=2.0, scale=3.0)
    assert np.allclose(z, 2 + 3 * R.normal(1000, seed=1))
    assert R.normal(5, seed=1, dtype=np.float32).dtype == np.float32
    assert R.uniform((2, 3), seed=1).shape == (2, 3)


@pytest.mark.parametrize(
    "call, exc",
    [
        (lambda: R.uniform(-1), ValueError),
        (lambda: R.uniform(2.5), TypeError),
        (lambda: R.uniform(3, seed=-1), ValueError),
        (lambda: R.uniform(3, seed="abc"), TypeError),
        (lambda: R.uniform(3, dtype=np.int32), TypeError),
        (lambda: R.normal(3, scale=-1.0), ValueError),
        (lambda: R.uniform(3, stream=-1), ValueError),
        (lambda: R.uniform(3, nthreads=0), ValueError),
    ],
)
def test_bad_arguments(call, exc):
    with pytest.raises(exc):
        call()


def test_package_exports_random():
    assert mixgrad.random is R
