"""mixgrad.dask estimators: per-row means, variances, standard errors and per-sample estimates
bit-identical to the in-memory call's rows for any chunking of the rows, with the threaded
scheduler and a real distributed.LocalCluster of two worker processes."""

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")

import mixgrad  # noqa: E402
import mixgrad.dask as md  # noqa: E402
from mixgrad import estimators as est  # noqa: E402


def _value(x):
    return ((x - 0.3) ** 2).sum(-1) + x[..., 0] * x[..., -1]


def _grad(x):
    g = 2 * (x - 0.3)
    g[..., 0] += x[..., -1]
    g[..., -1] += x[..., 0]
    return g


CALLBACK = mixgrad.Callback(_value, _grad)


def _check(compute, name, objective, dist, n, seed, chunkings, **options):
    """The dask estimate for every chunking equals the in-memory one, bit for bit."""
    want = getattr(est, name)(objective, dist, n, seed, **options)
    fields = ["mean", "variance", "stderr"] + (["samples"] if want.samples is not None else [])
    for chunks in chunkings:
        got = getattr(md, name)(objective, dist, n, seed, chunks=chunks, **options)
        assert got.n_samples == n
        assert (got.samples is None) == (want.samples is None)
        arrays = [getattr(got, f) for f in fields]
        for f, arr in zip(fields, arrays):
            assert arr.dtype == dist.dtype, f  # declared before computing
        for f, arr in zip(fields, compute(*arrays)):
            w = getattr(want, f)
            assert arr.shape == w.shape, f
            assert arr.dtype == w.dtype, f
            assert np.array_equal(arr, w, equal_nan=True), (name, f, chunks, np.nanmax(np.abs(arr - w)))


def _logits(shape, dtype=np.float64, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype(dtype)


# Rows of one, uneven chunks, one chunk. (40, 3): the whole call draws 2 samples of all 40 rows at
# a time (120 coordinates), which a chunk of one row (3 coordinates) must keep.
SMALL = (40, 3)
SMALL_CHUNKS = [1, (7, 1, 20, 12), 40]

ESTIMATORS = [
    ("rebar", {}),  # temperature 0.5: the fast logistic kernel (1/lambda = 2)
    ("rebar", {"temperature": 1.0, "baseline": "loo"}),
    ("rebar", {"temperature": 0.3, "coupling": "coupled", "eta": 0.7}),
    ("reinforce", {}),
    ("reinforce", {"baseline": "moving_average", "decay": 0.8, "baseline_init": np.linspace(0, 1, 40)}),
    ("rloo", {}),
    ("concrete", {}),
    ("straight_through", {"keep_samples": False}),
    ("double_cv", {}),
]


def _threads(*objs):
    return dask.compute(*objs, scheduler="threads")


def _small_case(family):
    a = _logits(SMALL, seed=1)
    dist = mixgrad.Categorical(a) if family == "categorical" else mixgrad.Bernoulli(a, noise=family)
    target = np.random.default_rng(2).uniform(size=SMALL)  # one target per row: sliced per chunk
    return mixgrad.Quadratic(target), dist


@pytest.mark.parametrize(("name", "options"), ESTIMATORS)
@pytest.mark.parametrize("family", ["logistic", "gaussian", "categorical"])
def test_estimators_bit_identical_for_any_row_chunking(name, options, family):
    # the threaded scheduler; the process workers run a sample of these below
    objective, dist = _small_case(family)
    _check(_threads, name, objective, dist, 30, 5, SMALL_CHUNKS, **options)


@pytest.mark.parametrize(("name", "options", "family"), [(*ESTIMATORS[1], "logistic"), (*ESTIMATORS[8], "categorical")])
def test_estimators_on_process_workers(client, name, options, family):
    objective, dist = _small_case(family)

    def on_cluster(*objs):
        return client.compute(list(objs), sync=True)

    _check(on_cluster, name, objective, dist, 30, 5, SMALL_CHUNKS, **options)


@pytest.mark.parametrize("name", ["rebar", "reinforce", "double_cv"])
@pytest.mark.parametrize("family", ["logistic", "categorical"])
def test_callback_objectives(compute, name, family):
    a = _logits(SMALL, seed=3)
    dist = mixgrad.Categorical(a) if family == "categorical" else mixgrad.Bernoulli(a)
    _check(compute, name, CALLBACK, dist, 12, 6, SMALL_CHUNKS)


def test_quadratic_form_with_per_row_terms_and_float32(compute):
    rng = np.random.default_rng(4)
    a = _logits(SMALL, np.float32, seed=4)
    obj = mixgrad.QuadraticForm(rng.normal(size=(3, 3)), c=rng.normal(size=SMALL), d=rng.normal(size=40))
    _check(compute, "rebar", obj, mixgrad.Bernoulli(a), 20, 7, SMALL_CHUNKS)
    _check(compute, "reinforce", obj, mixgrad.Categorical(a), 20, 7, SMALL_CHUNKS, baseline="loo")


@pytest.mark.parametrize("family", ["logistic", "categorical"])
def test_several_row_blocks_of_the_whole_tiling(compute, family):
    # 2500 x 4 = 10000 coordinates: two row blocks of 2048 rows, one sample at a time in pieces of
    # 64 rows; the chunks cut through pieces and blocks.
    a = _logits((2500, 4), seed=5)
    dist = mixgrad.Categorical(a) if family == "categorical" else mixgrad.Bernoulli(a)
    obj = mixgrad.Quadratic(np.random.default_rng(6).uniform(size=(2500, 4)))
    chunkings = [(1, 2047, 2, 450), (1000, 1000, 500), 2500]
    _check(compute, "rebar", obj, dist, 4, 8, chunkings)
    _check(compute, "reinforce", obj, dist, 3, 8, chunkings[:1], baseline="loo", keep_samples=False)


def test_narrow_rows_many_samples(compute):
    # 6 x 1: the whole call draws 42 samples of its 6 coordinates at a time (vectorized over
    # samples); one-row chunks must too.
    a = _logits((6, 1), seed=9)
    _check(compute, "rebar", mixgrad.Quadratic(0.4), mixgrad.Bernoulli(a), 200, 1, [1, (2, 4), 6])
    _check(compute, "reinforce", mixgrad.Quadratic(0.4), mixgrad.Bernoulli(a), 200, 1, [1], baseline="loo")


ANTITHETIC = [("disarm", {}), ("arms", {}), ("arms", {"n_draws": 5, "keep_samples": False})]


@pytest.mark.parametrize(("name", "options"), ANTITHETIC)
@pytest.mark.parametrize("objective", ["quadratic", "callback"])
def test_antithetic_estimators(name, options, objective):
    objective, dist = _small_case("logistic")
    if objective == "callback":
        objective = CALLBACK
    _check(_threads, name, objective, dist, 30, 5, SMALL_CHUNKS, **options)


@pytest.mark.parametrize("name", ["disarm", "arms"])
def test_antithetic_estimators_on_process_workers_and_many_rows(compute, name):
    # 2500 x 4: two row blocks of the whole tiling, cut by the chunks; (5, 1): the whole call
    # draws many groups of its 5 coordinates at a time, and single rows must too
    a = _logits((2500, 4), seed=12)
    obj = mixgrad.Quadratic(np.random.default_rng(13).uniform(size=(2500, 4)))
    _check(compute, name, obj, mixgrad.Bernoulli(a), 3, 9, [(1, 2047, 2, 450)])
    b = _logits((5, 1), seed=14)
    _check(compute, name, mixgrad.Quadratic(0.3), mixgrad.Bernoulli(b), 300, 9, [1, (2, 3)])


def test_generator_seed_is_used_once_like_the_in_memory_call():
    a = _logits(SMALL, seed=10)
    dist, obj = mixgrad.Bernoulli(a), mixgrad.Quadratic(0.5)
    g_mem, g_dask = np.random.default_rng(3), np.random.default_rng(3)
    want = est.rebar(obj, dist, 8, g_mem)
    got = md.rebar(obj, dist, 8, g_dask, chunks=(1, 39))
    (mean,) = dask.compute(got.mean, scheduler="threads")
    assert np.array_equal(mean, want.mean)
    assert g_mem.integers(1 << 30) == g_dask.integers(1 << 30)  # both advanced alike


def test_read_only_logits_and_errors():
    a = _logits(SMALL, seed=11)
    a.setflags(write=False)
    dist = mixgrad.Bernoulli(a)
    got = md.reinforce(mixgrad.Quadratic(0.5), dist, 5, 1, chunks=10)
    (mean,) = dask.compute(got.mean, scheduler="threads")
    assert np.array_equal(mean, est.reinforce(mixgrad.Quadratic(0.5), dist, 5, 1).mean)
    with pytest.raises(ValueError, match="eta='optimal'"):
        md.rebar(mixgrad.Quadratic(0.5), dist, 5, 1, eta="optimal")
    with pytest.raises(ValueError, match="batched"):
        md.rebar(mixgrad.Quadratic(0.5), mixgrad.Bernoulli(a[0]), 5, 1)
    with pytest.raises(ValueError, match="chunks"):
        md.rebar(mixgrad.Quadratic(0.5), dist, 5, 1, chunks=(3, 3))
    with pytest.raises(TypeError, match="objective"):
        md.rebar(lambda x: x, dist, 5, 1)
    with pytest.raises(TypeError, match="distribution"):
        md.rebar(mixgrad.Quadratic(0.5), a, 5, 1)
