"""What the tests of the torch discrete estimators share: small problems whose exact gradient
comes from enumeration (``mixgrad.torch.exact_expectation``), z-scores of Monte Carlo means, and
the encoder/decoder problem on which the surrogate must carry unbiased parameter gradients."""

import pytest

torch = pytest.importorskip("torch")
mt = pytest.importorskip("mixgrad.torch")

F64 = torch.float64
Z_TOL = 4.0  # every tolerance is in standard errors of the Monte Carlo mean


def bern_problem(size=4):
    """Bernoulli logits of ``size`` (3 or 4) coordinates and a smooth nonlinear objective."""
    logits = torch.tensor([0.3, -1.0, 2.0, -3.0][:size], dtype=F64)
    w = torch.tensor([1.0, -2.0, 0.5, 1.5][:size], dtype=F64)

    def f(s):
        return torch.sin(s @ w) + 0.3 * (s * s).sum(-1) + s[..., 0] * s[..., 2]

    return logits, f


def cat_problem():
    """Categorical logits of a (2, 4) event (two variables of four classes) and an objective
    that couples the two variables."""
    logits = torch.tensor([[0.3, -1.0, 2.0, 0.0], [1.0, 0.0, -0.5, 0.2]], dtype=F64)
    W = torch.randn(2, 4, dtype=F64, generator=torch.Generator().manual_seed(5))

    def f(s):
        return torch.cos((s * W).sum((-1, -2))) + (s[..., 0, :] * s[..., 1, :]).sum(-1)

    return logits, f


def exact_grad(logits, f, kind="bernoulli"):
    """d E[f(b)] / d logits by enumeration."""
    x = logits.clone().requires_grad_(True)
    return torch.autograd.grad(mt.exact_expectation(x, f, kind), x)[0]


def z_scores(g, exact):
    """(mean of the rows of g - exact) in standard errors of that mean."""
    return (g.mean(0) - exact) / (g.std(0) / g.shape[0] ** 0.5)


def parameter_z_scores(estimators, n_reps):
    """Per estimator, the z-scores of the surrogate's gradient for an encoder's weights (through
    the logits) and a decoder weight that f uses directly, against enumeration; ``n_reps``
    batches of 500 samples each, the estimators drawing one after another from one generator."""
    gen = torch.Generator().manual_seed(7)
    W = torch.tensor([[0.5, -0.3, 0.8], [0.2, 0.4, -1.0]], dtype=F64, requires_grad=True)
    x = torch.tensor([1.0, -0.5], dtype=F64)
    c = torch.tensor([0.7, -0.2, 1.1], dtype=F64, requires_grad=True)

    def f(s):
        return torch.tanh(s @ c) + (s * c).sum(-1) ** 2

    truth = torch.autograd.grad(mt.exact_expectation(x @ W, f, "bernoulli"), (W, c))
    truth = torch.cat([truth[0].flatten(), truth[1]])
    scores = []
    for est in estimators:
        reps = []
        for _ in range(n_reps):
            out = est(x @ W, f, n_samples=500, generator=gen)
            gW, gc = torch.autograd.grad(out.surrogate.mean(), (W, c))
            reps.append(torch.cat([gW.flatten(), gc]))
        scores.append(z_scores(torch.stack(reps), truth))
    return scores
