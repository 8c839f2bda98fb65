"""``mixgrad.torch.GaussianMixture``: a torch Distribution over mixtures of full-covariance
Gaussians with implicit-reparameterization ``rsample`` (gradients for the mixing logits, means and
``scale_tril``) computed by mixgrad's C++ core through numpy."""

from __future__ import annotations

import math

import numpy as np

from .._adapter_mixture import draw_from
from .._seeding import SeedLike
from ..mixture_full import FullMixtureGradient
from ..mixture_full import GaussianMixture as _NumpyMixture
from ._require import require_torch

require_torch()  # a clear ImportError naming the extra when torch is missing
import torch  # noqa: E402

from ._mixture_common import MixtureDistribution, check_dtypes, check_sample_shape, check_tensors, core_seed  # noqa: E402

constraints = torch.distributions.constraints

__all__ = ["GaussianMixture"]

METHODS = ("exact", "quantile")

SECOND_DERIVATIVE_MESSAGE = (
    "mixgrad.torch.GaussianMixture.rsample has no second derivatives: its backward (the "
    "implicit-reparameterization VJP in mixgrad's C++ core) cannot itself be differentiated. "
    "First derivatives work."
)


def _draw(a: np.ndarray, m: np.ndarray, t: np.ndarray, n: int | None, seed: SeedLike, method: str) -> np.ndarray:
    """Samples (n, *batch, D): exact (component, then mu + L eps) or the quantile transform of
    seeded uniforms (smooth in the parameters for a fixed seed, as finite differences need)."""
    return draw_from(_NumpyMixture(a, m, t), n, seed, method)


class _FullMixtureVjp(torch.autograd.Function):
    """The implicit VJP as a node of its own, so that a second derivative raises."""

    @staticmethod
    def forward(ctx, logits, means, scale_tril, x, grad_x):
        g: FullMixtureGradient = _NumpyMixture(
            logits.detach().numpy(), means.detach().numpy(), scale_tril.detach().numpy()
        ).vjp(x.detach().numpy(), grad_x.detach().contiguous().numpy())
        return tuple(torch.from_numpy(np.ascontiguousarray(v)) for v in g)

    @staticmethod
    def backward(ctx, *grads):
        raise RuntimeError(SECOND_DERIVATIVE_MESSAGE)


class _FullMixtureRsample(torch.autograd.Function):
    """x = sample(logits, means, scale_tril; seed) with the implicit VJP as backward."""

    @staticmethod
    def forward(ctx, logits, means, scale_tril, n, seed, method):
        a, m, t = (v.detach().numpy() for v in (logits, means, scale_tril))
        x = torch.from_numpy(np.ascontiguousarray(_draw(a, m, t, n, seed, method)))
        ctx.save_for_backward(logits, means, scale_tril, x)
        return x

    @staticmethod
    def backward(ctx, grad_x):
        logits, means, scale_tril, x = ctx.saved_tensors
        ga, gm, gl = _FullMixtureVjp.apply(logits, means, scale_tril, x.detach(), grad_x)
        return ga, gm, gl, None, None, None


class GaussianMixture(MixtureDistribution):
    """Mixture of full-covariance Gaussians with a reparameterized ``rsample``.

    Gradients of samples reach the mixing logits too: they come from the implicit
    reparameterization of the ancestral distributional transform (DESIGN.md section 3.5),
    computed by :meth:`mixgrad.GaussianMixture.vjp` (O(K*D^2) per sample). Neither torch's
    ``MixtureSameFamily`` nor Pyro offers ``rsample`` for such mixtures.

    Parameters
    ----------
    logits : torch.Tensor, shape (..., K)
        Unnormalized log mixing weights (``-inf``: weight zero).
    means : torch.Tensor, shape (..., K, D)
        Component means.
    scale_tril : torch.Tensor, shape (..., K, D, D)
        Lower-triangular Cholesky factors with a positive diagonal (upper triangle zero), as in
        :class:`torch.distributions.MultivariateNormal`. The gradient that ``rsample`` gives it
        is lower triangular.
    method : {"exact", "quantile"}
        How ``rsample`` draws: component then ``mu + L eps`` (default), or the quantile
        transform of seeded uniforms (a smooth function of the parameters for a fixed seed).
    validate_args : bool, optional
        Passed to :class:`torch.distributions.Distribution`.

    Notes
    -----
    CPU tensors of one dtype, float32 or float64; the leading dimensions broadcast to the batch
    shape. ``rsample(..., seed=s)`` equals ``mixgrad.GaussianMixture(...).sample(n, seed=s)``
    bit for bit; without a seed, one is drawn from torch's generator.

    Raises
    ------
    TypeError
        If an argument is not a tensor or the dtypes differ / are not float32 or float64.
    ValueError
        If the shapes do not fit or the parameters are out of their domain (as
        :class:`mixgrad.GaussianMixture` checks them when sampling).
    NotImplementedError
        For CUDA (or other non-CPU) tensors.
    RuntimeError
        For a second derivative through ``rsample``.
    """

    arg_constraints = {  # noqa: RUF012 - torch.distributions declares constraints as a class dict
        "logits": constraints.real_vector,
        "means": constraints.real_vector,
        "scale_tril": constraints.lower_cholesky,
    }
    support = constraints.real_vector
    has_rsample = True

    def __init__(
        self,
        logits: torch.Tensor,
        means: torch.Tensor,
        scale_tril: torch.Tensor,
        *,
        method: str = "exact",
        validate_args: bool | None = None,
    ) -> None:
        names = ("logits", "means", "scale_tril")
        tensors = (logits, means, scale_tril)
        check_tensors(names, tensors)
        if any(t.device.type != "cpu" for t in tensors):
            raise NotImplementedError(
                "mixgrad.torch.GaussianMixture runs on the CPU (the C++ core); move tensors with .cpu()"
            )
        check_dtypes(names, tensors)
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        if means.dim() < 2:
            raise ValueError(f"means must have shape (..., K, D), got {tuple(means.shape)}")
        K, D = means.shape[-2], means.shape[-1]
        if scale_tril.dim() < 3 or scale_tril.shape[-3:] != (K, D, D):
            raise ValueError(f"scale_tril must end in (K, D, D) = {(K, D, D)}, got {tuple(scale_tril.shape)}")
        if logits.dim() < 1 or logits.shape[-1] != K:
            raise ValueError(f"logits must end in K = {K} (means.shape[-2]), got {tuple(logits.shape)}")
        try:
            batch = torch.broadcast_shapes(logits.shape[:-1], means.shape[:-2], scale_tril.shape[:-3])
        except RuntimeError:
            raise ValueError("the batch dimensions of logits, means and scale_tril do not broadcast") from None
        self.method = method
        self.logits = logits.expand(*batch, K)
        self.means = means.expand(*batch, K, D)
        self.scale_tril = scale_tril.expand(*batch, K, D, D)
        super().__init__(batch_shape=batch, event_shape=torch.Size([D]), validate_args=validate_args)

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
        diff = (value.unsqueeze(-2) - self.means).unsqueeze(-1)  # (..., K, D, 1)
        L = self.scale_tril.expand(*diff.shape[:-2], *self.scale_tril.shape[-2:])
        eps = torch.linalg.solve_triangular(L, diff, upper=False).squeeze(-1)
        logdet = torch.log(torch.diagonal(self.scale_tril, dim1=-2, dim2=-1)).sum(-1)
        D = self.means.shape[-1]
        comp = -0.5 * (eps * eps).sum(-1) - logdet - 0.5 * D * math.log(2 * math.pi)
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
            When ``seed`` is None, the seed is drawn from this generator.
        """
        shape = check_sample_shape(sample_shape, self.batch_shape.numel() * self.event_shape[0], self.means.dtype)
        seed = core_seed(seed, generator)
        n = int(math.prod(shape)) if len(shape) else None
        x = _FullMixtureRsample.apply(self.logits, self.means, self.scale_tril, n, seed, self.method)
        return x.reshape(*shape, *self.batch_shape, *self.event_shape)

    def expand(self, batch_shape, _instance=None):
        """A mixture with its parameters broadcast to ``batch_shape``."""
        new = self._get_checked_instance(GaussianMixture, _instance)
        batch_shape = torch.Size(batch_shape)
        K, D = self.means.shape[-2:]
        new.logits = self.logits.expand(*batch_shape, K)
        new.means = self.means.expand(*batch_shape, K, D)
        new.scale_tril = self.scale_tril.expand(*batch_shape, K, D, D)
        new.method = self.method
        super(GaussianMixture, new).__init__(batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new
