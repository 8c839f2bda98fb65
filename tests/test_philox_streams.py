"""The random streams of the discrete estimators against Philox4x32-10 written here in numpy.

The core draws DisARM's words and REBAR's logistic noise from Philox blocks computed eight (AVX2)
or four (SSE2) at a time with intrinsics (discrete/philox_fill.hpp). These tests rebuild the
draws from an independent numpy Philox (checked against the Random123 known answers) and the
documented counter layout, at every SIMD level the CPU has.
"""

from __future__ import annotations

import numpy as np
import pytest

import mixgrad as mg
from mixgrad.random import philox_key

M0, M1, W0, W1 = 0xD2511F53, 0xCD9E8D57, 0x9E3779B9, 0xBB67AE85
LOW = np.uint64(0xFFFFFFFF)


def philox(c0, c1, c2, c3, key):
    """Philox4x32-10 on arrays of counters (any broadcastable shapes); returns the four words."""
    c = [np.asarray(x, dtype=np.uint64) & LOW for x in np.broadcast_arrays(c0, c1, c2, c3)]
    k0, k1 = np.uint64(key[0]), np.uint64(key[1])
    for _ in range(10):
        p0, p1 = np.uint64(M0) * c[0], np.uint64(M1) * c[2]
        c = [(p1 >> np.uint64(32)) ^ c[1] ^ k0, p1 & LOW, (p0 >> np.uint64(32)) ^ c[3] ^ k1, p0 & LOW]
        k0, k1 = (k0 + np.uint64(W0)) & LOW, (k1 + np.uint64(W1)) & LOW
    return c


def open_uniform(bits):
    """(k + 1/2) 2^-52 from the top 52 of 64 bits (philox::bits_to_open_uniform)."""
    return ((bits >> np.uint64(12)).astype(np.float64) + 0.5) * 2.0**-52


@pytest.fixture(params=mg.supported_simd_levels())
def simd_level(request):
    before = mg.simd_level()
    mg.set_simd_level(request.param)
    yield request.param
    mg.set_simd_level(before)


def test_numpy_philox_matches_the_known_answers():
    # Random123's known-answer vectors for Philox4x32-10
    assert [int(w) for w in philox(0, 0, 0, 0, (0, 0))] == [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]
    out = philox(0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344, (0xA4093822, 0x299F31D0))
    assert [int(w) for w in out] == [0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1]


def disarm_pairs_reference(alpha, S, key, one_coordinate):
    """b, b~ of DisARM (disarm_words.hpp): pair (s, q) decided by a 32-bit word, ties by 20 more bits."""
    theta = 1.0 / (1.0 + np.exp(-alpha.ravel()))
    K = np.minimum(np.ceil(theta * 2.0**52 - 0.5), 2.0**52).astype(np.uint64)
    T = np.uint64(2**52) - K
    s, q = np.meshgrid(np.arange(S, dtype=np.uint64), np.arange(theta.size, dtype=np.uint64), indexing="ij")
    i, other = (s, np.zeros_like(s)) if one_coordinate else (q, s)
    blk = i >> np.uint64(2)
    words = philox(*((blk, other) if one_coordinate else (other, blk)), 0, 0, key)
    x = np.choose((i & np.uint64(3)).astype(np.intp), words)
    tie_words = philox(*((i, other) if one_coordinate else (other, i)), 2, 0, key)
    k = (x << np.uint64(20)) | (tie_words[0] & np.uint64((1 << 20) - 1))  # the 52-bit integer
    return (k < K).astype(float), (k >= T).astype(float)


@pytest.mark.parametrize(("shape", "S"), [((1,), 1001), ((3, 37), 23), ((203,), 5)])
def test_disarm_draws_follow_the_documented_stream(simd_level, shape, S):
    rng = np.random.default_rng(len(shape) + S)
    alpha = rng.normal(scale=3.0, size=shape)
    alpha.ravel()[0] = 0.0
    seen = []

    def value(x):
        seen.append(x.copy())
        return x.sum(-1) if x.ndim > 1 else x

    mg.disarm(mg.Callback(value), mg.Bernoulli(alpha), S, seed=11)
    x = seen[0].reshape(S, 2, -1)
    b, bt = disarm_pairs_reference(alpha, S, philox_key(11), one_coordinate=alpha.size == 1)
    np.testing.assert_array_equal(x[:, 0], b)
    np.testing.assert_array_equal(x[:, 1], bt)


@pytest.mark.parametrize(("shape", "n"), [((1,), 301), ((2, 3), 50), ((130,), 3)])
@pytest.mark.parametrize("temperature", [0.5, 0.3])
def test_rebar_logistic_noise_follows_the_documented_stream(simd_level, shape, n, temperature):
    # z = alpha + log(u / (1 - u)), u from the first 64 bits of block (sample, coordinate, 0, 0)
    alpha = np.random.default_rng(n).normal(size=shape)
    draw = mg.Bernoulli(alpha).noise(n, seed=5, temperature=temperature)
    s, q = np.meshgrid(np.arange(n), np.arange(alpha.size), indexing="ij")
    w = philox(s, q, 0, 0, philox_key(5))
    u = open_uniform((w[1] << np.uint64(32)) | w[0])
    z = alpha.ravel() + np.log(u / (1.0 - u))
    np.testing.assert_allclose(draw.z.reshape(n, -1), z, rtol=1e-13, atol=1e-13)


def disarm_quadratic_reference(alpha, target, S, key):
    """DisARM's estimates on f(b) = mean_e (b_e - t_e)^2 from the reference draws (rows of E)."""
    R, E = alpha.shape
    b, bt = disarm_pairs_reference(alpha, S, key, one_coordinate=alpha.size == 1)
    b, bt = b.reshape(S, R, E), bt.reshape(S, R, E)
    f = lambda x: ((x - target) ** 2).mean(-1)  # noqa: E731
    c = 1.0 / (1.0 + np.exp(-np.abs(alpha)))
    return 0.5 * (f(b) - f(bt))[..., None] * (b - bt) * c


def alpha_tying_word(word, low):
    """A logit whose DisARM threshold K = ceil(theta 2^52 - 1/2) has top 32 bits `word` (low 20
    bits near `low`): the pair drawn from that word is a tie, settled by 20 more bits."""
    theta = (word * 2.0**20 + low) * 2.0**-52
    return np.log(theta) - np.log1p(-theta)


# (1, 200, 45): the words of up to 20 samples are drawn in one fill (DisarmSampleWords), three fills
# here; (2, 203, 5): rows that are not whole Philox blocks, drawn sample by sample
@pytest.mark.parametrize(("R", "E", "S"), [(1, 200, 7), (1, 200, 45), (3, 37, 9), (2, 300, 3), (2, 203, 5), (40, 5, 6)])
@pytest.mark.parametrize("per_row_target", [False, True])
def test_fused_quadratic_disarm_matches_the_reference_draws(simd_level, R, E, S, per_row_target):
    # The quadratic objective's DisARM is computed straight from the words (disarm_quadratic.hpp);
    # here it is rebuilt from the documented draws, with ties forced at two coordinates of sample 0
    rng = np.random.default_rng(R * E + S)
    alpha = rng.normal(scale=2.0, size=(R, E))
    target = rng.uniform(size=(R, E) if per_row_target else (E,))
    key = philox_key(21)
    words = philox(0, np.arange(R * E, dtype=np.uint64) >> np.uint64(2), 0, 0, key)  # sample 0
    x = np.choose(np.arange(R * E) % 4, words)
    for q in (1, R * E - 1):  # b's threshold, then b~'s (2^52 - K ties when K's top bits are ~x)
        alpha.flat[q] = alpha_tying_word(int(x[q]), 2**19) if q == 1 else -alpha_tying_word(int(x[q]), 2**19)
    theta = 1.0 / (1.0 + np.exp(-alpha.ravel()))
    K = np.ceil(theta * 2.0**52 - 0.5).astype(np.uint64)
    assert K[1] >> np.uint64(20) == x[1]
    assert (np.uint64(2**52) - K[-1]) >> np.uint64(20) == x[-1]
    est = mg.disarm(mg.Quadratic(target), mg.Bernoulli(alpha), S, seed=21)
    want = disarm_quadratic_reference(alpha, target, S, key)
    np.testing.assert_allclose(est.samples.reshape(S, R, E), want, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(est.mean.reshape(R, E), want.mean(0), rtol=1e-12, atol=1e-15)


def mixture_stream_reference(logits, rows, b, D, key):
    """Component and standard normals of the mixture samplers (mixture/normals.hpp) for the rows
    with Philox index rows (row i of a whole call: flattened (n, batch) order) drawn from
    mixtures b: the component is the first k with u < cumsum(weights)[k], u the open uniform of
    block (i, 0); eps_j comes from the low 64 bits of block (i, 1 + j) and eps_{P+j} from its
    high 64 bits, P = ceil(D/2), each as sign * ndtri(p) with the sign from the word's top bit
    and p in (0, 1/2) from the next 52 bits."""
    from scipy.special import ndtri, softmax

    rows = np.asarray(rows, dtype=np.uint64)
    w = philox(rows & LOW, rows >> np.uint64(32), 0, 0, key)
    u = open_uniform((w[1] << np.uint64(32)) | w[0])
    cw = np.cumsum(softmax(logits, axis=-1), axis=-1)
    comp = (cw[b, :-1] <= u[:, None]).sum(-1)
    P = (D + 1) // 2
    j = np.arange(P, dtype=np.uint64)
    w = philox((rows & LOW)[:, None], (rows >> np.uint64(32))[:, None], 1 + j, 0, key)
    words = np.concatenate([(w[1] << np.uint64(32)) | w[0], (w[3] << np.uint64(32)) | w[2]], axis=1)
    p = ((words << np.uint64(1)) >> np.uint64(12)).astype(np.float64) * 2.0**-53 + 2.0**-54
    z = ndtri(p)
    eps = np.where(words >> np.uint64(63) == 1, -z, z)
    return comp, eps[:, :D]


# (3, 5, 5): odd D, a batch of mixtures; K = 40: the binary search that picks among many components
@pytest.mark.parametrize(("B", "K", "D", "n"), [(1, 8, 16, 37), (3, 5, 5, 30), (2, 40, 3, 50), (1, 1, 1, 9)])
def test_mixture_samples_follow_the_documented_stream(simd_level, B, K, D, n):
    rng = np.random.default_rng(K * D + B)
    logits = rng.normal(scale=2.0, size=(B, K))
    means = rng.normal(size=(B, K, D))
    scales = 0.5 + rng.uniform(size=(B, K, D))
    b = np.arange(n * B) % B
    comp, eps = mixture_stream_reference(logits, np.arange(n * B), b, D, philox_key(3))
    want = means[b, comp] + scales[b, comp] * eps
    x = mg.DiagGaussianMixture(logits, means, scales).sample(n, seed=3).reshape(n * B, D)
    # AS241 against scipy's ndtri: a few ulp of the normal, times the scale
    np.testing.assert_allclose(x, want, rtol=1e-14, atol=1e-14)
    tril = np.tril(rng.normal(scale=0.3, size=(B, K, D, D)), -1) + scales[..., None] * np.eye(D)
    want_full = means[b, comp] + np.einsum("rij,rj->ri", tril[b, comp], eps)
    x_full = mg.GaussianMixture(logits, means, tril).sample(n, seed=3).reshape(n * B, D)
    np.testing.assert_allclose(x_full, want_full, rtol=1e-13, atol=1e-13)


def test_mixture_sample_rows_past_2_32_use_the_high_counter_word(simd_level):
    # a window of a call with 2^33 samples (as a Dask chunk draws it) across row 2^32
    from mixgrad.mixture import Window

    rng = np.random.default_rng(7)
    K, D, n, s0 = 6, 7, 20, 2**32 - 5
    logits, means = rng.normal(size=(1, K)), rng.normal(size=(1, K, D))
    scales = 0.5 + rng.uniform(size=(1, K, D))
    comp, eps = mixture_stream_reference(logits, s0 + np.arange(n, dtype=np.uint64), np.zeros(n, int), D, philox_key(3))
    want = means[0, comp] + scales[0, comp] * eps
    mix = mg.DiagGaussianMixture(logits[0], means[0], scales[0])
    x = mix._sample(n, philox_key(3), None, Window(s0=s0, S_whole=2**33))
    np.testing.assert_allclose(x, want, rtol=1e-14, atol=1e-14)
