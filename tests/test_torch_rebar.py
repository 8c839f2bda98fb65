"""mixgrad.torch discrete estimators: unbiasedness against exact enumeration, H(z~) = b,
no leakage of control-variate gradients, variance gradient reaching eta/log lambda."""

import importlib
import sys

import pytest

torch = pytest.importorskip("torch")
mt = pytest.importorskip("mixgrad.torch")
from _helpers_torch_discrete import F64, Z_TOL, bern_problem, cat_problem, exact_grad, parameter_z_scores, z_scores  # noqa: E402
from mixgrad.torch import noise  # noqa: E402

ESTIMATORS = {
    "rebar": lambda kind, ev: mt.Rebar(kind, eta=0.7, temperature=0.4, event_dims=ev),
    "rebar_eta_vector": lambda kind, ev: mt.Rebar(
        kind, eta=[0.5, 1.0, 1.5] if kind == "bernoulli" else 1.3, event_dims=ev
    ),
    "rebar_coupled": lambda kind, ev: mt.Rebar(kind, coupled=True, event_dims=ev),
    "reinforce_none": lambda kind, ev: mt.Reinforce(kind, baseline="none", event_dims=ev),
    "reinforce_loo": lambda kind, ev: mt.Reinforce(kind, baseline="leave_one_out", event_dims=ev),
}


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
@pytest.mark.parametrize("kind", ["bernoulli", "categorical"])
def test_unbiased_against_enumeration(name, kind):
    logits, f = bern_problem(3) if kind == "bernoulli" else cat_problem()
    ev = 1 if kind == "bernoulli" else 2
    exact = exact_grad(logits, f, kind)
    est = ESTIMATORS[name](kind, ev)
    gen = torch.Generator().manual_seed(11)
    out = est(logits, f, n_samples=40000, generator=gen)
    z = z_scores(out.grad_logits, exact)
    assert torch.all(z.abs() < Z_TOL), z


def test_reinforce_moving_average_unbiased():
    logits, f = bern_problem(3)
    exact = exact_grad(logits, f, "bernoulli")
    est = mt.Reinforce("bernoulli", baseline="moving_average", decay=0.9)
    gen = torch.Generator().manual_seed(3)
    gs = [est(logits, f, n_samples=400, generator=gen).grad_logits for _ in range(50)]
    z = z_scores(torch.cat(gs), exact)
    assert torch.all(z.abs() < Z_TOL), z


def test_concrete_is_biased_but_shares_the_interface():
    logits, f = bern_problem(3)
    exact = exact_grad(logits, f, "bernoulli")
    out = mt.Concrete(temperature=0.5)(logits, f, n_samples=40000, generator=torch.Generator().manual_seed(1))
    assert out.grad_logits.shape == (40000, 3)
    assert out.surrogate.shape == (40000,)
    # relaxed estimator: its mean is the gradient of the relaxed objective, not of E[f(b)]
    assert z_scores(out.grad_logits, exact).abs().max() > 10


def test_surrogate_gradient_unbiased_for_model_parameters():
    """Encoder weights (through the logits) and a decoder weight used directly by f."""
    (z,) = parameter_z_scores([mt.Rebar("bernoulli", eta=0.9, temperature=0.5)], 60)
    assert torch.all(z.abs() < Z_TOL), z


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("coupled", [False, True])
def test_conditional_noise_reproduces_b(dtype, coupled):
    gen = torch.Generator().manual_seed(2)
    a = torch.tensor([-30.0, -8.0, -1.0, 0.0, 0.5, 3.0, 30.0], dtype=dtype).repeat(50000, 1)
    u = noise.uniform(a.shape, dtype=dtype, device="cpu", generator=gen)
    _z, b = noise.bernoulli_noise(a, u)
    v = (
        noise.bernoulli_coupled_uniform(a, u, b)
        if coupled
        else noise.uniform(a.shape, dtype=dtype, device="cpu", generator=gen)
    )
    zt = noise.bernoulli_conditional_noise(a, b, v)
    assert torch.equal((zt > 0).to(dtype), b)
    ac = a
    _zc, bc = noise.categorical_noise(ac, u)
    vc = noise.categorical_coupled_uniform(ac, u, bc) if coupled else v
    ztc = noise.categorical_conditional_noise(ac, bc, vc)
    assert torch.equal(ztc.argmax(-1), bc.argmax(-1))


def test_bernoulli_conditional_derivative_matches_design_formula():
    a = torch.linspace(-4, 4, 9, dtype=F64).requires_grad_(True)
    gen = torch.Generator().manual_seed(4)
    v = noise.uniform(a.shape, dtype=F64, device="cpu", generator=gen)
    for bval in (0.0, 1.0):
        b = torch.full_like(a, bval)
        (d,) = torch.autograd.grad(noise.bernoulli_conditional_noise(a, b, v).sum(), a)
        th = torch.sigmoid(a.detach())
        up = v * (1 - th) if bval == 0 else (1 - th) + v * th
        dup = -v if bval == 0 else -(1 - v)
        expected = 1 + dup * th * (1 - th) / (up * (1 - up))
        torch.testing.assert_close(d, expected, rtol=1e-12, atol=1e-12)
        zt = noise.bernoulli_conditional_noise(a.detach(), b, v)
        torch.testing.assert_close(zt, a.detach() + torch.log(up) - torch.log1p(-up))


def test_no_leakage_into_model_parameters():
    """Model gradients must be f's own gradient at hard b plus J^T grad_logits, for any eta."""
    W = torch.tensor([[0.5, -0.3, 0.8], [0.2, 0.4, -1.0]], dtype=F64, requires_grad=True)
    c = torch.tensor([0.7, -0.2, 1.1], dtype=F64, requires_grad=True)
    x = torch.tensor([[1.0, -0.5], [0.3, 2.0], [-1.0, 0.1]], dtype=F64)

    def f(s):
        return torch.tanh(s @ c) * 3 + (s * c).sum(-1) ** 2

    grads = []
    for eta in (0.0, 2.5):
        est = mt.Rebar("bernoulli", eta=eta, temperature=0.3)
        out = est(x @ W, f, generator=torch.Generator().manual_seed(9))
        out.surrogate.sum().backward()
        assert est.eta.grad is None
        assert est.log_temperature.grad is None
        gW, gc = W.grad.clone(), c.grad.clone()
        W.grad = None
        c.grad = None
        # c enters only through f at the hard sample
        (gc_hard,) = torch.autograd.grad(f(out.sample).sum(), c)
        torch.testing.assert_close(gc, gc_hard, rtol=1e-13, atol=1e-13)
        # W only through the logits, with the detached per-sample estimate
        torch.testing.assert_close(gW, x.T @ out.grad_logits, rtol=1e-13, atol=1e-13)
        # the variance backward touches only eta and log lambda
        est.variance_backward(out)
        assert W.grad is None
        assert c.grad is None
        assert est.eta.grad is not None
        assert est.log_temperature.grad is not None
        grads.append(gc)
    torch.testing.assert_close(grads[0], grads[1])  # same noise, eta changes nothing for c


def test_variance_gradient_reaches_eta_and_matches_finite_differences():
    logits, f = bern_problem(3)

    def var_at(eta, log_t):
        est = mt.Rebar("bernoulli", eta=eta)
        with torch.no_grad():
            est.log_temperature.fill_(log_t)
        out = est(logits, f, n_samples=64, generator=torch.Generator().manual_seed(21))
        return est, out

    est, out = var_at(0.8, -0.7)
    est.variance_backward(out)
    g_eta, g_lt = est.eta.grad.item(), est.log_temperature.grad.item()
    assert g_eta != 0.0
    assert g_lt != 0.0
    h = 1e-5
    fd_eta = (var_at(0.8 + h, -0.7)[1].variance_loss - var_at(0.8 - h, -0.7)[1].variance_loss) / (2 * h)
    fd_lt = (var_at(0.8, -0.7 + h)[1].variance_loss - var_at(0.8, -0.7 - h)[1].variance_loss) / (2 * h)
    assert abs(g_eta - fd_eta.item()) < 1e-6 * max(1.0, abs(g_eta))
    assert abs(g_lt - fd_lt.item()) < 1e-6 * max(1.0, abs(g_lt))


def test_online_tuning_reduces_variance():
    """Gradient descent on the estimated variance moves eta from a poor start toward eta*."""
    logits, f = bern_problem(3)
    est = mt.Rebar("bernoulli", eta=-1.0, temperature=0.5)
    opt = torch.optim.Adam(est.parameters(), lr=0.05)
    gen = torch.Generator().manual_seed(0)
    ev = torch.Generator()

    def variance():
        with torch.no_grad():
            g = est(logits, f, n_samples=20000, generator=ev.manual_seed(99)).grad_logits
        return g.var(0).sum().item()

    before = variance()
    for _ in range(150):
        opt.zero_grad()
        est.variance_backward(est(logits, f, n_samples=64, generator=gen))
        opt.step()
    after = variance()
    assert after < 0.7 * before, (before, after, est.eta.item())


def test_argument_errors():
    logits, f = bern_problem(3)
    with pytest.raises(ValueError, match="kind"):
        mt.Rebar("poisson")
    with pytest.raises(ValueError, match="temperature"):
        mt.Rebar(temperature=0.0)
    with pytest.raises(ValueError, match="baseline"):
        mt.Reinforce(baseline="mean")
    with pytest.raises(ValueError, match="n_samples"):
        mt.Reinforce(baseline="leave_one_out")(logits, f)
    with pytest.raises(ValueError, match="n_samples"):
        mt.Rebar()(logits, f, n_samples=0)
    with pytest.raises(TypeError, match="logits"):
        mt.Rebar()([0.1, 0.2], f)
    with pytest.raises(ValueError, match="one value per sample"):
        mt.Rebar()(logits, lambda s: s)
    est = mt.Rebar(tune=False)
    out = est(logits, f)
    with pytest.raises(ValueError, match="variance_loss"):
        est.variance_backward(out)


def test_global_generator_reproducible():
    logits, f = bern_problem(3)
    torch.manual_seed(123)
    a = mt.Rebar()(logits, f, n_samples=5).grad_logits
    torch.manual_seed(123)
    b = mt.Rebar()(logits, f, n_samples=5).grad_logits
    assert torch.equal(a, b)


def test_import_error_names_the_extra(monkeypatch):
    for name in list(sys.modules):
        if name == "mixgrad.torch" or name.startswith("mixgrad.torch."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ImportError, match=r"mixgrad\[torch\]"):
        importlib.import_module("mixgrad.torch")
