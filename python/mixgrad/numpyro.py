"""NumPyro distribution (optional extra ``mixgrad[numpyro]``): a diagonal Gaussian mixture whose
samples are reparameterized in the mixing logits, the means and the scales.

NumPyro's own mixtures (``MixtureSameFamily``, ``MixtureGeneral``) have no ``rsample``, so a
mixture guide falls back to score-function gradients. :class:`DiagGaussianMixture` draws with
:func:`mixgrad.jax.rsample` (implicit reparameterization, DESIGN.md section 3) and has
``has_rsample = True``, so ``Trace_ELBO`` differentiates through its samples; it works under
``jax.jit`` (SVI), plates and vectorized particles (``jax.vmap``). ``log_prob`` is plain
``jax.numpy``.

Importing this module imports JAX and NumPyro; a clear ImportError names the extra when one is
missing.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._extras import missing_extra
from .jax import mixture as _jax_mixture

try:
    import jax
    import jax.numpy as jnp
    from jax.scipy.special import logsumexp
    from numpyro.distributions import Distribution, constraints
    from numpyro.distributions.util import validate_sample
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise missing_extra("numpyro", "NumPyro", "numpyro") from exc

__all__ = ["DiagGaussianMixture"]

_NAMES = ("logits", "means", "scales")


class DiagGaussianMixture(Distribution):
    """Mixture of diagonal Gaussians with a reparameterized ``sample``, as a NumPyro distribution.

    Parameters
    ----------
    logits : array, shape (..., K)
        Unnormalized log mixing weights (``-inf``: weight zero).
    means : array, shape (..., K, D)
        Component means.
    scales : array, shape (..., K, D)
        Component standard deviations (> 0). The leading dimensions of the three arrays
        broadcast to the batch shape; the three share one dtype, float32 or float64.
    method : {"exact", "quantile"}
        How samples are drawn: ``"exact"`` (component, then Gaussian; the default) or
        ``"quantile"`` (quantile transform of uniforms: for a fixed key the sample is a smooth
        function of the parameters). Both give the same distribution and gradient formula.
    validate_args : bool, optional
        Check the parameters (and, in ``log_prob``, the values) against their constraints.
    **kwargs
        Further keyword arguments of :func:`mixgrad.jax.rsample` (for instance its backend
        choice, where the installed version has one).

    Raises
    ------
    TypeError
        If the arrays are not of one float dtype (float32 or float64).
    ValueError
        If the shapes do not fit, or ``method`` is unknown.

    Notes
    -----
    ``sample(key, sample_shape)`` turns the JAX key into the seed of mixgrad's Philox
    generator; samples have shape ``(*sample_shape, *batch_shape, D)`` and are differentiable
    in the three parameters.

    Examples
    --------
    >>> import jax.numpy as jnp, numpyro, mixgrad.numpyro
    >>> def guide():
    ...     logits = numpyro.param("logits", jnp.zeros(2))
    ...     means = numpyro.param("means", jnp.array([[-1.0, 0.0], [1.0, 0.0]]))
    ...     scales = numpyro.param("scales", jnp.ones((2, 2)), constraint=numpyro.distributions.constraints.positive)
    ...     return numpyro.sample("z", mixgrad.numpyro.DiagGaussianMixture(logits, means, scales))
    """

    arg_constraints = {  # noqa: RUF012 - NumPyro declares constraints as a class dict
        "logits": constraints.real_vector,
        "means": constraints.independent(constraints.real, 2),
        "scales": constraints.independent(constraints.positive, 2),
    }
    support = constraints.real_vector
    reparametrized_params = ["logits", "means", "scales"]  # noqa: RUF012 - NumPyro convention
    pytree_data_fields = ("logits", "means", "scales")
    pytree_aux_fields = ("method", "_rsample_options")

    def __init__(
        self,
        logits: Any,
        means: Any,
        scales: Any,
        *,
        method: str = "exact",
        validate_args: bool | None = None,
        **kwargs: Any,
    ) -> None:
        arrays = tuple(jnp.asarray(t) for t in (logits, means, scales))
        dtypes = {t.dtype for t in arrays}
        if len(dtypes) > 1 or arrays[1].dtype not in (jnp.float32, jnp.float64):
            raise TypeError(
                "logits, means and scales must share one dtype, float32 or float64; got "
                + ", ".join(f"{n}: {t.dtype}" for n, t in zip(_NAMES, arrays))
            )
        a, m, s = arrays
        if m.ndim < 2:
            raise ValueError(f"means must have shape (..., K, D), got {m.shape}")
        if a.ndim < 1:
            raise ValueError(f"logits must have shape (..., K), got {a.shape}")
        K, D = m.shape[-2:]
        if s.shape[-2:] != m.shape[-2:]:
            raise ValueError(f"scales must end in (K, D) = {(K, D)} like means, got {s.shape}")
        if a.shape[-1] != K:
            raise ValueError(f"logits must end in K = {K} (means.shape[-2]), got {a.shape}")
        batch_shape, event_shape = self.infer_shapes(a.shape, m.shape, s.shape)
        self.method = _jax_mixture._adapter.check_method(method)
        self._rsample_options = tuple(sorted(kwargs.items()))
        self.logits = jnp.broadcast_to(a, (*batch_shape, K))
        self.means = jnp.broadcast_to(m, (*batch_shape, K, D))
        self.scales = jnp.broadcast_to(s, (*batch_shape, K, D))
        super().__init__(batch_shape=batch_shape, event_shape=event_shape, validate_args=validate_args)

    @classmethod
    def infer_shapes(cls, logits=(), means=(), scales=()):
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

        Raises
        ------
        ValueError
            If the batch dimensions do not broadcast.
        """
        try:
            batch_shape = np.broadcast_shapes(tuple(logits[:-1]), tuple(means[:-2]), tuple(scales[:-2]))
        except ValueError:
            raise ValueError(
                f"the batch dimensions of logits {tuple(logits[:-1])}, means {tuple(means[:-2])} and "
                f"scales {tuple(scales[:-2])} do not broadcast"
            ) from None
        return tuple(batch_shape), tuple(means[-1:])

    def sample(self, key: jax.Array, sample_shape: tuple[int, ...] = ()) -> jax.Array:
        """Reparameterized samples of shape ``(*sample_shape, *batch_shape, D)``.

        Parameters
        ----------
        key : jax.Array
            A JAX PRNG key (raw uint32[2] or typed); two random words drawn from it seed
            mixgrad's generator.
        sample_shape : tuple of int
            Leading sample dimensions.

        Returns
        -------
        jax.Array
            Differentiable in ``logits``, ``means`` and ``scales``.
        """
        words = jax.random.bits(key, (2,), jnp.uint32)
        return _jax_mixture.rsample(
            self.logits,
            self.means,
            self.scales,
            words,
            tuple(sample_shape),
            method=self.method,
            **dict(self._rsample_options),
        )

    @validate_sample
    def log_prob(self, value: Any) -> jax.Array:
        """Log density, in ``jax.numpy`` (differentiable in the value and the parameters).

        Parameters
        ----------
        value : array, shape (*sample, *batch_shape, D)

        Returns
        -------
        jax.Array, shape (*sample, *batch_shape)
        """
        x = jnp.expand_dims(value, -2)
        z = (x - self.means) / self.scales
        D = self.means.shape[-1]
        component = jnp.sum(-0.5 * z * z - jnp.log(self.scales), axis=-1) - 0.5 * D * math.log(2 * math.pi)
        return logsumexp(jax.nn.log_softmax(self.logits, axis=-1) + component, axis=-1)

    @property
    def weights(self) -> jax.Array:
        """softmax(logits), shape (*batch_shape, K)."""
        return jax.nn.softmax(self.logits, axis=-1)

    @property
    def mean(self) -> jax.Array:
        """Mixture mean, shape (*batch_shape, D)."""
        return jnp.sum(self.weights[..., None] * self.means, axis=-2)

    @property
    def variance(self) -> jax.Array:
        """Per-coordinate mixture variance, shape (*batch_shape, D)."""
        second = jnp.sum(self.weights[..., None] * (self.scales**2 + self.means**2), axis=-2)
        return second - self.mean**2
