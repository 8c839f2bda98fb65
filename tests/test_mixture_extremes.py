"""Far tails and far-apart components, against an independent 60-digit reference (mpmath).

Each case failed before the fixes of issue 12 item 1: the forward pass clamped e^{gap} at e^700
(wrong u, NaN and wrong gradients once a point lies ~37 scales from every component), and the
running log-weights were not re-centred (a far-out earlier coordinate spoiled later ones).
"""

import numpy as np
import pytest

import mixgrad
import mixture_reference as ref


def _pair(sep, D=1, scales=1.0):
    means = np.zeros((2, D))
    means[0] -= sep / 2
    means[1] += sep / 2
    return np.zeros(2), means, np.full((2, D), scales)


def test_issue_cases_one_dimension():
    # Components at +-40 with unit scales: u(0) = 1/2 by symmetry (was 9.3e-45).
    a, m, s = _pair(80.0)
    mix = mixgrad.DiagGaussianMixture(a, m, s)
    assert mix.cdf_transform([[0.0]])[0, 0] == 0.5
    assert mix.transport([[0.0]], mix)[0, 0] == 0.0  # was -13.99
    for sep in (76.0, 80.0):  # +-38 gave 7e-11
        a, m, s = _pair(sep)
        x = np.array([0.0])
        np.testing.assert_allclose(
            mixgrad.DiagGaussianMixture(a, m, s).cdf_transform(x[None])[0], ref.cdf_transform(a, m, s, x), rtol=1e-14
        )


def test_issue_case_two_dimensions():
    # Means (0, 0) and (40, 40), x = (40, 0): u = [0.75, ~1e-348 -> 0] (was [0.75, nan]) and the
    # logits gradient [-16.961, 16.961] (was [15.708, -15.708]).
    a, m, s = np.zeros(2), np.array([[0.0, 0.0], [40.0, 40.0]]), np.ones((2, 2))
    x, g = np.array([40.0, 0.0]), np.ones(2)
    mix = mixgrad.DiagGaussianMixture(a, m, s)
    np.testing.assert_array_equal(mix.cdf_transform(x[None])[0], [0.75, 0.0])
    got = mix.vjp(x[None], g[None])
    want = ref.vjp(a, m, s, x, g)
    np.testing.assert_allclose(want[0], [-16.96127741, 16.96127741], rtol=1e-9)
    for gv, wv in zip(got, want):
        np.testing.assert_allclose(gv, wv, rtol=1e-10, atol=1e-10 * np.abs(wv).max())


@pytest.mark.parametrize("K", [1, 2])
@pytest.mark.parametrize("far", [1e8, 1e9, -1e9, 1e150, 1e300])
def test_far_earlier_coordinate_leaves_later_ones_exact(K, far):
    # K = 1 standard normal: u_2 = Phi(0.5) whatever x_1 is (was 0.6504 at 1e8; K = 2 NaN at 1e9).
    mix = mixgrad.DiagGaussianMixture(np.zeros(K), np.zeros((K, 2)), np.ones((K, 2)))
    u = mix.cdf_transform([[far, 0.5]])[0]
    assert u[0] == (1.0 if far > 0 else 0.0)
    np.testing.assert_allclose(u[1], 0.6914624612740131, rtol=1e-15)
    g = mix.vjp([[far, 0.5]], [[0.0, 1.0]])
    # u_2 does not depend on x_1 here, so d x_2 / d(mu_2, sigma_2) is the reparameterization trick.
    np.testing.assert_allclose(g.means[:, 1].sum(), 1.0, rtol=1e-14)
    np.testing.assert_allclose(g.scales[:, 1].sum(), 0.5, rtol=1e-14)
    assert np.all(np.isfinite(g.logits))


SEPARATIONS = [38.0, 40.0, 60.0, 100.0]


@pytest.mark.parametrize("sep", SEPARATIONS)
def test_cdf_transform_on_a_grid_across_far_components(sep):
    a, m, s = _pair(sep, D=1)
    mix = mixgrad.DiagGaussianMixture(a, m, s)
    xs = np.linspace(-1.2 * sep, 1.2 * sep, 25)
    got = mix.cdf_transform(xs[:, None])[:, 0]
    want = np.array([ref.cdf_transform(a, m, s, [x])[0] for x in xs])
    assert not np.isnan(got).any()
    # Relative in the smaller tail (u near 1 is stored as 1 - S, so its error is absolute there).
    tol = 1e-13 * np.minimum(want, 1.0 - want) + 2e-16
    assert np.all(np.abs(got - want) <= tol), np.abs(got - want) / tol


@pytest.mark.parametrize("sep", [38.0, 100.0])
def test_vjp_on_a_grid_in_two_dimensions(sep):
    # Second coordinate evaluated where the first one makes one component dominant and the point
    # lies far from it (the conditional density underflows), and between the components.
    a = np.log([0.4, 0.6])
    m = np.array([[0.0, 0.0], [sep, sep]])
    s = np.array([[1.0, 1.5], [0.8, 1.0]])
    mix = mixgrad.DiagGaussianMixture(a, m, s)
    g = np.array([0.7, -1.3])
    for x in ([sep, 0.0], [0.0, sep], [sep / 2, 0.0], [sep / 2, sep / 3], [1.0, -3.0]):
        x = np.array(x)
        got = mix.vjp(x[None], g[None])
        want = ref.vjp(a, m, s, x, g)
        for name, gv, wv in zip(("logits", "means", "scales"), got, want):
            assert not np.isnan(gv).any(), (x, name)
            finite = np.isfinite(wv)
            np.testing.assert_allclose(
                gv[finite],
                wv[finite],
                rtol=1e-9,
                atol=1e-12 * max(1.0, np.abs(wv[finite]).max(initial=0.0)),
                err_msg=f"{x} {name}",
            )
            # Where the exact value overflows double, the result is an infinity of the same sign.
            assert np.array_equal(gv[~finite], wv[~finite]), (x, name)


@pytest.mark.parametrize("sep", SEPARATIONS)
def test_transport_matches_the_cdf_in_the_smaller_tail(sep):
    a, m, s = _pair(sep)
    mix = mixgrad.DiagGaussianMixture(a, m, s)
    to_a, to_m, to_s = np.log([0.3, 0.7]), np.array([[-sep / 2 + 1.0], [sep / 2 - 2.0]]), np.array([[1.5], [0.7]])
    to = mixgrad.DiagGaussianMixture(to_a, to_m, to_s)
    xs = np.linspace(-1.2 * sep, 1.2 * sep, 13)
    y = mix.transport(xs[:, None], to)[:, 0]
    assert np.all(np.isfinite(y))  # far tails used to round u to 0 or 1 and give -inf, inf
    for x, yi in zip(xs, y):
        # The tail of u that is below 1/2, each from its own sums (1 - u is not rounded to 0).
        upper = ref.cdf_transform(a, m, s, [x])[0] > 0.5
        tail = ref.survival_transform if upper else ref.cdf_transform
        t_self, t_to = tail(a, m, s, [x])[0], tail(to_a, to_m, to_s, [yi])[0]
        assert abs(t_to - t_self) <= 1e-12 * t_self + 1e-300, (x, yi, t_self, t_to)


@pytest.mark.parametrize("x", [-70.0, -45.0, 45.0, 70.0])
def test_transport_far_in_the_tails_against_the_reference(x):
    # Outside the gap the map is well conditioned: compare the points themselves.
    a, m, s = _pair(60.0)
    to_a, to_m, to_s = np.log([0.3, 0.7]), np.array([[-29.0], [28.0]]), np.array([[1.5], [0.7]])
    y = mixgrad.DiagGaussianMixture(a, m, s).transport([[x]], mixgrad.DiagGaussianMixture(to_a, to_m, to_s))
    np.testing.assert_allclose(y[0], ref.transport(a, m, s, [x], to_a, to_m, to_s), rtol=1e-12)


def test_far_lanes_do_not_change_their_neighbours():
    # The scaled form is chosen per unit of 8 rows but selected per row: ordinary rows keep
    # their bits whatever the other rows of their unit are.
    rng = np.random.default_rng(3)
    mix = mixgrad.DiagGaussianMixture(rng.normal(size=3), rng.normal(size=(3, 4)), 0.5 + rng.uniform(size=(3, 4)))
    x = mix.sample(16, seed=1)
    g = rng.normal(size=x.shape)
    base_u = mix.cdf_transform(x)
    x2 = x.copy()
    x2[3] = [1e5, -1e5, 3e3, 0.0]
    u2 = mix.cdf_transform(x2)
    np.testing.assert_array_equal(np.delete(u2, 3, 0), np.delete(base_u, 3, 0))
    g_without = mix.vjp(np.delete(x2[:8], 3, 0), np.delete(g[:8], 3, 0))
    g_far = mix.vjp(x2[3:4], g[3:4])
    for a_, b_, c_ in zip(mix.vjp(x2[:8], g[:8]), g_without, g_far):
        np.testing.assert_allclose(a_, b_ + c_, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("K", [1, 3])
def test_cdf_transform_to_a_few_ulp_on_both_sides_of_the_bounded_tail_form(K):
    # Q(|z|) comes from a rational fitted on |z| <= 10 wherever a block's |z| stay within it and
    # from the half-line rational per element beyond: the smaller tail of u, for points whose
    # largest |z| runs across 10 (each row alone, so each takes one form or the other, and all
    # together, where every block takes the split form), against the 60-digit reference. Means
    # and scales are dyadic, so every z_k is exact (a rounded z would cost |z|^2 ulp of u).
    logits = np.log([1.0, 2.0, 5.0][:K])
    means = np.array([[0.0], [0.5], [-0.25]])[:K]
    scales = np.array([[1.0], [2.0], [0.5]])[:K]
    mix = mixgrad.DiagGaussianMixture(logits, means, scales)
    x = np.concatenate([np.arange(-48, 49) / 4.0, [-10.0, 10.0, -np.nextafter(10.0, 11), np.nextafter(10.0, 11)]])
    x = x[:, None]
    together = mix.cdf_transform(x)[:, 0]
    alone = np.array([mix.cdf_transform(xi[None])[0, 0] for xi in x])
    np.testing.assert_array_equal(together, alone)
    want = np.array([ref.cdf_transform(logits, means, scales, xi)[0] for xi in x])
    want_sf = np.array([ref.survival_transform(logits, means, scales, xi)[0] for xi in x])
    # The smaller tail t (u, or 1 - u above 1/2) comes as exp(log f + log sum): the rounding of
    # that log, an ulp of |log t|, makes a relative error of up to |log t| ulp of 1 in t.
    lower = want <= 0.5
    tail = np.where(lower, want, want_sf)
    got = np.where(lower, together, 1.0 - together)
    eps = np.finfo(np.float64).eps
    allowed = 8 * np.spacing(tail) + 2 * np.abs(np.log(tail)) * eps * tail + np.where(lower, 0.0, eps)
    assert np.all(np.abs(got - tail) <= allowed), np.max(np.abs(got - tail) / allowed)
