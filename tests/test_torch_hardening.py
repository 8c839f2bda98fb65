"""The torch adapter keeps its promises (issue 12, items 12 and 14; issue 13): second
derivatives through ``rsample`` are right (they once came back as zeros, then raised), ``expand``
keeps the subclass, and bad arguments are refused with messages naming them."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
mt = pytest.importorskip("mixgrad.torch")

F64 = torch.float64


def _params():
    a = torch.tensor([0.2, -0.3], dtype=F64, requires_grad=True)
    m = torch.tensor([[-1.0, 0.5], [1.5, -0.5]], dtype=F64, requires_grad=True)
    s = torch.tensor([[1.0, 0.7], [0.6, 1.2]], dtype=F64, requires_grad=True)
    return a, m, s


def _central_hessian(f, v, h=1e-4):
    """Second derivatives of f (a float function of a flat tensor) by central differences."""
    n = v.numel()
    out = torch.empty(n, n, dtype=F64)
    for i in range(n):
        for j in range(n):
            vals = []
            for si, sj in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
                w = v.detach().clone()
                w[i] += si * h
                w[j] += sj * h
                vals.append(float(f(w).detach()))
            out[i, j] = (vals[0] - vals[1] - vals[2] + vals[3]) / (4 * h * h)
    return out


@pytest.mark.parametrize("backend", ["core", "native"])
def test_hessian_through_rsample_is_not_zero_and_matches_differences(backend):
    a, m, s = _params()

    def loss(logits):
        q = mt.DiagGaussianMixture(logits, m, s, method="quantile", backend=backend)
        kw = {"seed": 3} if backend == "core" else {"generator": torch.Generator().manual_seed(3)}
        return (q.rsample((5,), **kw) ** 2).sum()

    # the old backward (once_differentiable) gave tensor([[0, 0], [0, 0]]) here, without a word
    hess = torch.autograd.functional.hessian(loss, a.detach())
    assert hess.abs().max() > 0.1
    torch.testing.assert_close(hess, _central_hessian(loss, a.detach()), rtol=1e-5, atol=1e-6)


def test_gradient_of_a_gradient_is_right():
    a, m, s = _params()
    x = mt.DiagGaussianMixture(a, m, s, method="quantile").rsample((5,), seed=3)
    ga, gm, gs = torch.autograd.grad((x**2).sum(), (a, m, s), create_graph=True)
    # first derivatives under create_graph=True (torch ops) equal the core's (no graph)
    x0 = mt.DiagGaussianMixture(a, m, s, method="quantile").rsample((5,), seed=3)
    ref = torch.autograd.grad((x0**2).sum(), (a, m, s))
    for got, want in zip((ga, gm, gs), ref):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    # d/dmeans of (sum of the first derivatives), against differences of those derivatives
    second = torch.autograd.grad(ga.sum() + gm.sum() + gs.sum(), m)[0]

    def first(means):
        xx = mt.DiagGaussianMixture(a, means, s, method="quantile").rsample((5,), seed=3)
        return sum(g.sum() for g in torch.autograd.grad((xx**2).sum(), (a, means, s)))

    h = 1e-6
    fd = torch.empty_like(m)
    for idx in np.ndindex(*m.shape):
        up, down = m.detach().clone(), m.detach().clone()
        up[idx] += h
        down[idx] -= h
        fd[idx] = (first(up.requires_grad_()) - first(down.requires_grad_())) / (2 * h)
    torch.testing.assert_close(second, fd, rtol=1e-6, atol=1e-7)


def test_hessian_vector_product_runs():
    a, m, s = _params()

    def loss(means):
        return mt.DiagGaussianMixture(a, means, s, method="quantile").rsample((4,), seed=1).sin().sum()

    _value, hvp = torch.autograd.functional.hvp(loss, m.detach(), torch.ones_like(m))
    assert hvp.shape == m.shape
    assert torch.isfinite(hvp).all()


def test_first_derivatives_still_work_without_create_graph():
    a, m, s = _params()
    x = mt.DiagGaussianMixture(a, m, s, method="quantile").rsample((6,), seed=2)
    (x**2).sum().backward()
    assert all(t.grad is not None and torch.isfinite(t.grad).all() for t in (a, m, s))


class _Tagged(mt.DiagGaussianMixture):
    """A subclass, as a user would write one (no __init__ of its own)."""

    def tag(self):
        return "tagged"


def test_expand_keeps_the_subclass():
    a, m, s = _params()
    q = _Tagged(a, m, s, method="quantile", validate_args=True)
    e = q.expand((3,))
    # torch's own distributions keep the subclass; the old expand returned the base class
    assert type(e) is _Tagged
    assert e.tag() == "tagged"
    assert e.batch_shape == (3,)
    assert e.method == "quantile"
    assert e._validate_args
    x = e.rsample((2,), seed=4)
    assert x.shape == (2, 3, 2)
    # the expanded mixture samples what the unexpanded one would, batch row by batch row
    ref = mt.DiagGaussianMixture(a.expand(3, 2), m.expand(3, 2, 2), s.expand(3, 2, 2), method="quantile").rsample(
        (2,), seed=4
    )
    torch.testing.assert_close(x, ref, rtol=0, atol=0)
    torch.testing.assert_close(e.log_prob(x), q.log_prob(x), rtol=0, atol=0)


def test_expand_with_torch_instance_protocol():
    a, m, s = _params()
    q = mt.DiagGaussianMixture(a, m, s)
    e = q.expand(torch.Size([4]))
    assert type(e) is mt.DiagGaussianMixture
    assert e.means.shape == (4, 2, 2)


@pytest.mark.parametrize(
    ("sample_shape", "exc", "match"),
    [
        ((2**64,), ValueError, "sample_shape"),
        ((2**63,), ValueError, "sample_shape"),
        ((2**31, 2**31), ValueError, "sample_shape"),
        ((-1,), ValueError, "sample_shape"),
        ((2.5,), TypeError, "sample_shape"),
        ((True,), TypeError, "sample_shape"),
    ],
)
def test_rsample_bad_sample_shapes_name_sample_shape(sample_shape, exc, match):
    a, m, s = _params()
    with pytest.raises(exc, match=match):
        mt.DiagGaussianMixture(a, m, s).rsample(sample_shape, seed=0)


@pytest.mark.parametrize(
    ("build", "exc", "match"),
    [
        (lambda: mt.Rebar(temperature=True), TypeError, "temperature"),
        (lambda: mt.Concrete(temperature=True), TypeError, "temperature"),
        (lambda: mt.Rebar(temperature=np.nan), ValueError, "temperature"),
        (lambda: mt.Rebar(eta=1j), TypeError, "eta"),
        (lambda: mt.Rebar(eta=[[1.0]]), ValueError, "eta"),
        (lambda: mt.Reinforce(decay="0.9"), TypeError, "decay"),
        (lambda: mt.Reinforce(decay=np.nan), ValueError, "decay"),
    ],
)
def test_bad_estimator_settings_name_the_argument(build, exc, match):
    with pytest.raises(exc, match=match):
        build()
