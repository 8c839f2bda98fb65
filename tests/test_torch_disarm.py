"""mixgrad.torch Disarm and Rloo: unbiased against exact enumeration (4 standard errors), for the
logits and for parameters f uses directly; agreement with the numpy/C++ estimators' formula."""

import pytest

torch = pytest.importorskip("torch")
mt = pytest.importorskip("mixgrad.torch")
from _helpers_torch_discrete import F64, Z_TOL, bern_problem, exact_grad, parameter_z_scores, z_scores  # noqa: E402


@pytest.mark.parametrize("name", ["disarm", "rloo"])
def test_unbiased_against_enumeration(name):
    logits, f = bern_problem()
    exact = exact_grad(logits, f)
    est = mt.Disarm() if name == "disarm" else mt.Rloo("bernoulli")
    out = est(logits, f, n_samples=40000, generator=torch.Generator().manual_seed(3))
    assert out.grad_logits.shape == (40000, 4)
    assert out.surrogate.shape == (40000,)
    z = z_scores(out.grad_logits, exact)
    assert torch.all(z.abs() < Z_TOL), z


def test_rloo_categorical_unbiased():
    logits = torch.tensor([[0.3, -1.0, 2.0, 0.0], [1.0, 0.0, -0.5, 0.2]], dtype=F64)
    W = torch.randn(2, 4, dtype=F64, generator=torch.Generator().manual_seed(5))

    def f(s):
        return torch.cos((s * W).sum((-1, -2)))

    exact = exact_grad(logits, f, "categorical")
    out = mt.Rloo("categorical", event_dims=2)(logits, f, n_samples=40000, generator=torch.Generator().manual_seed(4))
    z = z_scores(out.grad_logits, exact)
    assert torch.all(z.abs() < Z_TOL), z


def test_disarm_surrogate_gradient_unbiased_for_model_parameters():
    """Encoder weights (through the logits) and a decoder weight used directly by f."""
    (z,) = parameter_z_scores([mt.Disarm()], 60)
    assert torch.all(z.abs() < Z_TOL), z


def test_disarm_formula_and_errors():
    logits, f = bern_problem()
    out = mt.Disarm()(logits, f, n_samples=64, generator=torch.Generator().manual_seed(1))
    # grad = 1/2 (f(b) - f(b~)) (b - b~) sigmoid(|alpha|): b~ differs from b exactly where the
    # gradient is non-zero (f(b) != f(b~) for this f whenever the pair differs)
    g, b = out.grad_logits, out.sample
    bt = torch.where(g != 0, 1.0 - b, b)
    expect = 0.5 * (f(b) - f(bt))[:, None] * (b - bt) * torch.sigmoid(logits.abs())
    torch.testing.assert_close(g, expect, rtol=1e-12, atol=0.0)
    assert (g != 0).any()
    assert g.dtype == F64
    with pytest.raises(TypeError, match=r"torch\.Tensor"):
        mt.Disarm()([0.0, 1.0], f)
    with pytest.raises(ValueError, match="one value per sample"):
        mt.Disarm()(logits, lambda s: s, n_samples=3)
    with pytest.raises(ValueError, match="n_samples >= 2"):
        mt.Rloo()(logits, f, n_samples=1)


def test_disarm_categorical_unbiased_for_logits_and_parameters():
    # Rows of class logits (event_dims = 2, classes last), one logit large; f also uses a weight
    # c directly. Truth: autograd through exact enumeration.
    logits = torch.tensor([[0.3, -1.0, 2.0, 0.0], [1.0, 6.0, -0.5, 0.2]], dtype=F64, requires_grad=True)
    c = torch.tensor([0.7, -0.2, 1.1, 0.4], dtype=F64, requires_grad=True)
    W = torch.randn(2, 4, dtype=F64, generator=torch.Generator().manual_seed(5))

    def f(s):
        return torch.cos((s * W).sum((-1, -2))) + ((s @ c) ** 2).sum(-1)

    truth = torch.autograd.grad(mt.exact_expectation(logits, f, "categorical"), (logits, c))
    gen = torch.Generator().manual_seed(6)
    est = mt.Disarm("categorical", event_dims=2)
    reps = []
    for _ in range(40):
        out = est(logits, f, n_samples=1000, generator=gen)
        ga, gc = torch.autograd.grad(out.surrogate.mean(), (logits, c))
        reps.append(torch.cat([ga.flatten(), gc]))
    z = z_scores(torch.stack(reps), torch.cat([truth[0].flatten(), truth[1]]))
    assert torch.all(z.abs() < Z_TOL), z
    # one-hot draws; the estimate sums to 0 over the classes (softmax invariance)
    assert torch.all(out.sample.sum(-1) == 1)
    torch.testing.assert_close(out.grad_logits.sum(-1), torch.zeros(1000, 2, dtype=F64), rtol=0, atol=1e-12)


def test_disarm_categorical_k2_is_bernoulli_on_the_logit_difference():
    # K = 2 with the same uniforms: g_alpha = (g, -g), g the Bernoulli estimate on alpha_0 - alpha_1
    # (class 0 is the Bernoulli's 1).
    from mixgrad.torch.disarm import categorical_disarm_grad

    alpha = torch.tensor([[0.4, -1.1], [2.0, 2.5], [-3.0, 1.0]], dtype=F64)
    u = torch.rand(3, 2, dtype=F64, generator=torch.Generator().manual_seed(2))
    fb, fbt = torch.tensor([[1.0], [0.5], [-2.0]], dtype=F64), torch.tensor([[0.2], [1.5], [0.3]], dtype=F64)
    g = categorical_disarm_grad(alpha, u, fb, fbt)
    beta = alpha[:, 0] - alpha[:, 1]
    th = torch.sigmoid(beta)
    bern = 0.5 * (fb[:, 0] - fbt[:, 0]) * ((u[:, 0] < th).double() - (1 - u[:, 0] < th).double())
    bern = bern * torch.sigmoid(beta.abs())
    torch.testing.assert_close(g, torch.stack([bern, -bern], dim=1), rtol=1e-14, atol=0.0)


def test_disarm_categorical_errors():
    with pytest.raises(ValueError, match="K >= 2"):
        mt.Disarm("categorical")(torch.zeros(3, 1, dtype=F64), lambda s: s.sum(-1))
    with pytest.raises(ValueError, match="kind must be"):
        mt.Disarm("poisson")
