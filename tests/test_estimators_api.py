"""Estimator API: shapes, keep_samples, determinism across threads, dtypes, extremes, errors,
tuning."""

import numpy as np
import pytest

import mixgrad as mg

NAMES = ("rebar", "reinforce", "concrete", "straight_through")


def _dists(shape):
    rng = np.random.default_rng(0)
    a = rng.normal(size=shape)
    return [mg.Bernoulli(a), mg.Bernoulli(a, noise="gaussian"), mg.Categorical(a)]


@pytest.mark.parametrize("shape", [(3,), (4, 3)])
@pytest.mark.parametrize("name", NAMES)
def test_shapes_and_sample_statistics(shape, name):
    for dist in _dists(shape):
        obj = mg.Quadratic(np.linspace(0.1, 0.9, shape[-1]))
        g = getattr(mg, name)(obj, dist, 500, seed=1)
        assert g.samples.shape == (500, *shape)
        assert g.mean.shape == g.variance.shape == g.stderr.shape == shape
        np.testing.assert_allclose(g.mean, g.samples.mean(0), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(g.variance, g.samples.var(0, ddof=1), rtol=1e-10, atol=1e-18)
        np.testing.assert_allclose(g.stderr, np.sqrt(g.variance / 500), rtol=1e-12)
        h = getattr(mg, name)(obj, dist, 500, seed=1, keep_samples=False)
        assert h.samples is None
        np.testing.assert_allclose(h.mean, g.mean, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(h.variance, g.variance, rtol=1e-10, atol=1e-18)
        assert g.diagnostics["estimator"] == name


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("noise", ["logistic", "gaussian"])
@pytest.mark.parametrize("n", [7, 1001, 20000])
def test_one_coordinate_moments_match_the_samples(name, noise, n):
    # A problem of one coordinate is summed per chunk in one pass about the chunk's first
    # estimate, not about its mean: the mean and variance must still be numpy's two-pass ones.
    for alpha in (-3.0, 0.4):
        g = getattr(mg, name)(mg.Quadratic([0.3]), mg.Bernoulli([alpha], noise=noise), n, seed=5)
        np.testing.assert_allclose(g.mean, g.samples.mean(0), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(g.variance, g.samples.var(0, ddof=1), rtol=1e-10, atol=1e-18)


@pytest.mark.parametrize("shape", [(400,), (2, 200), (300, 5), (300, 1)])
@pytest.mark.parametrize(
    ("noise", "coupling", "temperature"),
    [
        ("logistic", "independent", 0.5),
        ("logistic", "independent", 0.3),
        ("logistic", "coupled", 0.5),
        ("gaussian", "independent", 0.5),
    ],
)
def test_one_sample_chunk_moments_match_the_samples(shape, noise, coupling, temperature):
    # Rows of 256 coordinates or more are cut into chunks of one sample each, whose Welford step
    # the fused Quadratic pass takes as it forms the estimates (E = 1 and E > 1, one target and
    # one per row): the mean and variance must still be numpy's two-pass ones of the kept
    # samples, and the same without keeping them.
    rng = np.random.default_rng(8)
    dist = mg.Bernoulli(rng.normal(size=shape), noise=noise)
    for target in (0.3, rng.uniform(0.1, 0.9, size=shape)):
        obj = mg.Quadratic(target)
        kw = {"temperature": temperature, "coupling": coupling, "eta": 0.8}
        g = mg.rebar(obj, dist, 37, seed=3, **kw)
        np.testing.assert_allclose(g.mean, g.samples.mean(0), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(g.variance, g.samples.var(0, ddof=1), rtol=1e-10, atol=1e-18)
        h = mg.rebar(obj, dist, 37, seed=3, keep_samples=False, **kw)
        assert np.array_equal(h.mean, g.mean)
        assert np.array_equal(h.variance, g.variance)


def test_batched_rows_are_independent_problems():
    """Row i of a batch gets the same estimate as that row alone with the same objective row."""
    a = np.array([[0.3, -1.0], [2.0, 0.5], [-0.7, 0.1]])
    t = np.array([[0.2, 0.8], [0.5, 0.1], [0.9, 0.4]])
    g = mg.rebar(mg.Quadratic(t), mg.Bernoulli(a), 1000, seed=3)
    ex = mg.exact(mg.Quadratic(t), mg.Bernoulli(a))
    for i in range(3):
        gi = mg.exact(mg.Quadratic(t[i]), mg.Bernoulli(a[i]))
        np.testing.assert_allclose(ex.mean[i], gi.mean, rtol=1e-13)
    assert np.all(np.abs(g.mean - ex.mean) < 5 * g.stderr)


@pytest.mark.parametrize(("shape", "n"), [((1,), 200000), ((300, 5), 50), ((2, 40), 3000)])
def test_bit_identical_for_any_thread_count(shape, n):
    for dist in _dists(shape):
        obj = mg.Quadratic(0.3)
        for name, opts in (
            ("rebar", {}),
            ("rebar", {"eta": "optimal", "baseline": "loo"}),
            ("reinforce", {"baseline": "moving_average"}),
            ("concrete", {}),
        ):
            runs = []
            for nt in (1, 2, 3):
                g = getattr(mg, name)(obj, dist, n, seed=7, nthreads=nt, keep_samples=False, **opts)
                runs.append((g.mean.copy(), g.variance.copy()))
            for m, v in runs[1:]:
                assert np.array_equal(m, runs[0][0]), (name, opts)
                assert np.array_equal(v, runs[0][1]), (name, opts)
        s1 = mg.rebar(obj, dist, 20, seed=7, nthreads=1).samples
        s3 = mg.rebar(obj, dist, 20, seed=7, nthreads=3).samples
        assert np.array_equal(s1, s3)


def test_seed_reproducible_and_different_seeds_differ():
    d = mg.Bernoulli(np.zeros(4))
    o = mg.Quadratic(0.45)
    a = mg.rebar(o, d, 100, seed=5).samples
    assert np.array_equal(a, mg.rebar(o, d, 100, seed=5).samples)
    assert not np.array_equal(a, mg.rebar(o, d, 100, seed=6).samples)
    assert np.array_equal(a, mg.rebar(o, d, 100, seed=np.random.SeedSequence(5)).samples)


def test_float32_logits_give_float32_results():
    d = mg.Bernoulli(np.zeros(3, dtype=np.float32))
    g = mg.rebar(mg.Quadratic(0.45), d, 100, seed=0)
    assert g.mean.dtype == np.float32
    assert g.samples.dtype == np.float32
    g64 = mg.rebar(mg.Quadratic(0.45), mg.Bernoulli(np.zeros(3)), 100, seed=0)
    np.testing.assert_allclose(g.mean, g64.mean, rtol=1e-6)


@pytest.mark.parametrize("lam", [1e-3, 1e-1, 1.0, 10.0, 1e3])
def test_finite_for_extreme_logits_and_temperatures(lam):
    a = np.array([-30.0, -12.0, -0.5, 0.0, 3.0, 30.0])
    obj = mg.QuadraticForm(np.eye(6) * 2 - 0.3, np.ones(6))
    for dist in (mg.Bernoulli(a), mg.Bernoulli(a, noise="gaussian"), mg.Categorical(a)):
        for name in NAMES:
            kw = {"temperature": lam} if name != "reinforce" else {}
            g = getattr(mg, name)(obj, dist, 2000, seed=1, **kw)
            assert np.all(np.isfinite(g.samples)), (name, dist)
        for opts in ({"coupling": "coupled"}, {"eta": "optimal", "baseline": "loo"}):
            g = mg.rebar(obj, dist, 2000, seed=1, temperature=lam, **opts)
            assert np.all(np.isfinite(g.samples)), (opts, dist)


def test_categorical_with_neg_inf_logit():
    d = mg.Categorical(np.array([0.5, -np.inf, 1.0]))
    obj = mg.Quadratic(np.array([0.2, 0.3, 0.9]))
    g = mg.rebar(obj, d, 200000, seed=1, keep_samples=False)
    ex = mg.exact(obj, d).mean
    assert np.all(np.isfinite(g.mean))
    assert g.mean[1] == 0.0
    assert ex[1] == 0.0
    assert np.all(np.abs(g.mean - ex) <= 4 * g.stderr + 1e-15)


def test_eta_optimal_diagnostics_and_unbiased_usage():
    d = mg.Bernoulli(np.zeros(50))
    o = mg.Quadratic(0.45)
    g = mg.rebar(o, d, 400, seed=1, eta="optimal")
    assert "eta_optimal" in g.diagnostics
    assert np.isfinite(g.diagnostics["eta_optimal"])
    # eta* from a previous batch, then a fresh batch with it: lower variance than eta = 1
    g2 = mg.rebar(o, d, 4000, seed=2, eta=g.diagnostics["eta_optimal"], keep_samples=False)
    g1 = mg.rebar(o, d, 4000, seed=2, eta=1.0, keep_samples=False)
    assert g2.variance.mean() < 0.5 * g1.variance.mean()


def test_tune_and_online_tuner_reduce_variance():
    d = mg.Bernoulli(np.zeros(100))
    o = mg.Quadratic(0.45)
    res = mg.tune(o, d, 500, seed=1, temperatures=np.logspace(-2, 2, 9))
    assert res.grid["reduction"].shape == (9,)
    tuned = mg.rebar(o, d, 3000, seed=9, temperature=res.temperature, eta=res.eta, keep_samples=False)
    plain = mg.rebar(o, d, 3000, seed=9, keep_samples=False)
    reinf = mg.reinforce(o, d, 3000, seed=9, keep_samples=False)
    assert tuned.variance.mean() < plain.variance.mean()
    assert tuned.variance.mean() < reinf.variance.mean() / 50
    tuner = mg.OnlineTuner(temperature=0.5, eta=0.0, learning_rate=0.1)
    first = None
    for step in range(40):
        g = tuner.step(o, d, 64, seed=step)
        if first is None:
            first = g.variance.mean()
    assert tuner.eta > 0.3  # moved from 0 towards eta* (~0.9 here)
    assert g.variance.mean() < first / 5
    assert len(tuner.history["eta"]) == 40
    assert "tuner" in g.diagnostics


def test_gmm_objective_shapes_and_errors():
    x = np.linspace(-2, 2, 6)
    obj = mg.GMMComponentLikelihood(x, np.array([-1.0, 1.0]), np.array([1.0, 0.5]))
    assert obj.table().shape == (6, 2)
    g = mg.rebar(obj, mg.Categorical(np.zeros((6, 2))), 10, seed=0)
    assert g.samples.shape == (10, 6, 2)
    g = mg.rebar(obj, mg.Bernoulli(np.zeros((6, 1)), noise="gaussian"), 10, seed=0)
    assert g.samples.shape == (10, 6, 1)
    with pytest.raises(ValueError, match="one row per data point"):
        mg.rebar(obj, mg.Categorical(np.zeros(2)), 10)
    with pytest.raises(ValueError, match="components"):
        mg.rebar(obj, mg.Categorical(np.zeros((6, 3))), 10)
    with pytest.raises(ValueError, match="K = 2"):
        mg.rebar(obj, mg.Bernoulli(np.zeros((6, 2))), 10)
    with pytest.raises(ValueError, match="normalizer"):
        mg.GMMComponentLikelihood(x, np.array([-1.0, 1.0]), np.array([1.0, 0.5]), normalizer=-np.ones(6))
    with pytest.raises(ValueError, match="scales"):
        mg.GMMComponentLikelihood(x, np.array([-1.0, 1.0]), np.array([1.0, 0.0]))


def test_bad_inputs_name_the_problem():
    d = mg.Bernoulli(np.zeros(3))
    o = mg.Quadratic(0.45)
    with pytest.raises(ValueError, match="n_samples must be >= 1"):
        mg.rebar(o, d, 0)
    with pytest.raises(ValueError, match="n_samples must be >= 2 with"):
        mg.rebar(o, d, 1, eta="optimal")
    with pytest.raises(ValueError, match="n_samples must be >= 2 with"):
        mg.reinforce(o, d, 1, baseline="loo")
    with pytest.raises(TypeError, match="n_samples must be an integer"):
        mg.rebar(o, d, 2.5)
    for lam in (0.0, -1.0, np.inf, np.nan):
        with pytest.raises(ValueError, match="temperature"):
            mg.rebar(o, d, 5, temperature=lam)
        with pytest.raises(ValueError, match="temperature"):
            mg.concrete(o, d, 5, temperature=lam)
    with pytest.raises(ValueError, match="eta"):
        mg.rebar(o, d, 5, eta="best")
    with pytest.raises(ValueError, match="baseline"):
        mg.reinforce(o, d, 5, baseline="mean")
    with pytest.raises(ValueError, match="coupling"):
        mg.rebar(o, d, 5, coupling="shared")
    with pytest.raises(ValueError, match="target has shape"):
        mg.rebar(mg.Quadratic(np.zeros(4)), d, 5)
    with pytest.raises(ValueError, match="A has shape"):
        mg.rebar(mg.QuadraticForm(np.eye(2)), d, 5)
    with pytest.raises(TypeError, match="objective"):
        mg.rebar(lambda s: s, d, 5)
    with pytest.raises(TypeError, match="distribution"):
        mg.rebar(o, np.zeros(3), 5)
    with pytest.raises(ValueError, match="D <= 24"):
        mg.exact(o, mg.Bernoulli(np.zeros(30)))
    with pytest.raises(ValueError, match="nthreads"):
        mg.rebar(o, d, 5, nthreads=0)


def test_callback_errors():
    d = mg.Bernoulli(np.zeros(3))
    wrong_shape = mg.Callback(lambda s: s.sum(), lambda s: s)
    with pytest.raises(ValueError, match="callback value returned shape"):
        mg.reinforce(wrong_shape, d, 5)
    nan_value = mg.Callback(lambda s: np.full(s.shape[:-1], np.nan), lambda s: s)
    with pytest.raises(ValueError, match="NaN"):
        mg.rebar(nan_value, d, 5)
    bad_grad = mg.Callback(lambda s: s.sum(-1), lambda s: s[..., :2])
    with pytest.raises(ValueError, match="callback grad returned shape"):
        mg.rebar(bad_grad, d, 5)
    nan_grad = mg.Callback(lambda s: s.sum(-1), lambda s: s * np.nan)
    with pytest.raises(ValueError, match="NaN"):
        mg.concrete(nan_grad, d, 5)
    no_grad = mg.Callback(lambda s: s.sum(-1))
    mg.reinforce(no_grad, d, 5)  # the score-function estimator needs no gradient
    with pytest.raises(ValueError, match="grad="):
        mg.rebar(no_grad, d, 5)
    # batched callbacks see (n, B, E) and return (n, B)
    seen = {}

    def value(s):
        seen["shape"] = s.shape
        return s.sum(-1)

    mg.reinforce(mg.Callback(value), mg.Bernoulli(np.zeros((4, 3))), 7)
    assert seen["shape"] == (7, 4, 3)


@pytest.mark.parametrize("lam", [0.5, 1.0])
@pytest.mark.parametrize("D", [4, 16])
def test_logistic_log_free_path_matches_general_path(lam, D):
    # 1/lam in {1, 2} takes a path without log/exp per draw; the next double above lam takes the
    # general one. Sample 0 of the boundary coordinates has z = 0 exactly (alpha = -z at alpha = 0),
    # where b must still be 1[z > 0] as in the noise transform.
    z0 = mg.Bernoulli(np.zeros(D)).noise(1, seed=11).z[0]
    base = np.array([-800.0, -30.0, -5.0, -0.4, 0.0, 0.7, 5.0, 800.0])
    alpha = np.where(np.arange(D) % 2 == 0, -z0, np.resize(base, D))
    dist = mg.Bernoulli(alpha)
    assert np.array_equal(dist.noise(1, seed=11).z[0][::2], np.zeros(len(alpha[::2])))
    obj = mg.Quadratic(np.linspace(0.1, 0.9, D))
    fast = mg.rebar(obj, dist, 300, seed=11, temperature=lam)
    general = mg.rebar(obj, dist, 300, seed=11, temperature=np.nextafter(lam, 1.0))
    assert np.all(np.isfinite(fast.samples))
    np.testing.assert_allclose(fast.samples, general.samples, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("shape", [(1,), (7,), (3, 5)])
def test_quadratic_fused_path_matches_quadratic_form(shape):
    # mean_e (x_e - t_e)^2 = x^T (I/E) x - (2t/E) . x + mean(t^2): the fused Quadratic REBAR pass
    # against the generic objective path.
    rng = np.random.default_rng(4)
    E = shape[-1]
    alpha = rng.normal(size=shape) * 2
    t = rng.uniform(0.1, 0.9, size=shape)
    qf = mg.QuadraticForm(np.eye(E) / E, -2 * t / E, (t**2).mean(axis=-1))
    for lam in (0.5, 0.3):
        a = mg.rebar(mg.Quadratic(t), mg.Bernoulli(alpha), 400, seed=2, temperature=lam, eta=0.7)
        b = mg.rebar(qf, mg.Bernoulli(alpha), 400, seed=2, temperature=lam, eta=0.7)
        np.testing.assert_allclose(a.samples, b.samples, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(a.mean, b.mean, rtol=1e-9, atol=1e-12)
