"""Bad arguments to the numpy API are refused before any work, with TypeError/ValueError naming
the argument (issue 12, item 12): counts too large for the core, floats and bools as counts,
complex numbers that would lose their imaginary part, NaN where it is not allowed."""

import numpy as np
import pytest

import mixgrad as mg
from mixgrad import implicit

D3 = mg.Bernoulli(np.zeros(3))
QUAD = mg.Quadratic(0.45)


def _mixture():
    return mg.DiagGaussianMixture(np.zeros(2), np.array([[-1.0], [1.0]]), np.ones((2, 1)))


# ---------------------------------------------------------------- counts


@pytest.mark.parametrize("n", [2**64, 2**63, 2**62, np.uint64(2**63)])
def test_mixture_sample_counts_too_large_name_n(n):
    # 2**64 reached pybind11 ("incompatible function arguments"), 2**63 its size arithmetic
    mix = _mixture()
    with pytest.raises(ValueError, match=r"^n = \d+ is too large"):
        mix.sample(n)
    with pytest.raises(ValueError, match=r"^n = \d+ is too large"):
        mix.sample_and_vjp(n, 1.0)


@pytest.mark.parametrize("n", [2.0, 1.5, True, np.bool_(True), 3 + 0j, "3"])
def test_mixture_sample_counts_of_the_wrong_type_name_n(n):
    with pytest.raises(TypeError, match=r"^n must be an integer"):
        _mixture().sample(n)


@pytest.mark.parametrize("n", [2**32, 2**64])
def test_discrete_sample_counts_beyond_the_philox_counter(n):
    with pytest.raises(ValueError, match=r"^n must be <= 4294967295"):
        D3.sample(n)
    with pytest.raises(ValueError, match=r"n_samples must be < 2\*\*32"):
        mg.rebar(QUAD, D3, n)


@pytest.mark.parametrize("n", [2.0, True, np.bool_(True)])
def test_discrete_counts_of_the_wrong_type(n):
    with pytest.raises(TypeError, match=r"^n must be an integer"):
        D3.sample(n)
    with pytest.raises(TypeError, match="n_samples must be an integer"):
        mg.rebar(QUAD, D3, n)


@pytest.mark.parametrize("n_inner", [2.0, True])
def test_implicit_n_inner_of_the_wrong_type(n_inner):
    with pytest.raises(TypeError, match="n_inner"):
        implicit.sampled_implicit_grad(
            [0.1], [1.0], np.exp, np.exp, np.exp, lambda t, th: np.zeros((*t.shape, 1)), n_inner=n_inner
        )


# ---------------------------------------------------------------- complex inputs


def test_complex_jvp_tangents_are_refused():
    mix = _mixture()
    with pytest.raises(TypeError, match=r"tangents\.logits"):
        mix.jvp(np.zeros((4, 1)), {"logits": np.array([1.0 + 1j, 0.0])})
    with pytest.raises(TypeError, match=r"tangents\.scales"):
        mix.jvp(np.zeros((4, 1)), {"scales": np.ones((2, 1)) * 1j})


def test_complex_callback_values_and_gradients_are_refused():
    complex_value = mg.Callback(lambda s: (1 + 1j) * s.sum(-1), lambda s: np.ones(s.shape))
    with pytest.raises(TypeError, match="callback value"):
        mg.reinforce(complex_value, D3, 4, seed=0)
    complex_grad = mg.Callback(lambda s: s.sum(-1), lambda s: (1 + 1j) * np.ones(s.shape))
    with pytest.raises(TypeError, match="callback grad"):
        mg.rebar(complex_grad, D3, 4, seed=0)


@pytest.mark.parametrize(
    ("build", "name"),
    [
        (lambda: mg.Quadratic(0.45 + 0.1j), "target"),
        (lambda: mg.QuadraticForm(np.eye(3) * (1 + 1j)), "A"),
        (lambda: mg.QuadraticForm(np.eye(3), c=np.ones(3) * 1j), "c"),
        (lambda: D3.score(np.array([1, 0, 1]) + 0j), "b"),
        (lambda: D3.log_prob(np.array([1, 0, 1]) + 0j), "b"),
        (lambda: mg.rebar(QUAD, D3, 4, temperature=np.complex128(0.5)), "temperature"),
        (lambda: mg.rebar(QUAD, D3, 4, eta=np.complex128(1.0)), "eta"),
        (lambda: mg.tune(QUAD, D3, 4, temperatures=[0.5 + 1j]), "temperatures"),
        (lambda: implicit.implicit_grad([0.1], [1.0 + 1j], np.exp, np.exp), "theta"),
        (lambda: implicit.implicit_grad([0.1 + 1j], [1.0], np.exp, np.exp), "x"),
        (lambda: mg.reinforce(QUAD, D3, 4, baseline="moving_average", baseline_init=0.5j), "baseline_init"),
    ],
)
def test_complex_arguments_are_refused(build, name):
    with pytest.raises(TypeError, match=name):
        build()


# ---------------------------------------------------------------- values


@pytest.mark.parametrize(
    ("baseline_init", "match"),
    [
        (np.zeros(2), r"baseline_init must be a scalar or have shape \(1,\)"),
        (np.zeros((1, 1)), r"baseline_init must be a scalar or have shape \(1,\)"),
        (np.nan, "baseline_init must be finite"),
        (np.array([np.inf]), "baseline_init must be finite"),
    ],
)
def test_bad_baseline_init(baseline_init, match):
    with pytest.raises(ValueError, match=match):
        mg.reinforce(QUAD, D3, 4, baseline="moving_average", baseline_init=baseline_init, seed=0)


def test_baseline_init_per_row():
    rows = mg.Bernoulli(np.zeros((3, 2)))
    est = mg.reinforce(QUAD, rows, 4, baseline="moving_average", baseline_init=np.array([0.1, 0.2, 0.3]), seed=0)
    assert est.mean.shape == (3, 2)
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        mg.reinforce(QUAD, rows, 4, baseline="moving_average", baseline_init=np.zeros(2), seed=0)


@pytest.mark.parametrize("decay", ["0.9", None, True, np.nan])
def test_bad_decay(decay):
    with pytest.raises((TypeError, ValueError), match="decay"):
        mg.reinforce(QUAD, D3, 4, baseline="moving_average", decay=decay)


@pytest.mark.parametrize("temperature", [True, "0.5"])
def test_temperature_of_the_wrong_type(temperature):
    with pytest.raises(TypeError, match="temperature"):
        mg.rebar(QUAD, D3, 4, temperature=temperature)


@pytest.mark.parametrize("fd_step", [0.0, -1e-3, np.inf, np.nan])
def test_bad_fd_step(fd_step):
    with pytest.raises(ValueError, match="fd_step"):
        mg.OnlineTuner(fd_step=fd_step)
    # implicit_grad's central difference divided by 2 * fd_step = 0 (inf / NaN gradients)
    with pytest.raises(ValueError, match="fd_step"):
        implicit.implicit_grad([0.1], [1.0], lambda x, t: np.ones_like(x), lambda x, t: x * t[0], fd_step=fd_step)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"eta": np.nan}, "eta"),
        ({"eta": "1"}, "eta"),
        ({"learning_rate": np.inf}, "learning_rate"),
        ({"learning_rate": 0.0}, "learning_rate"),
    ],
)
def test_bad_online_tuner_settings(kwargs, match):
    with pytest.raises((TypeError, ValueError), match=match):
        mg.OnlineTuner(**kwargs)


# ---------------------------------------------------------------- OnlineTuner seeds


def _tuner_run(seed_factory, steps=3):
    tuner = mg.OnlineTuner(temperature=0.5, eta=1.0)
    means = [tuner.step(QUAD, D3, 16, seed=seed_factory()).mean for _ in range(steps)]
    return np.array(means), (tuner.temperature, tuner.eta)


def test_online_tuner_step_with_a_generator_is_reproducible_and_advances_it():
    gen_a = np.random.Generator(np.random.PCG64(5))
    gen_b = np.random.Generator(np.random.PCG64(5))
    means_a, state_a = _tuner_run(lambda: gen_a)
    means_b, state_b = _tuner_run(lambda: gen_b)
    np.testing.assert_array_equal(means_a, means_b)
    assert state_a == state_b
    # each step advanced the generator: the three steps used different noise
    assert not np.array_equal(means_a[0], means_a[1])
    assert not np.array_equal(means_a[1], means_a[2])
    # an int seed is reproducible too, and equals the SeedSequence of that int
    means_c, _ = _tuner_run(lambda: 11)
    means_d, _ = _tuner_run(lambda: np.random.SeedSequence(11))
    np.testing.assert_array_equal(means_c, means_d)


def test_online_tuner_checks_arguments_before_drawing_from_the_generator():
    gen = np.random.Generator(np.random.PCG64(5))
    state = gen.bit_generator.state
    tuner = mg.OnlineTuner()
    with pytest.raises(ValueError, match="n_samples"):
        tuner.step(QUAD, D3, 0, seed=gen)
    with pytest.raises(TypeError, match="n_samples"):
        tuner.step(QUAD, D3, 2.0, seed=gen)
    assert gen.bit_generator.state == state
    with pytest.raises(TypeError, match="seed"):
        tuner.step(QUAD, D3, 4, seed=1.5)
