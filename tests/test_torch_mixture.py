"""mixgrad.torch.DiagGaussianMixture: gradcheck, bit-for-bit agreement with the numpy API,
reproducibility, log_prob/mean, unbiased gradients, errors."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
mt = pytest.importorskip("mixgrad.torch")
import mixgrad  # noqa: E402

F64 = torch.float64


def _params(batch=(), K=3, D=2, dtype=F64, seed=0):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(*batch, K, dtype=dtype, generator=g)
    m = 2 * torch.randn(*batch, K, D, dtype=dtype, generator=g)
    s = 0.5 + torch.rand(*batch, K, D, dtype=dtype, generator=g)
    return [t.requires_grad_(True) for t in (a, m, s)]


def _np(*ts):
    return [t.detach().numpy() for t in ts]


@pytest.mark.parametrize(("batch", "K", "D"), [((), 3, 2), ((2,), 4, 3), ((), 1, 1), ((2, 1), 2, 1)])
def test_gradcheck_quantile_path(batch, K, D):
    a, m, s = _params(batch, K, D)

    def f(a, m, s):
        return mt.DiagGaussianMixture(a, m, s, method="quantile").rsample((3,), seed=11)

    assert torch.autograd.gradcheck(f, (a, m, s), eps=1e-6, atol=1e-6, rtol=1e-5)


def test_gradcheck_exact_path_single_component():
    # with K = 1 the exact sampler is the reparameterization trick: smooth for a fixed seed
    a, m, s = _params((2,), 1, 3)

    def f(m, s):
        return mt.DiagGaussianMixture(a, m, s).rsample((4,), seed=5)

    assert torch.autograd.gradcheck(f, (m, s))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("method", ["exact", "quantile"])
def test_matches_numpy_api_bit_for_bit(dtype, method):
    a, m, s = _params((2, 3), 4, 3, dtype=dtype)
    q = mt.DiagGaussianMixture(a, m, s, method=method)
    x = q.rsample((5,), seed=42)
    ref = mixgrad.DiagGaussianMixture(*_np(a, m, s))
    if method == "exact":
        xr = ref.sample(5, seed=42)
    else:
        u = mixgrad.random.uniform((5, 2, 3, 3), 42)
        if dtype == torch.float32:
            u = u.astype(np.float32)
        xr = ref.quantile(u)
    assert x.dtype == dtype
    assert x.shape == (5, 2, 3, 3)
    np.testing.assert_array_equal(x.detach().numpy(), xr)
    g = torch.linspace(-1, 1, x.numel(), dtype=dtype).reshape(x.shape)
    ga, gm, gs = torch.autograd.grad(x, (a, m, s), g)
    gr = ref.vjp(xr, g.numpy())
    np.testing.assert_array_equal(ga.numpy(), gr.logits)
    np.testing.assert_array_equal(gm.numpy(), gr.means)
    np.testing.assert_array_equal(gs.numpy(), gr.scales)
    # no sample shape: as numpy's n=None
    x0 = mt.DiagGaussianMixture(a, m, s).rsample(seed=np.random.SeedSequence(9))
    np.testing.assert_array_equal(x0.detach().numpy(), ref.sample(None, seed=np.random.SeedSequence(9)))


def test_seed_from_torch_generator():
    a, m, s = _params()
    q = mt.DiagGaussianMixture(a, m, s)
    torch.manual_seed(3)
    x1 = q.rsample((4,))
    x2 = q.rsample((4,))
    torch.manual_seed(3)
    assert torch.equal(q.rsample((4,)), x1)
    assert not torch.equal(x1, x2)
    g = torch.Generator().manual_seed(8)
    y = q.sample((2, 3), generator=g)
    assert y.shape == (2, 3, 2)
    assert not y.requires_grad
    assert torch.equal(q.sample((2, 3), generator=torch.Generator().manual_seed(8)), y)


def test_log_prob_mean_variance():
    a, m, s = _params((2,), 3, 2)
    q = mt.DiagGaussianMixture(a, m, s)
    x = q.sample((7,), seed=1)
    lp = q.log_prob(x)
    ref = mixgrad.DiagGaussianMixture(*_np(a, m, s))
    np.testing.assert_allclose(lp.detach().numpy(), ref.log_prob(x.numpy()), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(q.mean.detach().numpy(), ref.mean(), rtol=1e-12, atol=1e-12)
    assert torch.autograd.gradcheck(lambda a, m, s: mt.DiagGaussianMixture(a, m, s).log_prob(x.detach()), (a, m, s))
    xs = q.sample((40000,), seed=2)
    se = (q.variance / 40000).sqrt()
    assert torch.all((xs.mean(0) - q.mean).abs() < 4 * se)


def test_rsample_gradient_unbiased_including_logits():
    """E[sum x^2] = sum_k w_k (sigma_k^2 + mu_k^2): the mean of the rsample gradients must match
    the exact gradient (within 4 standard errors over 40 independent batches)."""
    a, m, s = _params((), 3, 2, seed=4)
    q = mt.DiagGaussianMixture(a, m, s)
    exact = torch.autograd.grad((q.variance + q.mean**2).sum(), (a, m, s))
    reps = []
    for r in range(40):
        x = q.rsample((1000,), seed=100 + r)
        g = torch.autograd.grad((x**2).sum(-1).mean(), (a, m, s))
        reps.append(torch.cat([t.flatten() for t in g]))
    reps = torch.stack(reps)
    truth = torch.cat([t.flatten() for t in exact])
    z = (reps.mean(0) - truth) / (reps.std(0) / len(reps) ** 0.5)
    assert torch.all(z.abs() < 4), z


def test_zero_weight_component_gives_finite_gradients():
    a, m, s = _params((), 3, 2)
    a = torch.tensor([0.0, -float("inf"), 0.5], dtype=F64, requires_grad=True)
    x = mt.DiagGaussianMixture(a, m, s).rsample((50,), seed=0)
    ga, gm, gs = torch.autograd.grad(x.sum(), (a, m, s))
    assert torch.isfinite(ga).all()
    assert torch.isfinite(gm).all()
    assert torch.isfinite(gs).all()


def test_broadcast_batch_and_expand():
    a, m, s = _params((), 2, 3)
    q = mt.DiagGaussianMixture(a, m.expand(4, 2, 3), s)
    assert q.batch_shape == (4,)
    assert q.event_shape == (3,)
    assert q.rsample((2,), seed=0).shape == (2, 4, 3)
    assert q.expand((5, 4)).batch_shape == (5, 4)


def test_errors():
    a, m, s = _params()
    with pytest.raises(TypeError, match="dtype"):
        mt.DiagGaussianMixture(a.float(), m, s)
    with pytest.raises(TypeError, match="dtype"):
        mt.DiagGaussianMixture(a.half(), m.half(), s.half())
    with pytest.raises(TypeError, match="logits"):
        mt.DiagGaussianMixture(a.tolist(), m, s)
    meta = [torch.empty(t.shape, dtype=F64, device="meta") for t in (a, m, s)]
    assert mt.DiagGaussianMixture(*meta, validate_args=False).backend == "native"  # torch ops there
    with pytest.raises(ValueError, match="device"):
        mt.DiagGaussianMixture(meta[0], m, s)
    with pytest.raises(ValueError, match="logits"):
        mt.DiagGaussianMixture(a[:2], m, s)
    with pytest.raises(ValueError, match="method"):
        mt.DiagGaussianMixture(a, m, s, method="inverse")
    with pytest.raises(TypeError, match="seed"):
        mt.DiagGaussianMixture(a, m, s).rsample(seed=1.5)
    with pytest.raises(ValueError, match="scales"):
        mt.DiagGaussianMixture(a, m, -s.detach()).rsample(seed=0)
