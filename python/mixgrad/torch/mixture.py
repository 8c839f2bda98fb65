"""``mixgrad.torch.DiagGaussianMixture``: a torch Distribution with implicit-reparameterization
``rsample`` (gradients for the mixing logits, means and scales) computed by mixgrad's C++ core."""

from __future__ import annotations

import math

import numpy as np

from .. import _adapter_mixture as _adapter
from .._checks import check_count, check_size
from ._require import require_torch

require_torch()  # a clear ImportError naming the extra when torch is missing
import torch  # noqa: E402

constraints = torch.distributions.constraints

__all__ = ["DiagGaussianMixture"]

_SEED_BOUND = 2**63 - 1


SECOND_DERIVATIVE_MESSAGE = (
    "mixgrad.torch.DiagGaussianMixture.rsample has no second derivatives yet: its backward (the "
    "implicit-reparameterization VJP in mixgrad's C++ core) cannot itself be differentiated, so "
    "Hessians, Hessian-vector products and gradients of gradients (torch.autograd.grad(..., "
    "create_graph=True) followed by another backward) through the samples are not available. "
    "First derivatives work."
)


class _MixtureVjp(torch.autograd.Function):
    """The implicit VJP (logits, means, scales, x, grad_x) -> gradients, as a node of its own so
    that differentiating it (a second derivative) raises instead of silently giving zeros."""

    @staticmethod
    def forward(ctx, logits, means, scales, x, grad_x):
        g = _adapter.vjp(
            logits.detach().numpy(),
            means.detach().numpy(),
            scales.detach().numpy(),
            x.detach().numpy(),
            grad_x.detach().contiguous().numpy(),
        )
        return tuple(torch.from_numpy(np.ascontiguousarray(v)) for v in (g.logits, g.means, g.scales))

    @staticmethod
    def backward(ctx, *grads):
        raise RuntimeError(SECOND_DERIVATIVE_MESSAGE)


class _MixtureRsample(torch.autograd.Function):
    """x = sample(logits, means, scales; seed) with the implicit VJP as backward."""

    @staticmethod
    def forward(ctx, logits, means, scales, n, seed, method):
        a, m, s = (t.detach().numpy() for t in (logits, means, scales))
        x = torch.from_numpy(np.ascontiguousarray(_adapter.draw(a, m, s, n, seed, method)))
        ctx.save_for_backward(logits, means, scales, x)
        return x

    @staticmethod
    def backward(ctx, grad_x):
        logits, means, scales, x = ctx.saved_tensors
        # Under create_graph=True the three gradients are outputs of _MixtureVjp, whose own
        # backward raises: a second derivative fails loudly rather than coming back as zeros.
        ga, gm, gs = _MixtureVjp.apply(logits, means, scales, x.detach(), grad_x)
        return ga, gm, gs, None, None, None


def _check_sample_shape(sample_shape, per_sample: int, dtype: torch.dtype) -> torch.Size:
    """``sample_shape`` as a torch.Size of non-negative ints whose samples fit in one array."""
    dims = (sample_shape,) if isinstance(sample_shape, (int, np.integer)) else tuple(sample_shape)
    for d in dims:
        check_count(d, "sample_shape entries", minimum=0)
    n = math.prod(int(d) for d in dims)
    check_size(n, per_sample, torch.empty((), dtype=dtype).element_size(), "sample_shape's product")
    return torch.Size(int(d) for d in dims)


class DiagGaussianMixture(torch.distributions.Distribution):
    """Mixture of diagonal Gaussians with a reparameterized ``rsample``.

    Gradients of samples reach the mixing logits too: they come from the implicit
    reparameterization of the ancestral distributional transform (DESIGN.md section 3), computed
    by :meth:`mixgrad.DiagGaussianMixture.vjp` (O(K*D) per sample).

    Parameters
    ----------
    logits : torch.Tensor, shape (..., K)
        Unnormalized log mixing weights (``-inf``: weight zero).
    means : torch.Tensor, shape (..., K, D)
        Component means.
    scales : torch.Tensor, shape (..., K, D)
        Component standard deviations (> 0).
    method : {"exact", "quantile"}
        How ``rsample`` draws: ``"exact"`` (component, then Gaussian; the default) or
        ``"quantile"`` (the quantile transform of seeded uniforms: for a fixed seed the sample
        is a smooth function of the parameters, as finite-difference checks need). Both give
        the same distribution and the same gradient formula.
    validate_args : bool, optional
        Passed to :class:`torch.distributions.Distribution`.

    Notes
    -----
    CPU tensors of one dtype, float32 or float64; the leading dimensions of the three tensors
    broadcast to the batch shape. Without an explicit seed, each draw takes a 63-bit seed from
    torch's generator (``torch.manual_seed`` makes runs reproducible); ``rsample(..., seed=s)``
    equals ``mixgrad.DiagGaussianMixture(...).sample(n, seed=s)`` bit for bit.

    Raises
    ------
    TypeError
        If an argument is not a tensor or the dtypes differ / are not float32 or float64.
    ValueError
        If the tensors are on different devices or the shapes do not fit.
    NotImplementedError
        For CUDA (or other non-CPU) tensors.
    RuntimeError
        When a second derivative through ``rsample`` is taken (``torch.autograd.functional.
        hessian``, ``hvp``, or ``torch.autograd.grad(..., create_graph=True)`` followed by another
        backward): the implicit VJP of the C++ core is not itself differentiable yet. The error
        names second derivatives; it never returns zeros. First derivatives under
        ``create_graph=True`` are the ordinary ones.
    """

    arg_constraints = {  # noqa: RUF012 - torch.distributions declares constraints as a class dict
        "logits": constraints.real_vector,
        "means": constraints.real,
        "scales": constraints.positive,
    }
    support = constraints.real_vector
    has_rsample = True

    def __init__(
        self,
        logits: torch.Tensor,
        means: torch.Tensor,
        scales: torch.Tensor,
        *,
        method: str = "exact",
        validate_args: bool | None = None,
    ) -> None:
        names = ("logits", "means", "scales")
        tensors = (logits, means, scales)
        for name, t in zip(names, tensors):
            if not isinstance(t, torch.Tensor):
                raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
        devices = {t.device for t in tensors}
        if len(devices) > 1:
            raise ValueError(
                "logits, means and scales must be on one device, got "
                + ", ".join(f"{n}: {t.device}" for n, t in zip(names, tensors))
            )
        device = devices.pop()
        if device.type != "cpu":
            raise NotImplementedError(
                f"mixgrad.torch.DiagGaussianMixture runs on the CPU (the C++ core); got tensors on "
                f"{device}. Move them with .cpu()."
            )
        dtypes = {t.dtype for t in tensors}
        if len(dtypes) > 1 or dtypes.pop() not in (torch.float32, torch.float64):
            raise TypeError(
                "logits, means and scales must share one dtype, float32 or float64; got "
                + ", ".join(f"{n}: {t.dtype}" for n, t in zip(names, tensors))
            )
        if means.dim() < 2:
            raise ValueError(f"means must have shape (..., K, D), got {tuple(means.shape)}")
        if logits.dim() < 1:
            raise ValueError(f"logits must have shape (..., K), got {tuple(logits.shape)}")
        K, D = means.shape[-2], means.shape[-1]
        if scales.shape[-2:] != means.shape[-2:]:
            raise ValueError(f"scales must end in (K, D) = {(K, D)} like means, got {tuple(scales.shape)}")
        if logits.shape[-1] != K:
            raise ValueError(f"logits must end in K = {K} (means.shape[-2]), got {tuple(logits.shape)}")
        try:
            batch = torch.broadcast_shapes(logits.shape[:-1], means.shape[:-2], scales.shape[:-2])
        except RuntimeError:
            raise ValueError(
                "the batch dimensions of logits "
                f"{tuple(logits.shape[:-1])}, means {tuple(means.shape[:-2])} and scales "
                f"{tuple(scales.shape[:-2])} do not broadcast"
            ) from None
        self.method = _adapter.check_method(method)
        self.logits = logits.expand(*batch, K)
        self.means = means.expand(*batch, K, D)
        self.scales = scales.expand(*batch, K, D)
        super().__init__(batch_shape=batch, event_shape=torch.Size([D]), validate_args=validate_args)

    @property
    def weights(self) -> torch.Tensor:
        """softmax(logits), shape (*batch, K)."""
        return torch.softmax(self.logits, dim=-1)

    @property
    def mean(self) -> torch.Tensor:
        """Mixture mean, shape (*batch, D) (differentiable)."""
        return (self.weights.unsqueeze(-1) * self.means).sum(-2)

    @property
    def variance(self) -> torch.Tensor:
        """Per-coordinate mixture variance, shape (*batch, D) (differentiable)."""
        w = self.weights.unsqueeze(-1)
        second = (w * (self.scales**2 + self.means**2)).sum(-2)
        return second - self.mean**2

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """Log density, computed in torch (differentiable in value and parameters).

        Parameters
        ----------
        value : torch.Tensor, shape (*sample, *batch, D)

        Returns
        -------
        torch.Tensor, shape (*sample, *batch)
        """
        if self._validate_args:
            self._validate_sample(value)
        x = value.unsqueeze(-2)
        z = (x - self.means) / self.scales
        comp = (-0.5 * z * z - torch.log(self.scales)).sum(-1) - 0.5 * self.means.shape[-1] * math.log(2 * math.pi)
        return torch.logsumexp(torch.log_softmax(self.logits, dim=-1) + comp, dim=-1)

    def rsample(
        self,
        sample_shape=torch.Size(),  # noqa: B008 - torch.distributions convention (an immutable empty Size)
        *,
        seed: int | np.random.SeedSequence | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Reparameterized samples of shape ``(*sample_shape, *batch_shape, D)``.

        Parameters
        ----------
        sample_shape : torch.Size or tuple
            Leading sample dimensions.
        seed : int or numpy.random.SeedSequence, optional
            Explicit seed of mixgrad's Philox generator (bit-for-bit equal to the numpy API).
        generator : torch.Generator, optional
            When ``seed`` is None, the seed is drawn from this generator (default: torch's
            global generator).
        """
        shape = _check_sample_shape(sample_shape, self.batch_shape.numel() * self.event_shape[0], self.means.dtype)
        if seed is None:
            seed = int(torch.randint(0, _SEED_BOUND, (), generator=generator, dtype=torch.int64))
        elif not isinstance(seed, (int, np.integer, np.random.SeedSequence)) or isinstance(seed, bool):
            raise TypeError(f"seed must be an int or a numpy SeedSequence, got {type(seed).__name__}")
        n = int(math.prod(shape)) if len(shape) else None
        x = _MixtureRsample.apply(self.logits, self.means, self.scales, n, seed, self.method)
        return x.reshape(*shape, *self.batch_shape, *self.event_shape)

    def sample(self, sample_shape=torch.Size(), **kwargs) -> torch.Tensor:  # noqa: B008 - as torch.distributions
        """Samples without gradient (same arguments as :meth:`rsample`)."""
        with torch.no_grad():
            return self.rsample(sample_shape, **kwargs)

    def expand(self, batch_shape, _instance=None):
        """A mixture with its parameters broadcast to ``batch_shape``.

        As torch's own distributions do, the result has the class of ``self`` (a subclass stays
        that subclass; one that defines its own ``__init__`` must define ``expand`` too).
        """
        new = self._get_checked_instance(DiagGaussianMixture, _instance)
        batch_shape = torch.Size(batch_shape)
        K, D = self.means.shape[-2:]
        new.logits = self.logits.expand(*batch_shape, K)
        new.means = self.means.expand(*batch_shape, K, D)
        new.scales = self.scales.expand(*batch_shape, K, D)
        new.method = self.method
        super(DiagGaussianMixture, new).__init__(batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new
