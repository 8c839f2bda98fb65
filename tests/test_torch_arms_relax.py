"""mixgrad.torch Arms, DoubleCV and Relax: unbiased against exact enumeration (4 standard errors)
for the logits and for parameters f uses directly; Relax's control variate trained on the
variance without leaking into the model; the ARMS debiasing factor against a direct formula."""

import math

import mpmath as mp
import pytest

torch = pytest.importorskip("torch")
mt = pytest.importorskip("mixgrad.torch")
from _helpers_torch_discrete import F64, Z_TOL, bern_problem, cat_problem, exact_grad, parameter_z_scores, z_scores  # noqa: E402
from mixgrad.torch.arms import arms_constants  # noqa: E402


def _control_net(n_in, seed=0, event_dims=1):
    torch.manual_seed(seed)
    layers = [torch.nn.Flatten(-event_dims), torch.nn.Linear(n_in, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)]
    net = torch.nn.Sequential(*layers)
    return torch.nn.Sequential(net, torch.nn.Flatten(-2)).double()


@pytest.mark.parametrize(
    ("name", "est"),
    [
        ("arms n=2", lambda: mt.Arms(2)),
        ("arms n=3", lambda: mt.Arms(3)),
        ("arms n=6", lambda: mt.Arms(6)),
        ("double_cv", lambda: mt.DoubleCV("bernoulli")),
        ("relax", lambda: mt.Relax(_control_net(4), "bernoulli", temperature=0.4)),
    ],
)
def test_bernoulli_unbiased_against_enumeration(name, est):
    logits, f = bern_problem()
    exact = exact_grad(logits, f)
    out = est()(logits, f, n_samples=30000, generator=torch.Generator().manual_seed(3))
    assert out.grad_logits.shape == (30000, 4)
    assert out.surrogate.shape == (30000,)
    z = z_scores(out.grad_logits, exact)
    assert torch.all(z.abs() < Z_TOL), (name, z)


@pytest.mark.parametrize("name", ["double_cv", "relax"])
def test_categorical_unbiased_against_enumeration(name):
    logits, f = cat_problem()
    exact = exact_grad(logits, f, "categorical")
    if name == "double_cv":
        est = mt.DoubleCV("categorical", event_dims=2)
    else:
        est = mt.Relax(_control_net(8, event_dims=2), "categorical", event_dims=2)
    out = est(logits, f, n_samples=30000, generator=torch.Generator().manual_seed(4))
    z = z_scores(out.grad_logits, exact)
    assert torch.all(z.abs() < Z_TOL), z


def test_double_cv_and_arms_lower_variance_than_rloo_here():
    """Not a law, a regression check on this smooth problem: the Taylor control variate and the
    antithetic draws reduce variance against RLOO at equal evaluations of f (4 per group)."""
    logits, f = bern_problem()
    gen = torch.Generator()

    def var(est, n):
        g = est(logits, f, n_samples=n, generator=gen.manual_seed(11)).grad_logits
        return g.var(0).sum().item()

    # 4 evaluations per estimate: ARMS(4) over 5000 groups; RLOO/DoubleCV as 4-sample means
    v_arms = var(mt.Arms(4), 5000)
    v_rloo = var(mt.Rloo(), 20000) * 4.0  # variance of a mean of 4 leave-one-out terms ~ 1/4
    v_dcv = var(mt.DoubleCV(), 20000) * 4.0
    assert v_arms < v_rloo
    assert v_dcv < v_rloo


def test_arms_factor_matches_direct_formula():
    """1/(1 - rho) = theta (1 - theta) / (1 - theta - (1 - 2t)_+^(n-1)), in high precision."""
    alpha = torch.tensor([-30.0, -5.0, -0.7, 0.0, 0.4, 3.0, 12.0, 40.0], dtype=F64)
    for n in (2, 3, 5, 17):
        _, _, c = arms_constants(alpha, n)
        for a, cv in zip(alpha.tolist(), c.tolist()):
            with mp.workdps(50):
                th = 1 / (1 + mp.e ** (-mp.mpf(a)))
                tt = 1 - (1 - th) ** (mp.mpf(1) / (n - 1))
                p00 = max(1 - 2 * tt, 0) ** (n - 1)
                want = th * (1 - th) / (1 - th - p00)
            assert math.isclose(cv, float(want), rel_tol=1e-12), (n, a, cv, want)
        if n == 2:  # DisARM's factor
            torch.testing.assert_close(c, torch.sigmoid(alpha.abs()), rtol=1e-14, atol=0)


def test_arms_draws_are_bernoulli_and_antithetic():
    logits = torch.tensor([0.0, 1.5, -2.0], dtype=F64)
    out = mt.Arms(5)(logits, lambda s: s.sum(-1), n_samples=40000, generator=torch.Generator().manual_seed(2))
    b = out.sample
    p = torch.sigmoid(logits)
    se = (p * (1 - p) / b.shape[0]).sqrt()
    assert torch.all(((b.mean(0) - p) / se).abs() < Z_TOL)


def test_surrogate_gradient_unbiased_for_model_parameters():
    """Encoder weights (through the logits) and a decoder weight used directly by f."""
    estimators = (mt.Arms(3), mt.DoubleCV())
    for est, z in zip(estimators, parameter_z_scores(estimators, 40)):
        assert torch.all(z.abs() < Z_TOL), (type(est).__name__, z)


def test_relax_no_leakage_and_control_trained():
    """The model gets f's gradient at hard b plus J^T grad_logits; variance_backward reaches
    eta, log lambda and the control network only, and training it lowers the variance."""
    logits0, f = bern_problem()
    W = torch.eye(4, dtype=F64, requires_grad=True)
    est = mt.Relax(_control_net(4, seed=1), "bernoulli", eta=0.5)
    out = est(logits0 @ W, f, n_samples=256, generator=torch.Generator().manual_seed(5))
    out.surrogate.sum().backward()
    assert all(p.grad is None for p in est.control_parameters())
    torch.testing.assert_close(W.grad, logits0[:, None] * out.grad_logits.sum(0)[None, :], rtol=1e-13, atol=1e-13)
    W.grad = None
    est.variance_backward(out)
    assert W.grad is None
    assert all(p.grad is not None for p in est.control.parameters())

    ev = torch.Generator()

    def variance():
        with torch.no_grad():
            g = est(logits0, f, n_samples=5000, generator=ev.manual_seed(99)).grad_logits
        return g.var(0).sum().item()

    before = variance()
    opt = torch.optim.Adam(est.control_parameters(), lr=0.05)
    gen = torch.Generator().manual_seed(0)
    for _ in range(40):
        opt.zero_grad()
        est.variance_backward(est(logits0, f, n_samples=64, generator=gen))
        opt.step()
    after = variance()
    assert after < 0.8 * before, (before, after)


def test_argument_errors():
    logits, f = bern_problem()
    with pytest.raises(ValueError, match="n_draws"):
        mt.Arms(1)
    with pytest.raises(TypeError, match="n_draws"):
        mt.Arms(2.0)
    with pytest.raises(ValueError, match="n_samples"):
        mt.DoubleCV()(logits, f, n_samples=1)
    with pytest.raises(TypeError, match=r"torch\.nn\.Module"):
        mt.Relax(lambda z: z.sum(-1))
    with pytest.raises(ValueError, match="one value per sample"):
        mt.Arms(3)(logits, lambda s: s, n_samples=3)
