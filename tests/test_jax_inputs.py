"""mixgrad.jax.rsample refuses bad parameters and sample shapes up front with a ValueError /
TypeError naming the argument, instead of an internal callback error (issue 12, item 12)."""

import numpy as np
import pytest

jax = pytest.importorskip("jax")
mj = pytest.importorskip("mixgrad.jax")


def _params():
    a = np.array([0.1, -0.4], np.float32)
    m = np.array([[-1.0, 0.0], [1.0, 2.0]], np.float32)
    s = np.array([[1.0, 0.5], [0.7, 1.2]], np.float32)
    return a, m, s


def _with(name, value):
    a, m, s = _params()
    p = {"logits": a, "means": m, "scales": s}
    p[name] = p[name].copy()
    p[name].reshape(-1)[1] = value
    return p["logits"], p["means"], p["scales"]


BAD_VALUES = [
    ("scales", -1.0, "scales"),
    ("scales", 0.0, "scales"),
    ("scales", np.inf, "scales"),
    ("means", np.nan, "means"),
    ("means", -np.inf, "means"),
    ("logits", np.nan, "logits"),
    ("logits", np.inf, "logits"),
]


@pytest.mark.parametrize(("name", "value", "match"), BAD_VALUES)
def test_bad_parameter_values_raise_valueerror_naming_them(name, value, match):
    a, m, s = _with(name, value)
    with pytest.raises(ValueError, match=match):
        mj.rsample(a, m, s, 0, (3,))


@pytest.mark.parametrize(("name", "value", "match"), BAD_VALUES[:2])
def test_bad_parameter_values_under_grad_raise_valueerror(name, value, match):
    a, m, s = _with(name, value)
    with pytest.raises(ValueError, match=match):
        jax.grad(lambda scales: mj.rsample(a, m, scales, 0, (3,)).sum())(s)


@pytest.mark.parametrize(
    ("sample_shape", "exc"),
    [((2.5,), TypeError), ((True,), TypeError), ((-1,), ValueError), ((2**63,), ValueError), ((2**64,), ValueError)],
)
def test_bad_sample_shapes_name_sample_shape(sample_shape, exc):
    # 2.5 was silently truncated to 2; -1 and 2**63 failed deep inside MLIR
    with pytest.raises(exc, match="sample_shape"):
        mj.rsample(*_params(), 0, sample_shape)


def test_a_minus_inf_logit_is_a_valid_zero_weight():
    a, m, s = _with("logits", -np.inf)
    x = np.asarray(mj.rsample(a, m, s, 0, (200,)))
    assert x.shape == (200, 2)
    # every sample comes from component 0 (mean (-1, 0), scales (1, 0.5)): none near (1, 2)
    assert np.all(np.isfinite(x))
    assert abs(x[:, 1].mean()) < 4 * 0.5 / np.sqrt(200)


def test_under_jit_the_core_still_names_the_argument():
    """Under jax.jit the values are only known when the callback runs; the core's ValueError
    then arrives in JAX's runtime error, still naming the argument."""
    a, m, s = _with("scales", -1.0)
    runtime_error = getattr(jax.errors, "JaxRuntimeError", RuntimeError)
    with pytest.raises(runtime_error, match=r"ValueError: scales must be finite and > 0"):
        jax.block_until_ready(jax.jit(lambda scales: mj.rsample(a, m, scales, 0, (3,)))(s))
