"""``mixgrad.torch.DiagGaussianMixture``: a torch Distribution with implicit-reparameterization
``rsample`` (gradients for the mixing logits, means and scales) on every device, with second
derivatives, ``torch.func`` transforms and ``torch.compile``."""

from __future__ import annotations

import math

import numpy as np

from .. import _adapter_mixture as _adapter
from ._require import require_torch

require_torch()  # a clear ImportError naming the extra when torch is missing
import torch  # noqa: E402

from . import _diag_math, _diag_sampling  # noqa: E402
from ._diag_custom_ops import core_quantile, core_sample, native_quantile  # noqa: E402
from ._diag_implicit import implicit_reparameterization  # noqa: E402
from ._mixture_common import (  # noqa: E402
    SEED_BOUND,
    MixtureDistribution,
    check_dtypes,
    check_sample_shape,
    check_tensors,
    core_seed,
)

constraints = torch.distributions.constraints

__all__ = ["BACKENDS", "DiagGaussianMixture"]

BACKENDS = ("core", "native")


def _check_backend(backend: str | None, device: torch.device) -> str:
    """None -> "core" for CPU tensors, "native" otherwise; "core" needs CPU tensors."""
    if backend is None:
        return "core" if device.type == "cpu" else "native"
    if backend not in BACKENDS:
        raise ValueError(f"backend must be None or one of {BACKENDS}, got {backend!r}")
    if backend == "core" and device.type != "cpu":
        raise ValueError(f"backend='core' (mixgrad's C++ core) needs CPU tensors, got tensors on {device}")
    return backend


class DiagGaussianMixture(MixtureDistribution):
    """Mixture of diagonal Gaussians with a reparameterized ``rsample``.

    Gradients of samples reach the mixing logits too: they come from the implicit
    reparameterization of the ancestral distributional transform (DESIGN.md section 3), an
    O(K*D) recurrence per sample, written in torch ops (any device; differentiable again, so
    Hessians and gradients of gradients are exact) and, for first derivatives on the CPU,
    also available from mixgrad's C++ core.

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
        ``"quantile"`` (the quantile transform of uniforms: for fixed uniforms the sample
        is a smooth function of the parameters, as finite-difference checks and second
        derivatives need). Both give the same distribution and the same gradient formula.
    backend : {None, "core", "native"}
        ``"core"``: draws and first derivatives from mixgrad's C++ core (CPU tensors only;
        bit for bit the numpy API; 6-18x faster than torch ops on the CPU); derivatives
        taken with a graph (``create_graph=True``, Hessians, ``torch.func`` transforms) come
        from the torch-op recurrence. ``"native"``: everything in torch ops on the tensors'
        device, draws from torch's generator. None (the default): ``"core"`` for CPU tensors,
        ``"native"`` otherwise.
    validate_args : bool, optional
        Passed to :class:`torch.distributions.Distribution` (None on the meta device means
        False: its tensors have no values to check).

    Notes
    -----
    Tensors of one dtype, float32 or float64, on one device; the leading dimensions of the
    three tensors broadcast to the batch shape. The torch-op recurrence works in float64
    whatever the input dtype (float32 tails need float64 sums) and returns the input dtype.

    Randomness: on the ``"core"`` backend each draw takes a 63-bit seed from torch's generator
    (``torch.manual_seed`` makes runs reproducible) unless ``seed=`` is given, and
    ``rsample(..., seed=s)`` equals ``mixgrad.DiagGaussianMixture(...).sample(n, seed=s)`` bit for
    bit. On the ``"native"`` backend the uniforms and normals come from torch's generator on the
    tensors' device (``generator=``, default the global one); ``seed=`` is refused there.

    Raises
    ------
    TypeError
        If an argument is not a tensor or the dtypes differ / are not float32 or float64.
    ValueError
        If the tensors are on different devices, the shapes do not fit, ``method`` or
        ``backend`` is unknown, or ``backend="core"`` is asked for non-CPU tensors.
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
        backend: str | None = None,
        validate_args: bool | None = None,
    ) -> None:
        names = ("logits", "means", "scales")
        tensors = (logits, means, scales)
        check_tensors(names, tensors)
        devices = {t.device for t in tensors}
        if len(devices) > 1:
            raise ValueError(
                "logits, means and scales must be on one device, got "
                + ", ".join(f"{n}: {t.device}" for n, t in zip(names, tensors))
            )
        device = devices.pop()
        check_dtypes(names, tensors)
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
        self.backend = _check_backend(backend, device)
        self.logits = logits.expand(*batch, K)
        self.means = means.expand(*batch, K, D)
        self.scales = scales.expand(*batch, K, D)
        if validate_args is None and device.type == "meta":
            validate_args = False  # a meta tensor has no values to check
        super().__init__(batch_shape=batch, event_shape=torch.Size([D]), validate_args=validate_args)

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

    def _check_points(self, value: torch.Tensor, name: str) -> None:
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
        if value.dtype not in (torch.float32, torch.float64):
            raise TypeError(f"{name} must be float32 or float64, got {value.dtype}")
        tail = (*self.batch_shape, *self.event_shape)
        ends = value.shape[value.dim() - len(tail) :]
        if value.dim() < len(tail) or any(v not in (1, t) for v, t in zip(ends, tail)):
            raise ValueError(f"{name} must have shape (*sample_shape, *{tuple(tail)}), got {tuple(value.shape)}")
        if value.device != self.means.device:
            raise ValueError(f"{name} is on {value.device}, the mixture on {self.means.device}")

    def cdf_transform(self, value: torch.Tensor) -> torch.Tensor:
        """The distributional transform u = T(x), u_d = F_d(x_d | x_<d) (DESIGN.md 3.1).

        Maps samples of the mixture to independent uniforms; differentiable (autograd through
        the torch-op recurrence, on any device).

        Parameters
        ----------
        value : torch.Tensor, shape (*sample, *batch, D)

        Returns
        -------
        torch.Tensor, the shape and dtype of ``value``
        """
        self._check_points(value, "value")
        return _diag_math.cdf_transform(self.logits, self.means, self.scales, value)

    def quantile(self, u: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`cdf_transform`: solves F_d(x_d | x_<d) = u_d coordinate by coordinate.

        Differentiable in the parameters (the implicit gradient, u held fixed) and in ``u``
        (dx/du), to any order.

        Parameters
        ----------
        u : torch.Tensor, shape (*sample, *batch, D)
            Values in [0, 1] (0 and 1 map to -inf and +inf).

        Returns
        -------
        torch.Tensor, the shape of ``u`` broadcast with the batch, the mixture's dtype
        """
        self._check_points(u, "u")
        tail = (*self.batch_shape, *self.event_shape)
        u = u.to(self.means.dtype).expand(*u.shape[: u.dim() - len(tail)], *tail)
        params = (self.logits, self.means, self.scales)
        if self.backend == "core":
            x = core_quantile(*(t.detach() for t in params), u.detach())
        else:
            x = native_quantile(*(t.detach() for t in params), u.detach())
        return implicit_reparameterization(*params, x, u, self.backend == "core")

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
            ``backend="core"`` only: explicit seed of mixgrad's Philox generator (bit-for-bit
            equal to the numpy API).
        generator : torch.Generator, optional
            ``"core"``: when ``seed`` is None, the seed is drawn from this generator.
            ``"native"``: the draws themselves come from it (on the tensors' device). Default:
            torch's global generator.
        """
        shape = check_sample_shape(sample_shape, self.batch_shape.numel() * self.event_shape[0], self.means.dtype)
        params = (self.logits, self.means, self.scales)
        if self.backend == "native":
            if seed is not None:
                raise ValueError(
                    "seed= selects mixgrad's Philox stream on backend='core'; on backend='native' the draws "
                    "come from torch's generator: pass generator= instead"
                )
            draw = _diag_sampling.sample_exact if self.method == "exact" else _diag_sampling.sample_quantile
            a, m, s = (t.detach() for t in params)
            x = draw(a, m, s, shape, generator)
        else:
            x = self._core_draw(shape, seed, generator)
        x = x.reshape(*shape, *self.batch_shape, *self.event_shape)
        return implicit_reparameterization(*params, x, None, self.backend == "core")

    def _core_draw(self, shape: torch.Size, seed, generator: torch.Generator | None) -> torch.Tensor:
        """Samples from the C++ core (the custom op, which torch.compile traces, for int seeds)."""
        seed = core_seed(seed, generator)
        n = int(math.prod(shape)) if len(shape) else -1
        params = tuple(t.detach() for t in (self.logits, self.means, self.scales))
        if isinstance(seed, (int, np.integer)) and 0 <= seed <= SEED_BOUND:
            return core_sample(*params, n, int(seed), self.method)
        a, m, s = (t.numpy() for t in params)
        return torch.from_numpy(np.ascontiguousarray(_adapter.draw(a, m, s, None if n < 0 else n, seed, self.method)))

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
        new.backend = self.backend
        super(DiagGaussianMixture, new).__init__(batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new
