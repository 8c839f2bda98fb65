"""mixgrad.torch Disarm and Rloo: unbiased against exact enumeration (4 standard errors), for the
logits and for parameters f uses directly; agreement with the numpy/C++ estimators' formula."""

import pytest

torch = pytest.importorskip("torch")
mt = pytest.importorskip("mixgrad.torch")

F64 = torch.float64
Z_TOL = 4.0


def _problem():
    logits = torch.tensor([0.3, -1.0, 2.0, -3.0], dtype=F64)
    w = torch.tensor([1.0, -2.0, 0.5, 1.5], dtype=F64)

    def f(s):
        return torch.sin(s @ w) + 0.3 * (s * s).sum(-1) + s[..., 0] * s[..., 2]

    return logits, f


def _exact_grad(logits, f, kind="bernoulli"):
    x = logits.clone().requires_grad_(True)
    return torch.autograd.grad(mt.exact_expectation(x, f, kind), x)[0]


def _z(g, exact):
    return (g.mean(0) - exact) / (g.std(0) / g.shape[0] ** 0.5)


@pytest.mark.parametrize("name", ["disarm", "rloo"])
def test_unbiased_against_enumeration(name):
    logits, f = _problem()
    exact = _exact_grad(logits, f)
    est = mt.Disarm() if name == "disarm" else mt.Rloo("bernoulli")
    out = est(logits, f, n_samples=40000, generator=torch.Generator().manual_seed(3))
    assert out.grad_logits.shape == (40000, 4)
    assert out.surrogate.shape == (40000,)
    z = _z(out.grad_logits, exact)
    assert torch.all(z.abs() < Z_TOL), z


def test_rloo_categorical_unbiased():
    logits = torch.tensor([[0.3, -1.0, 2.0, 0.0], [1.0, 0.0, -0.5, 0.2]], dtype=F64)
    W = torch.randn(2, 4, dtype=F64, generator=torch.Generator().manual_seed(5))

    def f(s):
        return torch.cos((s * W).sum((-1, -2)))

    exact = _exact_grad(logits, f, "categorical")
    out = mt.Rloo("categorical", event_dims=2)(logits, f, n_samples=40000, generator=torch.Generator().manual_seed(4))
    z = _z(out.grad_logits, exact)
    assert torch.all(z.abs() < Z_TOL), z


def test_disarm_surrogate_gradient_unbiased_for_model_parameters():
    """Encoder weights (through the logits) and a decoder weight used directly by f."""
    gen = torch.Generator().manual_seed(7)
    W = torch.tensor([[0.5, -0.3, 0.8], [0.2, 0.4, -1.0]], dtype=F64, requires_grad=True)
    x = torch.tensor([1.0, -0.5], dtype=F64)
    c = torch.tensor([0.7, -0.2, 1.1], dtype=F64, requires_grad=True)

    def f(s):
        return torch.tanh(s @ c) + (s * c).sum(-1) ** 2

    truth = torch.autograd.grad(mt.exact_expectation(x @ W, f, "bernoulli"), (W, c))
    est = mt.Disarm()
    reps = []
    for _ in range(60):
        out = est(x @ W, f, n_samples=500, generator=gen)
        gW, gc = torch.autograd.grad(out.surrogate.mean(), (W, c))
        reps.append(torch.cat([gW.flatten(), gc]))
    z = _z(torch.stack(reps), torch.cat([truth[0].flatten(), truth[1]]))
    assert torch.all(z.abs() < Z_TOL), z


def test_disarm_formula_and_errors():
    logits, f = _problem()
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
