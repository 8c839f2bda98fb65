"""Pyro distribution (optional extra ``mixgrad[pyro]``): the diagonal Gaussian mixture of
:mod:`mixgrad.torch` with Pyro's distribution interface, for ``pyro.sample`` in models and
guides.

    guide: pyro.sample("z", mixgrad.pyro.DiagGaussianMixture(logits, means, scales))

``rsample`` is reparameterized in the mixing logits, the means and the scales (implicit
reparameterization, DESIGN.md section 3), so ``Trace_ELBO`` uses pathwise gradients for the
whole mixture, as it cannot for ``MixtureSameFamily``. Plates, ``expand`` (the result keeps this
class), ``to_event``, ``mask`` and vectorized particles (``Trace_ELBO(num_particles=n,
vectorize_particles=True)``) work as for Pyro's own distributions.

Importing this module imports torch and Pyro; a clear ImportError names the extra when one is
missing.
"""

from __future__ import annotations

from ._extras import missing_extra
from .torch import mixture as _torch_mixture

try:
    from pyro.distributions.torch_distribution import TorchDistributionMixin
    from pyro.distributions.util import broadcast_shape
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise missing_extra("pyro", "Pyro", "pyro-ppl") from exc

__all__ = ["DiagGaussianMixture"]


class DiagGaussianMixture(_torch_mixture.DiagGaussianMixture, TorchDistributionMixin):
    """Mixture of diagonal Gaussians with a reparameterized ``rsample``, as a Pyro distribution.

    The constructor, ``rsample``, ``log_prob``, ``mean`` and ``variance`` are those of
    :class:`mixgrad.torch.DiagGaussianMixture` (same arguments, same samples for the same
    seed); this class adds Pyro's interface (calling the distribution draws a sample,
    ``to_event``, ``expand_by``, ``mask``, shape inference). ``expand`` returns an instance of
    this class, so an expanded site (a plate, vectorized particles) is still reparameterized.

    Parameters
    ----------
    logits : torch.Tensor, shape (..., K)
        Unnormalized log mixing weights (``-inf``: weight zero).
    means : torch.Tensor, shape (..., K, D)
        Component means.
    scales : torch.Tensor, shape (..., K, D)
        Component standard deviations (> 0).
    method : {"exact", "quantile"}
        How ``rsample`` draws (see :class:`mixgrad.torch.DiagGaussianMixture`).
    validate_args : bool, optional
        Passed to :class:`torch.distributions.Distribution` (Pyro turns validation on by
        default).
    **kwargs
        Further keyword arguments of :class:`mixgrad.torch.DiagGaussianMixture` (for instance
        its backend choice, where the installed version has one).

    Examples
    --------
    >>> import torch, pyro, mixgrad.pyro
    >>> def guide():
    ...     logits = pyro.param("logits", torch.zeros(2))
    ...     means = pyro.param("means", torch.tensor([[-1.0, 0.0], [1.0, 0.0]]))
    ...     scales = pyro.param("scales", torch.ones(2, 2), constraint=torch.distributions.constraints.positive)
    ...     return pyro.sample("z", mixgrad.pyro.DiagGaussianMixture(logits, means, scales))
    """

    @staticmethod
    def infer_shapes(logits, means, scales):  # type: ignore[override]  # named shapes, as Pyro's own subclasses
        """Batch and event shapes of a mixture with parameters of the given shapes.

        Parameters
        ----------
        logits : tuple of int
            Shape of the logits, (..., K).
        means, scales : tuple of int
            Shapes of the means and scales, (..., K, D).

        Returns
        -------
        batch_shape, event_shape : tuple of int
        """
        batch_shape = broadcast_shape(tuple(logits[:-1]), tuple(means[:-2]), tuple(scales[:-2]))
        return batch_shape, tuple(means[-1:])
