"""Edge values, ufunc-like behaviour (shapes, scalars, dtypes, out=, broadcasting) and errors."""

import math
import warnings

import numpy as np
import pytest

import mixgrad
import mixgrad.special as S

INF, NAN = np.inf, np.nan
UNARY = [S.ndtr, S.log_ndtr, S.ndtri, S.ndtri_exp, S.erfcx]


def _valid(fn, x):
    """Map values in (-1, 0) into the domain of fn (ndtri takes probabilities)."""
    return -np.asarray(x) if fn is S.ndtri else x


# Documented edge values (see the docstrings): each row is (function, input, expected).
EDGES = [
    (S.ndtr, -INF, 0.0),
    (S.ndtr, INF, 1.0),
    (S.ndtr, 0.0, 0.5),
    (S.ndtr, -0.0, 0.5),
    (S.ndtr, 5e-324, 0.5),
    (S.ndtr, -40.0, 0.0),
    (S.log_ndtr, -INF, -INF),
    (S.log_ndtr, INF, 0.0),
    (S.log_ndtr, -0.0, math.log(0.5)),
    (S.log_ndtr, -1e300, -INF),
    (S.ndtri, 0.0, -INF),
    (S.ndtri, 1.0, INF),
    (S.ndtri, 0.5, 0.0),
    (S.ndtri, -0.0, -INF),
    (S.ndtri, -1e-300, NAN),
    (S.ndtri, 1.0000000000000002, NAN),
    (S.ndtri, -INF, NAN),
    (S.ndtri, INF, NAN),
    (S.ndtri_exp, 0.0, INF),
    (S.ndtri_exp, -0.0, INF),
    (S.ndtri_exp, -INF, -INF),
    (S.ndtri_exp, 1e-300, NAN),
    (S.erfcx, INF, 0.0),
    (S.erfcx, -INF, INF),
    (S.erfcx, 0.0, 1.0),
    (S.erfcx, -27.0, INF),
]


@pytest.mark.parametrize(("fn", "x", "expected"), EDGES)
def test_documented_edge_values(fn, x, expected):
    got = fn(x)
    if math.isnan(expected):
        assert math.isnan(got)
    else:
        assert got == expected


@pytest.mark.parametrize("fn", UNARY)
def test_nan_propagates_without_touching_neighbours(fn):
    x = _valid(fn, np.array([-0.5, np.nan, -0.25] * 50000))  # large enough to run threaded
    y = fn(x)
    assert np.all(np.isnan(y[1::3]))
    expected = fn(_valid(fn, np.array([-0.5, -0.25])))
    assert np.all(y[0::3] == expected[0])
    assert np.all(y[2::3] == expected[1])


def test_ndtri_exp_at_half():
    # log(0.5) rounds to -0.69314718055994530942 + 2.3e-17, so the exact quantile is ~5.8e-17.
    assert abs(S.ndtri_exp(math.log(0.5))) < 1e-16


def test_subnormal_inputs_and_outputs():
    tiny = 5e-324
    assert S.ndtri(tiny) == pytest.approx(-38.4674056, rel=1e-8)
    assert S.ndtri_exp(math.log(tiny)) == pytest.approx(S.ndtri(tiny), rel=1e-13)
    assert 0 < S.ndtr(-38.4) < 2.3e-308  # subnormal result, not flushed to zero
    assert S.log_ndtr(-38.4) == pytest.approx(-741.4, rel=1e-3)
    assert S.erfcx(tiny) == 1.0


def test_log_ndtr_diff_edges():
    assert S.log_ndtr_diff(1.0, 1.0) == -INF
    assert math.isnan(S.log_ndtr_diff(2.0, 1.0))
    assert math.isnan(S.log_ndtr_diff(NAN, 1.0))
    assert S.log_ndtr_diff(-INF, INF) == 0.0
    assert S.log_ndtr_diff(-INF, 0.0) == pytest.approx(math.log(0.5), rel=1e-15)
    assert S.log_ndtr_diff(5.0, INF) == pytest.approx(S.log_ndtr(-5.0), rel=1e-15)
    # Far tails where Phi(b) - Phi(a) underflows: still finite.
    assert np.isfinite(S.log_ndtr_diff(-60.0, -59.0))


@pytest.mark.parametrize("fn", UNARY)
def test_shapes_scalars_and_dtypes(fn):
    x = _valid(fn, np.full((2, 3, 4), -0.3))
    assert fn(x).shape == (2, 3, 4)
    assert np.all(np.isfinite(fn(x)))
    assert fn(np.empty((0, 3))).shape == (0, 3)
    s = fn(float(_valid(fn, -0.3)))
    assert isinstance(s, np.float64)
    assert np.ndim(s) == 0
    assert fn(np.float32(_valid(fn, -0.3))).dtype == np.float32
    assert fn(np.array([-1, 0], dtype=np.int64)).dtype == np.float64
    assert fn(np.array([True, False])).dtype == np.float64
    assert fn(list(_valid(fn, [-0.3, -0.2]))).shape == (2,)
    # Non-contiguous input gives the same values as its contiguous copy.
    big = _valid(fn, np.linspace(-0.9, -0.1, 40).reshape(5, 8))
    assert np.array_equal(fn(big[:, ::3]), fn(np.ascontiguousarray(big[:, ::3])))


@pytest.mark.parametrize("bad", [np.array([1 + 2j]), np.array(["a"]), np.array([object()], dtype=object)])
@pytest.mark.parametrize("fn", UNARY)
def test_bad_dtypes_raise_type_error(fn, bad):
    with pytest.raises(TypeError, match=r"\b(x|p|log_p)\b"):
        fn(bad)


def test_out_argument():
    x = np.linspace(-3, 3, 10)
    out = np.empty(10)
    r = S.ndtr(x, out=out)
    assert r is out
    assert np.array_equal(out, S.ndtr(x))
    # Non-contiguous out is filled too.
    buf = np.zeros(20)
    S.ndtr(x, out=buf[::2])
    assert np.array_equal(buf[::2], S.ndtr(x))
    assert np.all(buf[1::2] == 0)
    with pytest.raises(ValueError, match="shape"):
        S.ndtr(x, out=np.empty(9))
    with pytest.raises(TypeError, match="dtype"):
        S.ndtr(x, out=np.empty(10, dtype=np.float32))
    with pytest.raises(TypeError, match="out"):
        S.ndtr(x, out=[0.0] * 10)


def test_broadcasting_of_log_ndtr_diff():
    a = np.linspace(-3, -1, 4)[:, None]
    b = np.linspace(0, 2, 3)[None, :]
    r = S.log_ndtr_diff(a, b)
    assert r.shape == (4, 3)
    assert r[2, 1] == S.log_ndtr_diff(a[2, 0], b[0, 1])
    assert S.log_ndtr_diff(np.float32(-1), np.float32(1)).dtype == np.float32
    assert S.log_ndtr_diff(np.float32(-1), 1.0).dtype == np.float32  # Python scalar adapts
    assert S.log_ndtr_diff(np.float32(-1), np.float64(1)).dtype == np.float64
    with pytest.raises(ValueError, match=r"a and b cannot be broadcast together: a \(3,\), b \(4,\)"):
        S.log_ndtr_diff(np.zeros(3), np.zeros(4))


def test_nthreads_argument_and_determinism():
    x = np.linspace(-40, 40, 300001)
    ref = S.log_ndtr(x, nthreads=1)
    for n in (2, 7):
        assert np.array_equal(S.log_ndtr(x, nthreads=n), ref)
    for bad in (0, -1):
        with pytest.raises(ValueError, match="nthreads"):
            S.ndtr(x, nthreads=bad)
    with pytest.raises(TypeError, match="nthreads"):
        S.ndtr(x, nthreads=1.5)


def test_symmetry_and_consistency_identities():
    x = np.linspace(-8, 8, 1001)
    # Phi(x) + Phi(-x) = 1 and ndtri(ndtr(x)) = x where Phi is not near 0.5-cancellation.
    assert np.max(np.abs(S.ndtr(x) + S.ndtr(-x) - 1)) <= 2.3e-16
    xs = x[np.abs(x) > 0.1]
    assert np.max(np.abs(S.ndtri(S.ndtr(-np.abs(xs))) + np.abs(xs)) / np.abs(xs)) < 1e-13
    assert np.max(np.abs(S.ndtri_exp(S.log_ndtr(x)) - x)) < 1e-12
    # exp amplifies the absolute error of log_ndtr (<= 8 ulp of |log|) into a relative one.
    lg = S.log_ndtr(x)
    bound = 8 * np.spacing(np.abs(lg)) + 4 * 2.2e-16
    assert np.all(np.abs(np.exp(lg) / S.ndtr(x) - 1) <= bound + 2.2e-16)


def test_package_metadata():
    assert isinstance(mixgrad.__version__, str)
    assert mixgrad.__version__
    assert isinstance(mixgrad.has_openmp, bool)


def _ndtri_input(x):
    return S.ndtr(x)  # probabilities for ndtri, any reals for the others


@pytest.mark.parametrize("fn", UNARY)
@pytest.mark.parametrize("n", [4, 1000, 100_001])
@pytest.mark.parametrize("shift", [1, -1, 7])
def test_out_partially_overlapping_the_input(fn, n, shift):
    # Issue 12, item 8: ndtr(buf[:3], out=buf[1:]) read elements the kernel had already
    # overwritten. numpy ufuncs compute into a temporary then; so must we.
    base = np.linspace(-3.0, -0.1, n + abs(shift))
    if fn is S.ndtri:
        base = _ndtri_input(base)
    buf = base.copy()
    x = buf[max(-shift, 0) :][:n]
    out = buf[max(shift, 0) :][:n]
    expected = fn(x.copy())
    r = fn(x, out=out, nthreads=2)
    assert r is out
    assert np.array_equal(out, expected)


def test_out_partially_overlapping_log_ndtr_diff():
    buf = np.linspace(-5.0, 0.0, 2001)
    a, b = buf[:1000], buf[1000:2000]
    expected = S.log_ndtr_diff(a.copy(), b.copy())
    r = S.log_ndtr_diff(a, b, out=buf[500:1500])  # overlaps the end of a and the start of b
    assert np.array_equal(r, expected)
    # Broadcast inputs and a non-contiguous out that overlaps them.
    buf = np.linspace(-5.0, -1.0, 20)
    expected = S.log_ndtr_diff(buf[:10, None].copy(), 0.0)
    out = buf.reshape(10, 2)[:, :1]
    S.log_ndtr_diff(buf[:10, None], 0.0, out=out)
    assert np.array_equal(out, expected)


@pytest.mark.parametrize("fn", UNARY)
def test_out_identical_to_the_input_is_in_place(fn):
    x = np.linspace(-3.0, -0.1, 1000)
    if fn is S.ndtri:
        x = _ndtri_input(x)
    expected = fn(x)
    r = fn(x, out=x)
    assert r is x
    assert np.array_equal(x, expected)


@pytest.mark.parametrize("fn", [*UNARY, lambda x, **kw: S.log_ndtr_diff(x, 1.0, **kw)])
@pytest.mark.parametrize(
    ("kwargs", "exc"),
    [
        ({"nthreads": 2**31}, ValueError),
        ({"nthreads": 2**64}, ValueError),
        ({"nthreads": np.uint64(2**63)}, ValueError),
        ({"nthreads": 2.0}, TypeError),
    ],
)
def test_huge_or_non_integer_nthreads_name_the_argument(fn, kwargs, exc):
    # Issue 12, item 12: was pybind11's "incompatible function arguments".
    with pytest.raises(exc, match="nthreads"):
        fn(np.full(3, -0.5 if fn is not S.ndtri else 0.5), **kwargs)


@pytest.mark.parametrize("value", [1j, np.complex64(1), np.array([1.0 + 0j]), [1.0, 2j]])
def test_complex_input_is_a_type_error_not_a_lost_imaginary_part(value):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for fn, name in [(S.ndtr, "x"), (S.ndtri, "p"), (S.ndtri_exp, "log_p"), (S.erfcx, "x")]:
            with pytest.raises(TypeError, match=rf"\b{name}\b.*complex"):
                fn(value)
        with pytest.raises(TypeError, match=r"\bb\b.*complex"):
            S.log_ndtr_diff(0.0, value)
