"""mixgrad.torch.GaussianMixture: rsample's gradients against the numpy vjp and against
torch.autograd.gradcheck (finite differences of the quantile method), log_prob against torch's
MixtureSameFamily(MultivariateNormal), seeds, errors."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import mixgrad  # noqa: E402
from mixgrad.torch import GaussianMixture  # noqa: E402


def params(seed, batch=(), K=3, D=3, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(*batch, K, generator=g, dtype=dtype)
    means = 2 * torch.randn(*batch, K, D, generator=g, dtype=dtype)
    off = 0.5 * torch.randn(*batch, K, D, D, generator=g, dtype=dtype).tril(-1)
    diag = torch.exp(0.4 * torch.randn(*batch, K, D, generator=g, dtype=dtype))
    return logits, means, off + torch.diag_embed(diag)


def test_rsample_gradient_equals_numpy_vjp():
    a, m, t = (p.requires_grad_() for p in params(0, (2,)))
    x = GaussianMixture(a, m, t).rsample((50,), seed=3)
    gx = torch.sin(x.detach())
    (x * gx).sum().backward()
    ref = mixgrad.GaussianMixture(a.detach().numpy(), m.detach().numpy(), t.detach().numpy())
    np.testing.assert_array_equal(x.detach().numpy(), ref.sample(50, seed=3))
    v = ref.vjp(x.detach().numpy(), gx.numpy())
    np.testing.assert_allclose(a.grad.numpy(), v.logits, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(m.grad.numpy(), v.means, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(t.grad.numpy(), v.scale_tril, rtol=1e-12, atol=1e-12)


def test_gradcheck_of_the_quantile_method():
    a, m, t = params(1, (), K=2, D=3)
    off = t.tril(-1).detach().requires_grad_()
    logd = torch.log(torch.diagonal(t, dim1=-2, dim2=-1)).detach().requires_grad_()
    a.requires_grad_()
    m.requires_grad_()

    def f(a, m, off, logd):
        tril = off.tril(-1) + torch.diag_embed(torch.exp(logd))
        return GaussianMixture(a, m, tril, method="quantile").rsample((4,), seed=5)

    assert torch.autograd.gradcheck(f, (a, m, off, logd), eps=1e-6, atol=1e-6, rtol=1e-5)


def test_log_prob_against_torch_mixture_same_family():
    a, m, t = params(2, (4,), K=3, D=4)
    ours = GaussianMixture(a, m, t)
    ref = torch.distributions.MixtureSameFamily(
        torch.distributions.Categorical(logits=a), torch.distributions.MultivariateNormal(m, scale_tril=t)
    )
    x = ref.sample((6,))
    torch.testing.assert_close(ours.log_prob(x), ref.log_prob(x), rtol=1e-12, atol=1e-12)
    assert ours.rsample((6,)).shape == (6, 4, 4)


def test_second_derivative_raises_and_errors():
    a, m, t = (p.requires_grad_() for p in params(3))
    x = GaussianMixture(a, m, t).rsample((3,), seed=1)
    (gm,) = torch.autograd.grad((x**2).sum(), m, create_graph=True)
    with pytest.raises(RuntimeError, match="second derivatives"):
        gm.sum().backward()
    with pytest.raises(TypeError, match="scale_tril"):
        GaussianMixture(a, m, t.float())
    with pytest.raises(ValueError, match="scale_tril"):
        GaussianMixture(a, m, t[..., :2])
    with pytest.raises(ValueError, match="method"):
        GaussianMixture(a, m, t, method="nope")
    upper = t.detach().clone()
    upper[0, 0, 1] = 1.0
    with pytest.raises(ValueError, match="scale_tril"):
        GaussianMixture(a.detach(), m.detach(), upper).rsample((2,))
    e = GaussianMixture(a, m, t).expand((5,))
    assert e.rsample(seed=0).shape == (5, 3)
