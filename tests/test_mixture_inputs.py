"""DiagGaussianMixture owns its parameters and refuses bad arguments before any work (issue 12,
items 9 and 12)."""

import numpy as np
import pytest

from mixgrad import DiagGaussianMixture


def _arrays(dtype=np.float64):
    return (
        np.array([0.3, -0.2], dtype=dtype),
        np.array([[-1.0, 0.5], [2.0, -0.5]], dtype=dtype),
        np.array([[1.0, 0.7], [0.4, 1.3]], dtype=dtype),
    )


def _log_prob_by_hand(logits, means, scales, x):
    """log sum_k w_k prod_d N(x_d; mu_kd, s_kd), with numpy in float64 (independent reference)."""
    logits, means, scales = (np.asarray(v, dtype=np.float64) for v in (logits, means, scales))
    lw = logits - np.logaddexp.reduce(logits)
    z = (x[:, None, :] - means[None]) / scales[None]
    comp = (-0.5 * z * z - np.log(scales)[None] - 0.5 * np.log(2 * np.pi)).sum(-1)
    return np.logaddexp.reduce(lw[None] + comp, axis=1)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_editing_the_callers_arrays_afterwards_changes_nothing(dtype):
    logits, means, scales = _arrays(dtype)
    kept = [v.copy() for v in (logits, means, scales)]
    mix = DiagGaussianMixture(logits, means, scales)
    x = np.array([[0.1, 0.2], [-1.0, 0.4], [2.5, -0.3]])
    before = mix.log_prob(x)
    # The report: scales[0] = -1 made log_prob -inf, bypassing the validation.
    scales[0] = -1.0
    means[1] = np.nan
    logits[:] = np.inf
    after = mix.log_prob(x)
    np.testing.assert_array_equal(after, before)
    assert np.all(np.isfinite(after))
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(after, _log_prob_by_hand(*kept, x.astype(dtype).astype(np.float64)), rtol=rtol)
    # the parameters kept their dtype and are read-only, for views handed out and internally
    assert mix.dtype == dtype
    for view in (mix.logits, mix.means, mix.scales):
        assert view.dtype == dtype
        assert not view.flags.writeable
        with pytest.raises(ValueError, match="read-only"):
            view[...] = 0


def test_parameters_are_copies_even_for_contiguous_inputs_of_the_right_dtype():
    logits, means, scales = _arrays()
    mix = DiagGaussianMixture(logits, means, scales)
    for view, src in zip((mix.logits, mix.means, mix.scales), (logits, means, scales)):
        assert not np.shares_memory(view, src)


def test_read_only_inputs_are_accepted():
    logits, means, scales = _arrays()
    for v in (logits, means, scales):
        v.setflags(write=False)
    mix = DiagGaussianMixture(logits, means, scales)
    assert mix.sample(3, seed=0).shape == (3, 2)
