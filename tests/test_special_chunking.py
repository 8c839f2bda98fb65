"""The array kernels of mixgrad.special run in chunks, in several passes (log_ndtr, ndtri), and
gather the elements of a rarer region into a buffer for a second pass (ndtri's tails, ndtri_exp
below log_p = -700 and its special values). An element's value must depend on that element only:
not on its position, its neighbours or the thread count. And the regions of ndtri_exp must meet
without a seam: points on both sides of each switch are checked against mpmath.
"""

import numpy as np
import pytest

import mixgrad.special as S

UNARY = ["ndtr", "log_ndtr", "ndtri", "erfcx", "ndtri_exp"]


def _mixed_inputs(name, n, seed):
    """Values from every region of ``name``, special values included, in random order."""
    rng = np.random.default_rng(seed)
    if name == "ndtri":
        pool = np.concatenate(
            [rng.uniform(size=n), 10.0 ** rng.uniform(-320, -1, n), 1 - 10.0 ** rng.uniform(-16, -1, n)]
        )
        special = [0.0, 1.0, -0.5, 1.5, np.nan, 0.075, 0.925, 5e-324]
    elif name == "ndtri_exp":
        pool = np.concatenate([-(10.0 ** rng.uniform(-320, 308, n)), -rng.exponential(5.0, n)])
        special = [0.0, -0.0, 1.0, -np.inf, np.nan, -700.0, -700.0000000000001, -0.0779615414697118]
    else:
        wide = rng.choice([-1.0, 1.0], n) * 10.0 ** rng.uniform(-300, 300, n)
        pool = np.concatenate([3 * rng.standard_normal(n), rng.uniform(-45, 45, n), wide])
        special = [0.0, -0.0, np.inf, -np.inf, np.nan, 40.0, -40.0, 1e300]
    x = np.concatenate([pool, special])
    return x[rng.permutation(x.size)]


@pytest.mark.parametrize("name", UNARY)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_value_depends_on_the_element_only(name, dtype):
    fn = getattr(S, name)
    with np.errstate(over="ignore", under="ignore"):
        x = _mixed_inputs(name, 3000, 5).astype(dtype)
    whole = fn(x, nthreads=1)
    one_by_one = np.array([fn(v) for v in x[:700]], dtype=dtype)
    np.testing.assert_array_equal(whole[:700], one_by_one)
    # Shifted by an odd offset (other chunk and SIMD block boundaries) and on two threads.
    for start in (1, 3, 255, 257):
        np.testing.assert_array_equal(fn(x[start:], nthreads=1), whole[start:])
    big = np.tile(x, 40)  # past the size from which the work is split over threads
    np.testing.assert_array_equal(fn(big, nthreads=2), np.tile(whole, 40))


@pytest.mark.parametrize("switch", [-0.0779615414697118, -2.5902671654458267, -700.0])
def test_ndtri_exp_regions_meet_without_a_seam(switch):
    pytest.importorskip("mpmath")
    import mp_reference as R

    # 40 consecutive doubles on each side of the switch, and points a little further out.
    near = switch + np.arange(-40, 41) * np.spacing(abs(switch))
    away = switch * (1.0 + np.array([-1e-9, -1e-12, 1e-12, 1e-9]))
    log_p = np.concatenate([near, away])
    got = S.ndtri_exp(log_p)
    exact = [R.ndtri_exp(float(v), float(g)) for v, g in zip(log_p, got)]
    err = R.ulp_errors(got, exact, np.float64)
    assert err.max() <= 8.0, (err.max(), log_p[np.argmax(err)])
