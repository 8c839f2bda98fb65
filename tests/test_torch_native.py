"""mixgrad.torch.DiagGaussianMixture in torch ops (backend="native", and the torch-op backward of
backend="core"): the same numbers as the C++ core and the 60-digit reference, the
reparameterization trick for K = 1, gradcheck and gradgradcheck, Hessians against finite
differences of the core's quantile, torch.func, torch.compile, sampling, shapes on the meta
device, errors."""

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
mt = pytest.importorskip("mixgrad.torch")
import mixgrad  # noqa: E402
import mixture_reference as ref  # noqa: E402
from mixgrad.torch import _diag_math, _diag_quantile  # noqa: E402

F64 = torch.float64
F32 = torch.float32


def _random(batch=(), K=3, D=2, seed=0, spread=2.0):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(*batch, K))
    m = spread * rng.normal(size=(*batch, K, D))
    s = 0.5 + rng.uniform(size=(*batch, K, D))
    return a, m, s


def _t(*arrays, dtype=F64):
    return [torch.tensor(np.array(v), dtype=dtype) for v in arrays]


def _close(got, want, rtol):
    """Relative to the largest |want| of the array (sums over samples may cancel elementwise);
    infinities and NaNs must sit in the same places."""
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    finite = np.isfinite(want)
    np.testing.assert_array_equal(got[~finite], want[~finite])
    if finite.any():
        scale = np.abs(want[finite]).max()
        np.testing.assert_allclose(got[finite], want[finite], rtol=rtol, atol=rtol * scale)


def _close_roots(got, want, u, a, m, s, rtol):
    """Quantiles from two solvers. Where components are far apart F is flat to less than an ulp
    of u over an interval: every x in it is a root and the solvers may stop at different ones (a
    later coordinate then solves a different conditional). So x must agree to rtol plus what 8
    ulp of u move it (spacing(u) / conditional density), or else both must solve F(x_d | x_<d) =
    u_d, each given its own earlier coordinates, to 8 ulp of u: the density can fall by orders of
    magnitude across the flat interval, which the linear bound does not see. And both must solve
    F(x) = u to rtol."""
    got, want, u = np.asarray(got), np.asarray(want), np.asarray(u)
    finite = np.isfinite(want)
    np.testing.assert_array_equal(got[~finite], want[~finite])
    density = np.empty(want.shape)
    previous = 0.0
    for d in range(want.shape[-1]):  # f(x_d | x_<d) = p(x_<=d) / p(x_<d)
        marginal = mixgrad.DiagGaussianMixture(a, m[..., : d + 1], s[..., : d + 1])
        log_p = marginal.log_prob(np.where(finite, want, 0.0)[..., : d + 1]).astype(np.float64)
        density[..., d] = np.exp(log_p - previous)
        previous = log_p
    core = mixgrad.DiagGaussianMixture(a, m, s)
    with np.errstate(divide="ignore", invalid="ignore"):
        tol = rtol * np.abs(want[finite]).max(initial=1.0) + 8 * np.spacing(u).astype(np.float64) / density
        roots = [np.abs(core.cdf_transform(np.where(finite, x, 0.0)) - u) <= 8 * np.spacing(u) for x in (got, want)]
        agree = (np.abs(got - want) <= tol) | (roots[0] & roots[1])
    assert np.all(agree[finite]), (got, want, tol)
    for x in (got, want):
        np.testing.assert_allclose(core.cdf_transform(x)[finite], u[finite], rtol=rtol, atol=0)


def _compare_with_core(a, m, s, x, g, dtype=F64, rtol=1e-12):
    """cdf_transform, quantile (of the core's u), VJP and JVP of the torch ops against the core."""
    npd = np.float64 if dtype == F64 else np.float32
    a, m, s, x, g = (np.asarray(v, dtype=npd) for v in (a, m, s, x, g))
    core = mixgrad.DiagGaussianMixture(a, m, s)
    ta, tm, ts, tx, tg = _t(a, m, s, x, g, dtype=dtype)
    _close(_diag_math.cdf_transform(ta, tm, ts, tx), core.cdf_transform(x), rtol)
    u = core.cdf_transform(x)
    _close_roots(_diag_quantile.quantile(ta, tm, ts, torch.as_tensor(u)).numpy(), core.quantile(u), u, a, m, s, rtol)
    got = _diag_math.vjp(ta, tm, ts, tx, tg)
    for gv, wv in zip(got, core.vjp(x, g)):
        assert gv.dtype == dtype
        _close(gv, wv, rtol)
    tangent = np.random.default_rng(1).normal(size=m.shape).astype(npd)
    _close(
        _diag_math.jvp(ta, tm, ts, tx, None, torch.as_tensor(tangent), torch.as_tensor(tangent)),
        core.jvp(x, {"means": tangent, "scales": tangent}),
        rtol,
    )


@pytest.mark.parametrize(("batch", "K", "D"), [((), 3, 2), ((2, 3), 4, 3), ((), 1, 3), ((4,), 8, 16), ((), 5, 1)])
@pytest.mark.parametrize(("dtype", "rtol"), [(F64, 1e-12), (F32, 1e-5)])
def test_same_numbers_as_the_core(batch, K, D, dtype, rtol):
    a, m, s = _random(batch, K, D, seed=K + D)
    core = mixgrad.DiagGaussianMixture(a, m, s)
    x = core.sample(40, seed=3)
    g = np.random.default_rng(2).normal(size=x.shape)
    _compare_with_core(a, m, s, x, g, dtype, rtol)


def test_first_derivatives_through_the_native_backend_match_the_core():
    """rsample on backend="native" (first order: vjp_chunked, blocks of samples) against the
    core's vjp at the drawn points; and the blocks themselves at a small block size."""
    a, m, s = (t.requires_grad_(True) for t in _t(*_random((2,), 4, 3, seed=11)))
    x = mt.DiagGaussianMixture(a, m, s, backend="native").rsample((300,), generator=torch.Generator().manual_seed(1))
    g = torch.randn(x.shape, dtype=F64, generator=torch.Generator().manual_seed(2))
    got = torch.autograd.grad(x, (a, m, s), g)
    core = mixgrad.DiagGaussianMixture(*(t.detach().numpy() for t in (a, m, s)))
    want = core.vjp(x.detach().numpy(), g.numpy())
    for gv, wv in zip(got, want):
        _close(gv, wv, 1e-12)
    blocks = _diag_math.vjp_chunked(a, m, s, x.detach(), g, with_u=True, chunk_elements=100)
    whole = _diag_math.vjp(a, m, s, x.detach(), g, with_u=True)
    for bv, wv in zip(blocks, whole):
        torch.testing.assert_close(bv, wv, rtol=1e-13, atol=1e-13)


def test_zero_weights_are_exact_zeros():
    a, m, s = _random((), 3, 4, seed=5)
    a[1] = -np.inf
    x = mixgrad.DiagGaussianMixture(a, m, s).sample(30, seed=1)
    g = np.ones_like(x)
    _compare_with_core(a, m, s, x, g)
    ga, gm, gs, _ = _diag_math.vjp(*_t(a, m, s, x, g))
    assert ga[1] == 0
    assert torch.all(gm[1] == 0)
    assert torch.all(gs[1] == 0)
    # the native sampler never picks the zero-weight component
    q = mt.DiagGaussianMixture(*_t(a, m, s), backend="native")
    xs = q.sample((2000,), generator=torch.Generator().manual_seed(0))
    comp = torch.cdist(xs, torch.as_tensor(m)).argmin(-1)
    assert not torch.any(comp == 1) or torch.all(torch.isfinite(xs))
    assert torch.isfinite(q.log_prob(xs)).all()


def _pair(sep, D=1):
    means = np.zeros((2, D))
    means[0] -= sep / 2
    means[1] += sep / 2
    return np.zeros(2), means, np.ones((2, D))


@pytest.mark.parametrize("sep", [38.0, 40.0, 60.0, 100.0])
def test_far_apart_components_match_the_core(sep):
    a, m, s = _pair(sep)
    xs = np.linspace(-1.2 * sep, 1.2 * sep, 25)[:, None]
    _compare_with_core(a, m, s, xs, np.ones_like(xs))
    # the quantile in both far tails and across the gap
    u = np.array([[1e-300], [1e-100], [1e-20], [0.3], [0.5], [0.5 + 1e-12], [1 - 1e-16], [0.9999]])
    core = mixgrad.DiagGaussianMixture(a, m, s)
    _close_roots(_diag_quantile.quantile(*_t(a, m, s, u)).numpy(), core.quantile(u), u, a, m, s, 1e-12)


@pytest.mark.parametrize("sep", [38.0, 100.0])
def test_far_cases_in_two_dimensions_against_the_reference(sep):
    # Second coordinate where one component dominates and the point lies far from it, and
    # between the components: finite where the core is finite, +-inf where the exact value
    # overflows (the reference says so too).
    a = np.log([0.4, 0.6])
    m = np.array([[0.0, 0.0], [sep, sep]])
    s = np.array([[1.0, 1.5], [0.8, 1.0]])
    g = np.array([0.7, -1.3])
    points = np.array([[sep, 0.0], [0.0, sep], [sep / 2, 0.0], [sep / 2, sep / 3], [1.0, -3.0]])
    _compare_with_core(a, m, s, points, np.broadcast_to(g, points.shape))
    for x in points[[0, 1, 4]]:
        got = _diag_math.vjp(*_t(a, m, s, x[None], g[None]))
        for gv, wv in zip(got, ref.vjp(a, m, s, x, g)):
            _close(gv, wv, 1e-9)


def test_issue_case_two_dimensions_against_the_reference():
    a, m, s = np.zeros(2), np.array([[0.0, 0.0], [40.0, 40.0]]), np.ones((2, 2))
    x, g = np.array([40.0, 0.0]), np.ones(2)
    u = _diag_math.cdf_transform(*_t(a, m, s, x[None]))[0]
    assert u[0] == 0.75
    assert u[1] == 0.0
    got = _diag_math.vjp(*_t(a, m, s, x[None], g[None]))
    np.testing.assert_allclose(got[0], [-16.96127741, 16.96127741], rtol=1e-9)
    for gv, wv in zip(got, ref.vjp(a, m, s, x, g)):
        _close(gv, wv, 1e-10)
    for sep in (76.0, 80.0):
        a1, m1, s1 = _pair(sep)
        _close(_diag_math.cdf_transform(*_t(a1, m1, s1, [[0.0]]))[0], ref.cdf_transform(a1, m1, s1, [0.0]), 1e-14)


@pytest.mark.parametrize("K", [1, 2])
@pytest.mark.parametrize("far", [1e9, -1e9, 1e150, 1e300])
def test_far_earlier_coordinate_leaves_later_ones_exact(K, far):
    a, m, s = np.zeros(K), np.zeros((K, 2)), np.ones((K, 2))
    u = _diag_math.cdf_transform(*_t(a, m, s, [[far, 0.5]]))[0]
    assert u[0] == (1.0 if far > 0 else 0.0)
    np.testing.assert_allclose(u[1], 0.6914624612740131, rtol=1e-15)
    ga, gm, gs, _ = _diag_math.vjp(*_t(a, m, s, [[far, 0.5]], [[0.0, 1.0]]))
    np.testing.assert_allclose(gm[:, 1].sum(), 1.0, rtol=1e-14)
    np.testing.assert_allclose(gs[:, 1].sum(), 0.5, rtol=1e-14)
    assert torch.isfinite(ga).all()


@pytest.mark.parametrize("backend", ["native", "core"])
def test_single_component_is_the_reparameterization_trick(backend):
    a, m, s = _t(*_random((2,), 1, 3, seed=4))
    m.requires_grad_(True)
    s.requires_grad_(True)
    q = mt.DiagGaussianMixture(a, m, s, backend=backend)
    kw = {"generator": torch.Generator().manual_seed(1)} if backend == "native" else {"seed": 1}
    x = q.rsample((50,), **kw)
    g = torch.randn(x.shape, dtype=F64, generator=torch.Generator().manual_seed(2))
    gm, gs = torch.autograd.grad(x, (m, s), g, create_graph=True)  # the torch-op backward
    z = ((x - m[:, 0]) / s[:, 0]).detach()
    torch.testing.assert_close(gm[:, 0], g.sum(0), rtol=1e-12, atol=1e-12)  # dx/dmu = 1
    torch.testing.assert_close(gs[:, 0], (g * z).sum(0), rtol=1e-12, atol=1e-12)  # dx/dsigma = z


def _quantile_fn(backend, u):
    def f(a, m, s):
        return mt.DiagGaussianMixture(a, m, s, backend=backend).quantile(u)

    return f


@pytest.mark.parametrize("backend", ["native", "core"])
def test_gradcheck_and_gradgradcheck(backend):
    # the core answers first derivatives without a graph; with one (gradgradcheck), torch ops
    a, m, s = (t.requires_grad_(True) for t in _t(*_random((), 2, 2, seed=6)))
    u = torch.rand(2, 2, dtype=F64, generator=torch.Generator().manual_seed(3), requires_grad=True)

    def f(a, m, s, u):
        return mt.DiagGaussianMixture(a, m, s, backend=backend).quantile(u)

    assert torch.autograd.gradcheck(f, (a, m, s, u))
    assert torch.autograd.gradgradcheck(f, (a, m, s, u))
    x = torch.randn(2, 2, dtype=F64, generator=torch.Generator().manual_seed(4), requires_grad=True)

    def cdf(a, m, s, x):
        return mt.DiagGaussianMixture(a, m, s, backend=backend).cdf_transform(x)

    assert torch.autograd.gradcheck(cdf, (a, m, s, x))
    if backend == "native":  # the same torch ops on both backends
        assert torch.autograd.gradgradcheck(cdf, (a, m, s, x))


def test_hessian_agrees_with_finite_differences_of_the_core_quantile():
    a0, m0, s0 = _random((), 2, 2, seed=7)
    u = mixgrad.random.uniform((3, 2), 5)
    w = np.random.default_rng(8).normal(size=u.shape)
    flat0 = np.concatenate([a0.ravel(), m0.ravel(), s0.ravel()])
    P = flat0.size

    def unpack(v):
        return v[:2], v[2:6].reshape(2, 2), v[6:].reshape(2, 2)

    def loss_core(v):  # an independent implementation: the C++ core's quantile
        x = mixgrad.DiagGaussianMixture(*unpack(v)).quantile(u)
        return float(np.sum(w * np.sin(x)))

    def loss_torch(v):
        x = mt.DiagGaussianMixture(*unpack(v)).quantile(torch.as_tensor(u))
        return (torch.as_tensor(w) * torch.sin(x)).sum()

    hess = torch.autograd.functional.hessian(loss_torch, torch.as_tensor(flat0)).numpy()
    h = 1e-4
    fd = np.empty((P, P))
    for i in range(P):
        for j in range(i, P):
            vals = []
            for si, sj in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
                v = flat0.copy()
                v[i] += si * h
                v[j] += sj * h
                vals.append(loss_core(v))
            fd[i, j] = fd[j, i] = (vals[0] - vals[1] - vals[2] + vals[3]) / (4 * h * h)
    np.testing.assert_allclose(hess, fd, rtol=1e-6, atol=1e-6 * np.abs(fd).max())


@pytest.mark.parametrize("backend", ["native", "core"])
@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")  # inside torch.func
def test_torch_func_grad_vmap_jacfwd(backend):
    a, m, s = _t(*_random((), 3, 2, seed=9))
    u = torch.rand(4, 2, dtype=F64, generator=torch.Generator().manual_seed(1))

    def loss(means):
        return (mt.DiagGaussianMixture(a, means, s, backend=backend).quantile(u) ** 2).sum()

    mm = m.clone().requires_grad_(True)
    want = torch.autograd.grad(loss(mm), mm)[0]
    torch.testing.assert_close(torch.func.grad(loss)(m), want, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(torch.func.jacfwd(loss)(m), want, rtol=1e-10, atol=1e-12)
    stacked = torch.stack([m, m + 0.5])
    batched = torch.func.vmap(torch.func.grad(loss))(stacked)
    torch.testing.assert_close(batched[0], want, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(batched[1], torch.func.grad(loss)(m + 0.5), rtol=1e-12, atol=1e-12)


@pytest.mark.filterwarnings("ignore:.*should not be instantiated:DeprecationWarning")  # inside Dynamo
def test_torch_compile_fullgraph():
    # both backends in one graph: the core's custom ops (fake kernels) and the torch-op path
    a, m, s = (t.requires_grad_(True) for t in _t(*_random((), 2, 2, seed=10)))
    u = torch.rand(3, 2, dtype=F64, generator=torch.Generator().manual_seed(2))

    def loss(a, m, s):
        native = mt.DiagGaussianMixture(a, m, s, backend="native")
        core = mt.DiagGaussianMixture(a, m, s, backend="core")
        return (native.quantile(u) ** 2).sum() + native.rsample((4,)).sum() + (core.rsample((4,), seed=3) ** 2).sum()

    compiled = torch.compile(loss, fullgraph=True, backend="aot_eager")
    torch.manual_seed(0)
    got = torch.autograd.grad(compiled(a, m, s), (a, m, s))
    torch.manual_seed(0)
    want = torch.autograd.grad(loss(a, m, s), (a, m, s))
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=1e-12, atol=1e-12)


def test_native_sampling_distribution_and_gradient_unbiased():
    """Moments of native draws within 4 standard errors; E[d sum x^2 / d theta] (implicit
    gradient, exact sampler) against the exact gradient of sum_k w_k (sigma_k^2 + mu_k^2)."""
    a, m, s = (t.requires_grad_(True) for t in _t(*_random((), 3, 2, seed=4)))
    q = mt.DiagGaussianMixture(a, m, s, backend="native")
    gen = torch.Generator().manual_seed(5)
    xs = q.sample((40000,), generator=gen)
    se = (q.variance / 40000).sqrt()
    assert torch.all((xs.mean(0) - q.mean).abs() < 4 * se)
    exact = torch.cat([t.flatten() for t in torch.autograd.grad((q.variance + q.mean**2).sum(), (a, m, s))])
    reps = []
    for _ in range(30):
        x = q.rsample((1000,), generator=gen)
        reps.append(torch.cat([t.flatten() for t in torch.autograd.grad((x**2).sum(-1).mean(), (a, m, s))]))
    reps = torch.stack(reps)
    z = (reps.mean(0) - exact) / (reps.std(0) / math.sqrt(len(reps)))
    assert torch.all(z.abs() < 4), z
    # the generator makes draws reproducible
    g1 = q.sample((5,), generator=torch.Generator().manual_seed(9))
    torch.testing.assert_close(q.sample((5,), generator=torch.Generator().manual_seed(9)), g1, rtol=0, atol=0)
    # method="quantile" draws the same distribution
    qq = mt.DiagGaussianMixture(a, m, s, method="quantile", backend="native")
    xq = qq.sample((20000,), generator=gen)
    assert torch.all((xq.mean(0) - q.mean).abs() < 4 * (q.variance / 20000).sqrt())


@pytest.fixture
def default_validation_on():
    """torch's default argument validation on for the test (another test may have left it off)."""
    Dist = torch.distributions.Distribution
    before = Dist._validate_args
    Dist.set_default_validate_args(True)
    yield
    Dist.set_default_validate_args(before)


@pytest.mark.parametrize("method", ["exact", "quantile"])
def test_shapes_on_the_meta_device(method, default_validation_on):
    a = torch.empty(5, 3, device="meta", dtype=F32, requires_grad=True)
    m = torch.empty(3, 4, device="meta", dtype=F32, requires_grad=True)
    s = torch.empty(5, 3, 4, device="meta", dtype=F32, requires_grad=True)
    q = mt.DiagGaussianMixture(a, m, s, method=method)
    assert q.backend == "native"
    x = q.rsample((2, 6))
    assert x.shape == (2, 6, 5, 4)
    assert x.device.type == "meta"
    assert x.dtype == F32
    ga, gm, gs = torch.autograd.grad(x.sum(), (a, m, s))
    assert ga.shape == a.shape
    assert gm.shape == m.shape
    assert gs.shape == s.shape
    assert q.cdf_transform(x).shape == x.shape
    assert q.quantile(torch.empty(7, 5, 4, device="meta")).shape == (7, 5, 4)


def test_backend_errors_and_defaults():
    a, m, s = _t(*_random())
    assert mt.DiagGaussianMixture(a, m, s).backend == "core"
    assert mt.DiagGaussianMixture(a, m, s).expand((2,)).backend == "core"
    assert mt.DiagGaussianMixture(a, m, s, backend="native").expand((2,)).backend == "native"
    with pytest.raises(ValueError, match="backend"):
        mt.DiagGaussianMixture(a, m, s, backend="cuda")
    meta = [torch.empty(t.shape, dtype=F64, device="meta") for t in (a, m, s)]
    with pytest.raises(ValueError, match="backend='core'"):
        mt.DiagGaussianMixture(*meta, backend="core")
    with pytest.raises(ValueError, match="generator"):
        mt.DiagGaussianMixture(a, m, s, backend="native").rsample(seed=1)
    with pytest.raises(ValueError, match="u must have shape"):
        mt.DiagGaussianMixture(a, m, s).quantile(torch.rand(3, 3, dtype=F64))
    with pytest.raises(TypeError, match="value"):
        mt.DiagGaussianMixture(a, m, s).cdf_transform(np.zeros((1, 2)))
