"""The quantile solver stops at the rounding level: on a W1-shaped mixture (K = 8, D = 16) the
residual of cdf_transform(quantile(u)) against u, relative to the tail that carries the
information (u below 1/2, 1 - u above), stays within a few dozen ulp plus what rounding x
itself leaves, in every coordinate (test_round_trips covers the far tails); and a row's result
does not depend on the rows solved beside it in the same group of lanes."""

import numpy as np

from mixgrad import DiagGaussianMixture
from mixgrad.cli.mixture_workloads import make_inputs


def _relative_residual(u, u2):
    lower = u < 0.5
    return np.where(lower, np.abs(u2 - u) / np.where(lower, u, 1.0), np.abs((1 - u2) - (1 - u)) / (1 - u))


def test_quantile_residual_is_at_the_rounding_level_on_w1():
    logits, means, scales, _ = make_inputs("W1")
    mix = DiagGaussianMixture(logits, means, scales)
    u = mix.cdf_transform(mix.sample(400, seed=5))
    x = mix.quantile(u)
    assert np.all(np.isfinite(x))
    err = _relative_residual(u, mix.cdf_transform(x))
    # The residual that rounding x itself leaves: |d log C / dx_d| * spacing(x_d) (C = F or
    # S, the tail of u), by central differences of the transform in coordinate d alone.
    D = x.shape[1]
    slope = np.empty_like(x)
    for d in range(D):
        step = 1e-6 * (1 + np.abs(x[:, d]))
        xp, xm = x.copy(), x.copy()
        xp[:, d] += step
        xm[:, d] -= step
        up, um = mix.cdf_transform(xp)[:, d], mix.cdf_transform(xm)[:, d]
        lower = u[:, d] < 0.5
        cp = np.where(lower, up, 1 - up)
        cm = np.where(lower, um, 1 - um)
        slope[:, d] = np.abs(np.log(cp) - np.log(cm)) / (2 * step)
    eps = np.finfo(float).eps
    # 1 - u is exact only to an ulp of u near 1: the bound of test_round_trips
    near_one = np.where(u < 0.5, 0.0, 4 * eps / (1 - u))
    bound = 64 * eps + 4 * slope * np.spacing(np.abs(x)) + near_one
    assert np.max(err / bound) <= 1.0, np.max(err / bound)


def test_quantile_rows_do_not_depend_on_their_group():
    logits, means, scales, _ = make_inputs("W1")
    mix = DiagGaussianMixture(logits, means, scales)
    u = mix.cdf_transform(mix.sample(37, seed=2))
    whole = mix.quantile(u)
    for start in (1, 5, 11):
        np.testing.assert_array_equal(mix.quantile(u[start:]), whole[start:])


def test_quantile_rows_do_not_depend_on_their_batch_or_on_slow_neighbours():
    # One mixture's rows are solved 128 at a time, and the lanes still iterating move to compact
    # registers once they fit in half the width: rows that need many (far tails, u near 1) among
    # easy ones, across batch edges, and each row alone, must all give the same bits.
    logits, means, scales, _ = make_inputs("W1")
    mix = DiagGaussianMixture(logits, means, scales)
    rng = np.random.default_rng(7)
    u = mix.cdf_transform(mix.sample(300, seed=3))
    hard = rng.integers(0, 300, size=40)
    u[hard] = rng.choice([1e-300, 1e-30, 1e-12, 1 - 1e-16, 1 - 1e-9, 0.5], size=(40, u.shape[1]))
    whole = mix.quantile(u)
    assert np.all(np.isfinite(whole))
    for start in (1, 63, 64, 65, 127, 128, 129):
        np.testing.assert_array_equal(mix.quantile(u[start:], nthreads=2), whole[start:])
    for i in range(0, 300, 23):
        np.testing.assert_array_equal(mix.quantile(u[i : i + 1]), whole[i : i + 1])
