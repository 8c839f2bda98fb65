"""Property-based checks of the mixture operations (hypothesis): the vjp is the adjoint of the
jvp, the jvp equals finite differences of the quantile at fixed u, a NaN row never changes
another row, and the quantile inverts the transform down to u = 5e-324."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import mixgrad

SETTINGS = settings()  # examples and deadline from the profile in conftest.py


@st.composite
def mixtures(draw, max_k=4, max_d=4):
    K = draw(st.integers(1, max_k))
    D = draw(st.integers(1, max_d))
    seed = draw(st.integers(0, 2**32 - 1))
    spread = draw(st.sampled_from([0.5, 3.0, 20.0]))  # from overlapping to far apart components
    rng = np.random.default_rng(seed)
    mix = mixgrad.DiagGaussianMixture(
        rng.normal(size=K), spread * rng.normal(size=(K, D)), rng.uniform(0.3, 3.0, size=(K, D))
    )
    return mix, rng


def _dot(a, b):
    return sum(float(np.sum(x * y)) for x, y in zip(a, b))


@SETTINGS
@given(mixtures())
def test_vjp_is_the_adjoint_of_the_jvp(case):
    mix, rng = case
    x = mix.sample(5, seed=int(rng.integers(2**31)))
    K, D = mix.means.shape
    tangent = mixgrad.MixtureGradient(rng.normal(size=K), rng.normal(size=(K, D)), rng.normal(size=(K, D)))
    gbar = rng.normal(size=x.shape)
    lhs = float(np.sum(gbar * mix.jvp(x, tangent)))
    rhs = _dot(mix.vjp(x, gbar), tangent)
    assert np.isclose(lhs, rhs, rtol=1e-9, atol=1e-9 * (abs(lhs) + abs(rhs) + 1.0)), (lhs, rhs)


@SETTINGS
@given(mixtures(max_k=3, max_d=3))
def test_jvp_equals_finite_differences_of_the_quantile(case):
    mix, rng = case
    u = rng.uniform(0.05, 0.95, size=(3, mix.means.shape[1]))
    x = mix.quantile(u)
    K, D = mix.means.shape
    t = mixgrad.MixtureGradient(rng.normal(size=K), rng.normal(size=(K, D)), rng.normal(size=(K, D)))
    h = 1e-6

    def at(step):
        return mixgrad.DiagGaussianMixture(
            mix.logits + step * t.logits, mix.means + step * t.means, mix.scales * np.exp(step * t.scales / mix.scales)
        ).quantile(u)

    fd = (at(h) - at(-h)) / (2 * h)
    # scales move as sigma exp(h t / sigma): d sigma/dh = t at h = 0
    got = mix.jvp(x, t)
    scale = np.abs(fd).max() + 1.0
    # Central differences: truncation ~h^2 |x'''| and rounding ~eps |x| / h, both far below 1e-6.
    assert np.allclose(got, fd, rtol=1e-6, atol=1e-6 * scale), np.abs(got - fd).max()


@SETTINGS
@given(mixtures(), st.integers(0, 7))
def test_a_nan_row_never_changes_another_row(case, bad):
    mix, rng = case
    x = mix.sample(8, seed=int(rng.integers(2**31)))
    y = x.copy()
    y[bad, rng.integers(x.shape[1])] = np.nan
    keep = np.arange(8) != bad
    for op in (mix.cdf_transform, mix.log_prob):
        a, b = op(x), op(y)
        np.testing.assert_array_equal(a[keep], b[keep])
        assert np.isnan(b[bad]).any()
    ja = mix.jvp(x, mixgrad.MixtureGradient(*(np.ones_like(p) for p in (mix.logits, mix.means, mix.scales))))
    jb = mix.jvp(y, mixgrad.MixtureGradient(*(np.ones_like(p) for p in (mix.logits, mix.means, mix.scales))))
    np.testing.assert_array_equal(ja[keep], jb[keep])


@SETTINGS
@given(mixtures(max_k=3, max_d=2), st.sampled_from([5e-324, 1e-300, 1e-200, 1e-50, 1e-10, 0.5, 1 - 1e-10, 1 - 2**-53]))
def test_quantile_inverts_the_transform_down_to_the_smallest_subnormal(case, u0):
    mix, _ = case
    D = mix.means.shape[1]
    u = np.full((1, D), u0)
    x = mix.quantile(u)
    assert np.all(np.isfinite(x))
    back = mix.cdf_transform(x)
    # Relative in the smaller tail; for u = 5e-324 the nearest representable values are 0 and
    # 1e-323, so the round trip is checked to a few subnormal steps.
    tail = min(u0, 1 - u0)
    assert np.all(np.abs(back - u) <= 1e-9 * tail + 2e-323), (u0, back)
