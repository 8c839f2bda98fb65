"""mixgrad.dask: results on Dask arrays bit-identical to the in-memory calls, for any chunking,
with the threaded scheduler and a real distributed.LocalCluster of two worker processes."""

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")

import mixgrad  # noqa: E402
import mixgrad.dask as md  # noqa: E402
from mixgrad._seeding import philox_key  # noqa: E402
from mixgrad.mixture import Window  # noqa: E402


def _params(B, K, D, dtype, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(*B, K))
    a[..., 0] = -np.inf if K > 2 else a[..., 0]  # a weight of exactly zero
    m = rng.normal(size=(*B, K, D)) * 2
    s = rng.uniform(0.3, 2.0, size=(*B, K, D))
    return a.astype(dtype), m.astype(dtype), s.astype(dtype)


def _chunked(a, m, s, bchunks):
    return (
        da.from_array(a, chunks=(bchunks, -1)),
        da.from_array(m, chunks=(bchunks, -1, -1)),
        da.from_array(s, chunks=(bchunks, -1, -1)),
    )


def _equal(got, want):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype
        assert g.shape == w.shape
        assert np.array_equal(g, w), np.max(np.abs(g.astype(np.float64) - w))


# ------------------------------------------------------------------ special functions
SPECIAL_INPUTS = {
    "ndtr": lambda r: r.normal(0, 10, size=(23, 7)),
    "log_ndtr": lambda r: r.normal(0, 20, size=(23, 7)),
    "erfcx": lambda r: r.normal(0, 5, size=(23, 7)),
    "ndtri": lambda r: r.uniform(0, 1, size=(23, 7)),
    "ndtri_exp": lambda r: -r.exponential(30, size=(23, 7)),
}
CHUNKINGS_2D = [(1, 7), ((5, 11, 7), (3, 4)), (23, 7)]  # rows of one, uneven, one chunk


@pytest.mark.parametrize("name", sorted(SPECIAL_INPUTS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_special_functions_bit_identical_for_any_chunking(compute, name, dtype):
    x = SPECIAL_INPUTS[name](np.random.default_rng(1)).astype(dtype)
    want = getattr(mixgrad.special, name)(x)
    outs = [getattr(md.special, name)(da.from_array(x, chunks=c)) for c in CHUNKINGS_2D]
    for out in outs:
        assert out.dtype == want.dtype  # declared before computing
    _equal(compute(*outs), [want] * len(outs))


def test_special_two_arguments_broadcast_and_integer_inputs(compute):
    rng = np.random.default_rng(2)
    a = rng.normal(size=(17, 1)) - 3
    b = rng.normal(size=(1, 9)) + 3
    got = md.special.log_ndtr_diff(da.from_array(a, chunks=(4, 1)), da.from_array(b, chunks=(1, (2, 7))))
    ints = md.special.ndtr(da.arange(-5, 6, chunks=3))
    _equal(compute(got, ints), [mixgrad.special.log_ndtr_diff(a, b), mixgrad.special.ndtr(np.arange(-5, 6))])


def test_special_graph_declares_dtype_without_calling_the_kernel():
    # A string input would raise in the kernel; building the graph must not run it (no probing
    # with 0-d arrays), only checking the declared dtype.
    x = da.zeros((4, 3), chunks=2, dtype=np.float32)
    y = md.special.ndtri(x)
    assert y.dtype == np.float32
    assert y.chunks == x.chunks
    with pytest.raises(TypeError, match="x must be real"):
        md.special.ndtr(da.from_array(np.array(["a", "b"])))
    with pytest.raises(ValueError, match="broadcast"):
        md.special.log_ndtr_diff(np.zeros(3), np.zeros(4))


# ------------------------------------------------------------------ a batch of mixtures
# B = 33 takes the per-lane parameter layout (B >= 32) and B = 12 with several samples the shared
# one: a chunk of a few mixtures must still compute as the whole batch does.
BATCH_CASES = [(33, 3, 4, np.float64), (12, 4, 3, np.float32)]


def _batch_chunkings(B):
    return [1, (5, B - 5), max(2, B // 3)]


@pytest.mark.parametrize(("B", "K", "D", "dtype"), BATCH_CASES)
def test_batch_of_mixtures_bit_identical_for_any_batch_chunking(compute, B, K, D, dtype):
    a, m, s = _params((B,), K, D, dtype)
    ref = mixgrad.DiagGaussianMixture(a, m, s)
    # 20 samples per mixture: more than the 8 lanes, so that the two layouts sum in different orders
    x = ref.sample(20, seed=11)
    g = np.cos(x).astype(dtype)
    want = [
        ref.sample(seed=3),
        ref.sample(20, seed=3),
        ref.log_prob(x),
        ref.cdf_transform(x),
        *ref.vjp(x, g),
        *ref.sample_and_vjp(20, g, seed=4)[1],
        ref.sample_and_vjp(20, g, seed=4)[0],
    ]
    for bchunks in _batch_chunkings(B):
        dm = md.DiagGaussianMixture(*_chunked(a, m, s, bchunks))
        xd = da.from_array(x, chunks=(10, 7, -1))  # rechunked along the batch axis inside
        xs, grad = dm.sample_and_vjp(20, da.from_array(g, chunks=(3, -1, -1)), seed=4)
        got = compute(
            dm.sample(seed=3),
            dm.sample(20, seed=3, chunks=(1, 19)),
            dm.log_prob(xd),
            dm.cdf_transform(xd),
            *dm.vjp(da.from_array(x, chunks=(20, 5, -1)), g),
            *grad,
            xs,
        )
        _equal(got, want)


def test_batch_samples_chunked_along_both_axes(compute):
    a, m, s = _params((9,), 3, 2, np.float64, seed=5)
    ref = mixgrad.DiagGaussianMixture(a, m, s)
    dm = md.DiagGaussianMixture(*_chunked(a, m, s, (2, 3, 4)))
    (x,) = compute(dm.sample(50, seed=8, chunks=(1, 20, 29)))
    _equal([x], [ref.sample(50, seed=8)])


# ------------------------------------------------------------------ one mixture, many samples
def _pairwise(parts):
    """The documented order, written out here independently: neighbours added level by level."""
    while len(parts) > 1:
        parts = [parts[i] + parts[i + 1] if i + 1 < len(parts) else parts[i] for i in range(0, len(parts), 2)]
    return parts[0]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_one_mixture_sample_axis_chunks(compute, dtype):
    a, m, s = _params((), 5, 3, dtype, seed=7)
    ref = mixgrad.DiagGaussianMixture(a, m, s)
    dm = md.DiagGaussianMixture(a, m, s)
    n, seed = 101, 21
    g = np.linspace(-1, 1, 3).astype(dtype)
    x_ref, grad_ref = ref.sample_and_vjp(n, g, seed=seed)
    key = philox_key(seed)
    for chunks in [1, (1, 60, 40), 25]:
        sizes = da.core.normalize_chunks((chunks,), shape=(n,))[0]
        x, grad = dm.sample_and_vjp(n, g, seed=seed, chunks=chunks)
        got_x, *got_g = compute(x, *grad)
        assert np.array_equal(got_x, x_ref)
        # each chunk's gradient in memory (its rows of the whole call), then the fixed order
        parts, s0 = [], 0
        for c in sizes:
            _, gc = ref._sample_and_vjp(c, g, key, None, Window(s0, 0, 1, n))
            parts.append([p.astype(np.float64) for p in gc])
            s0 += c
        for k in range(3):
            expected = _pairwise([p[k] for p in parts]).astype(dtype)
            assert np.array_equal(got_g[k], expected)
            tol = 1e-11 if dtype == np.float64 else 2e-4
            np.testing.assert_allclose(got_g[k], grad_ref[k], rtol=tol, atol=tol * np.abs(grad_ref[k]).max())


def test_tree_sum_order_and_scheduler_independence(client):
    parts = [np.array([1e16]), np.array([1.0]), np.array([-1e16]), np.array([1.0]), np.array([3.0])]
    # ((1e16 + 1) + (-1e16 + 1)) + 3 = 3 in float64 (each 1 lost against 1e16); the sequential sum too
    assert md.tree_sum(parts)[0] == ((1e16 + 1.0) + (-1e16 + 1.0)) + 3.0
    with pytest.raises(ValueError, match="parts"):
        md.tree_sum([])
    a, m, s = _params((), 4, 6, np.float64, seed=9)
    dm = md.DiagGaussianMixture(a, m, s)
    x = dm.sample(20_000, seed=2, chunks=(3000,) * 6 + (2000,))
    grad = dm.vjp(x, 1.0)
    threads = dask.compute(*grad, scheduler="threads")
    sync = dask.compute(*grad, scheduler="sync")
    dist = client.compute(list(grad), sync=True)
    _equal(threads, sync)
    _equal(threads, dist)


# ------------------------------------------------------------------ inputs, errors, threads
def test_read_only_inputs_are_accepted(compute):
    a, m, s = _params((10,), 3, 2, np.float64, seed=3)
    ref = mixgrad.DiagGaussianMixture(a, m, s)
    x = ref.sample(4, seed=0)
    g = np.ones_like(x)
    for arr in (a, m, s, x, g):
        arr.setflags(write=False)
    dm = md.DiagGaussianMixture(*_chunked(a, m, s, 3))
    got = compute(dm.log_prob(x), *dm.vjp(x, g), md.special.ndtr(da.from_array(x, chunks=(1, 5, 2))))
    _equal(got, [ref.log_prob(x), *ref.vjp(x, g), mixgrad.special.ndtr(x)])


def test_bad_inputs_raise_naming_the_argument():
    a, m, s = _params((6,), 3, 4, np.float64)
    with pytest.raises(ValueError, match="means: chunked along axis 2"):
        md.DiagGaussianMixture(a, da.from_array(m, chunks=(3, 3, 2)), s)
    with pytest.raises(ValueError, match="logits: chunked along axis 1"):
        md.DiagGaussianMixture(da.from_array(a, chunks=(3, 1)), m, s)
    with pytest.raises(ValueError, match="scales: expected the shape"):
        md.DiagGaussianMixture(a, m, s[:, :2])
    with pytest.raises(ValueError, match="logits: expected shape"):
        md.DiagGaussianMixture(a[:, :2], m, s)
    with pytest.raises(TypeError, match="logits must be real"):
        md.DiagGaussianMixture(a.astype(complex), m, s)
    dm = md.DiagGaussianMixture(*_chunked(a, m, s, 2))
    x = np.zeros((5, 6, 4))
    with pytest.raises(ValueError, match="x: chunked along axis 2"):
        dm.log_prob(da.from_array(x, chunks=(5, 6, 2)))
    with pytest.raises(ValueError, match="x: expected shape"):
        dm.cdf_transform(np.zeros((5, 6, 3)))
    with pytest.raises(ValueError, match="grad_x: expected a shape broadcastable"):
        dm.vjp(x, np.ones(3))
    with pytest.raises(ValueError, match="grad: expected a shape broadcastable"):
        dm.sample_and_vjp(5, np.ones(3), seed=0)
    with pytest.raises(ValueError, match="chunks"):
        dm.sample(5, seed=0, chunks=(2, 2))
    with pytest.raises(ValueError, match="n must be"):
        dm.sample(-1, seed=0)
    with pytest.raises(ValueError, match="nthreads"):
        dm.sample(5, seed=0, nthreads=0)


def test_bad_values_raise_on_compute_without_probing():
    a, m, s = _params((4,), 2, 2, np.float64)
    s[3, 0, 0] = -1.0
    dm = md.DiagGaussianMixture(*_chunked(a, m, s, 2))
    x = dm.sample(3, seed=0)  # building the graph calls no kernel
    with pytest.raises(ValueError, match="scales must be finite and > 0"):
        x.compute(scheduler="sync")


def test_worker_threads_follow_the_worker_budget(client):
    # distributed starts its workers with OMP_NUM_THREADS=1: one mixgrad thread per task.
    assert set(client.run(mixgrad.get_num_threads).values()) == {1}
    a, m, s = _params((8,), 3, 2, np.float64)
    dm = md.DiagGaussianMixture(*_chunked(a, m, s, 3))
    want = mixgrad.DiagGaussianMixture(a, m, s).sample(40, seed=1)
    (got,) = client.compute([dm.sample(40, seed=1, chunks=7, nthreads=2)], sync=True)
    assert np.array_equal(got, want)


def test_more_threads_per_worker_on_request(client):
    client.run(mixgrad.set_num_threads, 2)
    try:
        assert set(client.run(mixgrad.get_num_threads).values()) == {2}
    finally:
        client.run(mixgrad.set_num_threads, None)
    assert set(client.run(mixgrad.get_num_threads).values()) == {1}


def test_sample_and_vjp_with_a_callable_upstream_gradient():
    a, m, s = _params((), 3, 2, np.float64, seed=4)
    ref = mixgrad.DiagGaussianMixture(a, m, s)
    dm = md.DiagGaussianMixture(a, m, s)
    x, grad = dm.sample_and_vjp(40, lambda x: 2 * x, seed=6)  # one sample chunk: bit-identical
    x_ref, grad_ref = ref.sample_and_vjp(40, lambda x: 2 * x, seed=6)
    _equal(dask.compute(x, *grad, scheduler="sync"), [x_ref, *grad_ref])
