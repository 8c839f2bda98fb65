"""Gaussian mixtures with full covariances, with implicit reparameterization gradients.

A batch of mixtures with logits ``(..., K)``, means ``(..., K, D)`` and Cholesky factors
``scale_tril`` ``(..., K, D, D)`` (covariance ``L L^T``, the convention of torch's
``MultivariateNormal`` and TFP's ``MultivariateNormalTriL``). Samples are drawn exactly
(component, then ``mu + L eps``); gradients of a loss through the samples with respect to all
parameters, the mixing logits included, come from the implicit reparameterization of the
ancestral distributional transform (DESIGN.md section 3.5), in O(K*D^2) per sample and without
root finding. Coordinate d given the earlier ones is a 1-D Gaussian mixture with locations
``m_kd = mu_kd + sum_{j<d} L_kdj eps_kj`` and scales ``L_kdd``, so the compiled core runs the
diagonal mixture's per-coordinate kernels on those.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable, NamedTuple

import numpy as np

from ._arrays import result_dtype
from ._loader import _core
from ._mixture_common import _as_param, _MixtureCommon, _owned
from ._seeding import SeedLike, philox_key
from ._threads import resolve_nthreads
from .mixture import DiagGaussianMixture

__all__ = ["FullMixtureGradient", "GaussianMixture"]


class FullMixtureGradient(NamedTuple):
    """Gradients (or tangents) with respect to the parameters of a :class:`GaussianMixture`."""

    logits: np.ndarray
    means: np.ndarray
    scale_tril: np.ndarray


class GaussianMixture(_MixtureCommon):
    """A batch of Gaussian mixtures with full covariances ``scale_tril @ scale_tril.T``.

    Parameters
    ----------
    logits : array_like, shape (..., K)
        Unnormalized log mixing weights (weights = softmax(logits)). ``-inf`` gives a component
        of weight zero; NaN and ``+inf`` are rejected.
    means : array_like, shape (..., K, D)
        Component means (finite).
    scale_tril : array_like, shape (..., K, D, D)
        Lower-triangular Cholesky factors of the component covariances: finite, with a
        diagonal > 0. The upper triangle must be exactly zero (a ValueError naming
        ``scale_tril`` otherwise): it is neither ignored nor symmetrized.

    Notes
    -----
    The parameters are copied (read-only) on construction. The leading dimensions ``...``
    (``batch_shape``) index independent mixtures and must agree across the three arrays. The
    computation dtype is float32 when all three are float32, else float64; kernels accumulate
    in float64 either way. Arrays of samples have shape ``(*sample_shape, *batch_shape, D)``.
    With a diagonal ``scale_tril`` every method agrees with :class:`DiagGaussianMixture` with
    ``scales`` the diagonal (to rounding). Ill-conditioned factors work as far as the forward
    substitution ``eps = L^{-1}(x - mu)`` does in float64.

    Examples
    --------
    >>> import numpy as np, mixgrad
    >>> tril = np.array([[[1.0, 0.0], [0.9, 0.5]], [[1.0, 0.0], [-0.5, 1.0]]])
    >>> m = mixgrad.GaussianMixture(np.zeros(2), np.array([[-1.0, 0.0], [1.0, 2.0]]), tril)
    >>> x = m.sample(1000, seed=0)
    >>> g = m.vjp(x, np.ones_like(x))   # gradient of sum(x) w.r.t. logits, means, scale_tril
    >>> g.scale_tril.shape
    (2, 2, 2)
    """

    _gradient_type = FullMixtureGradient

    def __init__(self, logits: Any, means: Any, scale_tril: Any) -> None:
        a = _as_param(logits, "logits")
        m = _as_param(means, "means")
        t = _as_param(scale_tril, "scale_tril")
        if m.ndim < 2:
            raise ValueError(f"means: expected shape (..., K, D), got {m.shape}")
        if t.shape != m.shape + m.shape[-1:]:
            raise ValueError(f"scale_tril: expected shape {m.shape + m.shape[-1:]} (means.shape + (D,)), got {t.shape}")
        if a.shape != m.shape[:-1]:
            raise ValueError(f"logits: expected shape {m.shape[:-1]} (means.shape[:-1]), got {a.shape}")
        K, D = m.shape[-2], m.shape[-1]
        if K < 1 or D < 1:
            raise ValueError(f"means: need K >= 1 components and D >= 1 dimensions, got K={K}, D={D}")
        dtype = result_dtype(a, m, t, names=("logits", "means", "scale_tril"))
        if not (a.dtype == np.float32 and m.dtype == np.float32 and t.dtype == np.float32):
            dtype = np.dtype(np.float64)
        self._dtype = np.dtype(dtype)
        self._batch_shape = tuple(m.shape[:-2])
        B = int(np.prod(self._batch_shape, dtype=np.int64))
        if B == 0:
            raise ValueError("the batch shape must not contain zeros")
        self._a = _owned(a, dtype, (B, K))
        self._m = _owned(m, dtype, (B, K, D))
        self._t = _owned(t, dtype, (B, K, D, D))
        if np.isnan(self._a).any() or (self._a == np.inf).any():
            raise ValueError("logits must not be NaN or +inf (-inf is allowed: a weight of zero)")
        if (self._a == -np.inf).all(axis=-1).any():
            raise ValueError("logits: every mixture needs at least one finite logit")
        if not np.isfinite(self._m).all():
            raise ValueError("means must be finite")
        if not np.isfinite(self._t).all():
            raise ValueError("scale_tril must be finite (no NaN or inf)")
        if np.triu(self._t, 1).any():
            raise ValueError("scale_tril must be lower triangular: its upper triangle has nonzero entries")
        if not (np.diagonal(self._t, axis1=-2, axis2=-1) > 0).all():
            raise ValueError("scale_tril: the diagonal must be > 0 (a nonsingular Cholesky factor)")

    # ---------------------------------------------------------------- properties
    @property
    def scale_tril(self) -> np.ndarray:
        """Cholesky factors, shape ``(*batch_shape, K, D, D)`` (a read-only view)."""
        D = self.event_shape[0]
        return self._view(self._t, (self.n_components, D, D))

    def covariance(self) -> np.ndarray:
        """Component covariances ``L L^T``, shape ``(*batch_shape, K, D, D)``."""
        t = self._t.astype(np.float64)
        c = np.einsum("bkij,bklj->bkil", t, t).astype(self._dtype)
        D = self.event_shape[0]
        return c.reshape((*self._batch_shape, self.n_components, D, D))

    def __repr__(self) -> str:
        return (
            f"GaussianMixture(batch_shape={self._batch_shape}, K={self.n_components}, "
            f"D={self.event_shape[0]}, dtype={self._dtype})"
        )

    def _params(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self._a, self._m, self._t

    # ---------------------------------------------------------------- densities and transforms
    def log_prob(self, x: Any, *, nthreads: int | None = None) -> np.ndarray:
        """Log density at ``x`` (shape ``(*sample, *batch, D)``); returns shape ``x.shape[:-1]``.

        NaN in a row gives NaN for that row only.
        """
        rows, shape = self._rows(x, "x")
        out = _core.mixture_full_log_prob(*self._params(), rows, resolve_nthreads(nthreads))
        return out.reshape(shape[:-1])

    def cdf_transform(self, x: Any, *, nthreads: int | None = None) -> np.ndarray:
        """The distributional transform u = T(x): u_d = F_d(x_d | x_<d) (ancestral factorization).

        Maps samples of the mixture to independent uniforms. Same shape as ``x``.
        """
        rows, shape = self._rows(x, "x")
        return _core.mixture_full_cdf_transform(*self._params(), rows, resolve_nthreads(nthreads)).reshape(shape)

    def quantile(self, u: Any, *, nthreads: int | None = None) -> np.ndarray:
        """Inverse of :meth:`cdf_transform`: solves F_d(x_d | x_<d) = u_d coordinate by coordinate.

        Coordinate d is the 1-D mixture with locations ``m_kd`` (from the coordinates already
        solved) and scales ``L_kdd``, solved by the safeguarded Newton iteration in log space of
        :meth:`DiagGaussianMixture.quantile`, so tails down to u = 1e-300 converge.

        Parameters
        ----------
        u : array_like, shape (*sample, *batch, D)
            Values in [0, 1] (0 and 1 map to -inf and +inf); NaN gives a NaN row.
        """
        rows, shape = self._rows(u, "u")
        if ((rows < 0) | (rows > 1)).any():
            raise ValueError("u must lie in [0, 1]")
        return _core.mixture_full_quantile(*self._params(), rows, resolve_nthreads(nthreads)).reshape(shape)

    def transport(
        self, x: Any, to: GaussianMixture | DiagGaussianMixture, *, nthreads: int | None = None
    ) -> np.ndarray:
        """The mass-preserving map F_to^{-1}(F_self(x)) through the ancestral transforms.

        Parameters
        ----------
        x : array_like, shape (*sample, *batch, D)
        to : GaussianMixture or DiagGaussianMixture
            Target mixture with the same batch shape and event shape (K may differ).
        """
        if not isinstance(to, (GaussianMixture, DiagGaussianMixture)):
            raise TypeError(f"to must be a GaussianMixture or DiagGaussianMixture, got {type(to).__name__}")
        if to.batch_shape != self.batch_shape or to.event_shape != self.event_shape:
            raise ValueError(
                f"to: expected batch_shape {self.batch_shape} and event_shape {self.event_shape}, "
                f"got {to.batch_shape} and {to.event_shape}"
            )
        # Through the smaller tail in log space, so that points whose u would round to 0 or 1
        # still map to finite points.
        rows, shape = self._rows(x, "x")
        nt = resolve_nthreads(nthreads)
        v = _core.mixture_full_log_tail(*self._params(), rows, nt).astype(to.dtype, copy=False)
        solve = _core.mixture_full_quantile if isinstance(to, GaussianMixture) else _core.mixture_quantile
        return solve(*to._params(), v, nt, log_tail=True).reshape(shape)

    # ---------------------------------------------------------------- sampling
    def sample(self, n: int | None = None, seed: SeedLike = None, *, nthreads: int | None = None) -> np.ndarray:
        """Exact samples: component k ~ Categorical(weights), then x = mu_k + L_k eps.

        The standard normals eps and the component choice are those of
        :meth:`DiagGaussianMixture.sample` for the same seed.

        Parameters
        ----------
        n : int, optional
            Number of samples per mixture; the result has shape ``(n, *batch_shape, D)``, or
            ``(*batch_shape, D)`` when n is None.
        seed : None, int, SeedSequence or Generator
            Philox key source; the same seed gives bit-identical samples for any thread count.
        """
        count, lead = self._sample_count(n)
        k0, k1 = philox_key(seed)
        out = _core.mixture_full_sample(*self._params(), count, k0, k1, resolve_nthreads(nthreads))
        return out.reshape(lead + self._batch_shape + self.event_shape)

    # ---------------------------------------------------------------- gradients
    def vjp(self, x: Any, grad_x: Any, *, nthreads: int | None = None) -> FullMixtureGradient:
        """Implicit-reparameterization gradient of sum(grad_x * x) with respect to the parameters.

        ``x`` may come from any sampler; the gradient holds u = T(x) fixed and is computed by the
        reverse recurrence of DESIGN.md 3.5 in O(K*D^2) per sample, without root finding. For
        K = 1 it is the reparameterization trick: means = grad_x, scale_tril = tril(grad_x eps^T).

        Parameters
        ----------
        x : array_like, shape (*sample, *batch, D)
        grad_x : array_like
            Upstream gradient dL/dx, broadcastable to ``x.shape``.

        Returns
        -------
        FullMixtureGradient
            ``logits`` (*batch, K), ``means`` (*batch, K, D) and ``scale_tril``
            (*batch, K, D, D), summed over the sample dimensions. The ``scale_tril`` gradient is
            lower triangular (zeros above the diagonal): the derivative with respect to the
            lower-triangular entries, the upper ones not being parameters.
        """
        rows, shape = self._rows(x, "x")
        g = self._grad_rows(grad_x, shape)
        ga, gm, gl = _core.mixture_full_vjp(*self._params(), rows, g, resolve_nthreads(nthreads))
        return self._as_grad(ga, gm, gl)

    def jvp(
        self, x: Any, tangents: FullMixtureGradient | Mapping[str, Any], *, nthreads: int | None = None
    ) -> np.ndarray:
        """Forward-mode product: the change of x (u held fixed) along a parameter direction.

        Computed natively by the forward recurrence (the tangents of the locations m_kd follow
        those of the earlier coordinates), in O(K*D^2) per sample.

        Parameters
        ----------
        x : array_like, shape (*sample, *batch, D)
        tangents : FullMixtureGradient or mapping with keys 'logits', 'means', 'scale_tril'
            Directions shaped like the parameters; a missing key means zero. The upper triangle
            of the ``scale_tril`` direction is ignored.

        Returns
        -------
        ndarray, shape of x
        """
        rows, shape = self._rows(x, "x")
        t = self._tangents(tangents)
        out = _core.mixture_full_jvp(*self._params(), rows, *t, resolve_nthreads(nthreads))
        return out.reshape(shape)

    def _tangents(self, tangents: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        ta, tm, tt = super()._tangents(tangents)
        return ta, tm, np.tril(tt)  # the upper triangle is not a parameter

    def jacobian(self, x: Any, *, nthreads: int | None = None) -> FullMixtureGradient:
        """Full Jacobian of x (u held fixed) with respect to its own mixture's parameters.

        Meant for small problems and checks: one :meth:`jvp` per parameter of one mixture
        (K + K*D + K*D*(D+1)/2 of them).

        Returns
        -------
        FullMixtureGradient
            ``logits[..., d, k] = dx_d/da_k`` with shape ``(*x.shape, K)``;
            ``means[..., d, k, e] = dx_d/dmu_ke``, shape ``(*x.shape, K, D)``;
            ``scale_tril[..., d, k, e, f] = dx_d/dL_kef``, shape ``(*x.shape, K, D, D)``
            (zero for f > e).
        """
        rows, shape = self._rows(x, "x")
        K, D = self.n_components, self.event_shape[0]
        za, zm, zt = np.zeros_like(self._a), np.zeros_like(self._m), np.zeros_like(self._t)
        nt = resolve_nthreads(nthreads)

        def jvp(ta: np.ndarray, tm: np.ndarray, tt: np.ndarray) -> np.ndarray:
            return _core.mixture_full_jvp(*self._params(), rows, ta, tm, tt, nt).reshape(shape)

        ja = np.empty((*shape, K), dtype=self._dtype)
        jm = np.empty((*shape, K, D), dtype=self._dtype)
        jt = np.zeros((*shape, K, D, D), dtype=self._dtype)
        for k in range(K):
            ta = za.copy()
            ta[:, k] = 1
            ja[..., k] = jvp(ta, zm, zt)
            for e in range(D):
                tm = zm.copy()
                tm[:, k, e] = 1
                jm[..., k, e] = jvp(za, tm, zt)
                for f in range(e + 1):
                    tt = zt.copy()
                    tt[:, k, e, f] = 1
                    jt[..., k, e, f] = jvp(za, zm, tt)
        return FullMixtureGradient(ja, jm, jt)

    def sample_and_vjp(
        self,
        n: int | None,
        grad: Callable[[np.ndarray], Any] | Any,
        seed: SeedLike = None,
        *,
        nthreads: int | None = None,
    ) -> tuple[np.ndarray, FullMixtureGradient]:
        """Draw samples and return them with the gradient of sum(grad_x * x).

        Parameters
        ----------
        n : int or None
            As in :meth:`sample`.
        grad : callable or array_like
            ``grad(x)`` returning dL/dx, or dL/dx itself (broadcastable to the samples' shape).
            With an array the samples are drawn and differentiated in one pass over the rows
            (same results as :meth:`sample` followed by :meth:`vjp`).
        seed : None, int, SeedSequence or Generator

        Returns
        -------
        x : ndarray
        gradient : FullMixtureGradient
        """
        if callable(grad):
            x = self.sample(n, seed, nthreads=nthreads)
            return x, self.vjp(x, grad(x), nthreads=nthreads)
        count, lead = self._sample_count(n)
        shape = lead + self._batch_shape + self.event_shape
        g = self._grad_rows(grad, shape)
        k0, k1 = philox_key(seed)
        x, ga, gm, gl = _core.mixture_full_sample_vjp(*self._params(), count, k0, k1, g, resolve_nthreads(nthreads))
        return x.reshape(shape), self._as_grad(ga, gm, gl)
