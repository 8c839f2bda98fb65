"""Diagonal Gaussian mixtures with implicit reparameterization gradients.

A batch of mixtures (leading batch dimensions, e.g. the output of a mixture density network)
with logits ``(..., K)``, means and scales ``(..., K, D)``. Samples are drawn exactly (component,
then Gaussian); gradients of a loss through the samples with respect to all parameters, the
mixing logits included, come from the implicit reparameterization of the ancestral
distributional transform (DESIGN.md section 3), in O(K*D) per sample and without root finding.
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

__all__ = ["DiagGaussianMixture", "MixtureGradient"]


class MixtureGradient(NamedTuple):
    """Gradients (or tangents) with respect to the mixture parameters."""

    logits: np.ndarray
    means: np.ndarray
    scales: np.ndarray


class Window(NamedTuple):
    """Where the rows of one call sit in a larger call (a chunk of a Dask array).

    Samples ``s0 ..`` of mixtures ``b0 ..`` of a call on ``B_whole`` mixtures and ``S_whole``
    samples each: the rows draw with the Philox counters of those rows, and the kernels choose
    their parameter layout from the whole call's shapes, so every row, and every mixture's sum
    over its samples, comes out as in the whole call. Zeros: this call is the whole.
    """

    s0: int = 0
    b0: int = 0
    B_whole: int = 0
    S_whole: int = 0


WHOLE = Window()


class DiagGaussianMixture(_MixtureCommon):
    """A batch of Gaussian mixtures with diagonal covariances.

    Parameters
    ----------
    logits : array_like, shape (..., K)
        Unnormalized log mixing weights (weights = softmax(logits)). ``-inf`` gives a component
        of weight zero; NaN and ``+inf`` are rejected.
    means : array_like, shape (..., K, D)
        Component means (finite).
    scales : array_like, shape (..., K, D)
        Component standard deviations (finite, > 0).

    Notes
    -----
    The parameters are copied (read-only) on construction: changing the arrays passed in
    afterwards does not change the mixture. The leading dimensions ``...`` (``batch_shape``)
    index independent mixtures and must agree across the three arrays. The computation dtype
    is float32 when all three are float32, else float64; kernels accumulate in float64 either
    way. Arrays of samples have shape
    ``(*sample_shape, *batch_shape, D)``.

    Examples
    --------
    >>> import numpy as np, mixgrad
    >>> m = mixgrad.DiagGaussianMixture(np.zeros(2), np.array([[-1.0], [1.0]]), np.ones((2, 1)))
    >>> x = m.sample(1000, seed=0)
    >>> g = m.vjp(x, np.ones_like(x))      # gradient of sum(x) w.r.t. logits, means, scales
    >>> g.means.shape
    (2, 1)
    """

    _gradient_type = MixtureGradient

    def __init__(self, logits: Any, means: Any, scales: Any) -> None:
        a = _as_param(logits, "logits")
        m = _as_param(means, "means")
        s = _as_param(scales, "scales")
        if m.ndim < 2:
            raise ValueError(f"means: expected shape (..., K, D), got {m.shape}")
        if s.shape != m.shape:
            raise ValueError(f"scales: expected the shape of means {m.shape}, got {s.shape}")
        if a.shape != m.shape[:-1]:
            raise ValueError(f"logits: expected shape {m.shape[:-1]} (means.shape[:-1]), got {a.shape}")
        K, D = m.shape[-2], m.shape[-1]
        if K < 1 or D < 1:
            raise ValueError(f"means: need K >= 1 components and D >= 1 dimensions, got K={K}, D={D}")
        dtype = result_dtype(a, m, s, names=("logits", "means", "scales"))
        if not (a.dtype == np.float32 and m.dtype == np.float32 and s.dtype == np.float32):
            dtype = np.dtype(np.float64)
        self._dtype = np.dtype(dtype)
        self._batch_shape = tuple(m.shape[:-2])
        B = int(np.prod(self._batch_shape, dtype=np.int64))
        # Owned copies (never views of the caller's arrays, which could be edited after the
        # checks below), read-only so that nothing can change them afterwards either.
        self._a = _owned(a, dtype, (B, K))
        self._m = _owned(m, dtype, (B, K, D))
        self._s = _owned(s, dtype, (B, K, D))
        if np.isnan(self._a).any() or (self._a == np.inf).any():
            raise ValueError("logits must not be NaN or +inf (-inf is allowed: a weight of zero)")
        if B and (self._a == -np.inf).all(axis=-1).any():
            raise ValueError("logits: every mixture needs at least one finite logit")
        if not np.isfinite(self._m).all():
            raise ValueError("means must be finite")
        if not (np.isfinite(self._s).all() and (self._s > 0).all()):
            raise ValueError("scales must be finite and > 0")
        if B == 0:
            raise ValueError("the batch shape must not contain zeros")

    # ---------------------------------------------------------------- properties
    @property
    def scales(self) -> np.ndarray:
        """Scales, shape ``(*batch_shape, K, D)``."""
        return self._view(self._s, (self.n_components, self.event_shape[0]))

    def __repr__(self) -> str:
        return (
            f"DiagGaussianMixture(batch_shape={self._batch_shape}, K={self.n_components}, "
            f"D={self.event_shape[0]}, dtype={self._dtype})"
        )

    # ---------------------------------------------------------------- helpers
    def _params(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self._a, self._m, self._s

    # ---------------------------------------------------------------- densities and transforms
    def log_prob(self, x: Any, *, nthreads: int | None = None) -> np.ndarray:
        """Log density at ``x`` (shape ``(*sample, *batch, D)``); returns shape ``x.shape[:-1]``.

        NaN in a row gives NaN for that row only.
        """
        return self._log_prob(x, nthreads, WHOLE)

    def _log_prob(self, x: Any, nthreads: int | None, window: Window) -> np.ndarray:
        rows, shape = self._rows(x, "x")
        out = _core.mixture_log_prob(*self._params(), rows, resolve_nthreads(nthreads), window)
        return out.reshape(shape[:-1])

    def cdf_transform(self, x: Any, *, nthreads: int | None = None) -> np.ndarray:
        """The distributional transform u = T(x): u_d = F_d(x_d | x_<d) (ancestral factorization).

        Maps samples of the mixture to independent uniforms. Same shape as ``x``.
        """
        return self._cdf_transform(x, nthreads, WHOLE)

    def _cdf_transform(self, x: Any, nthreads: int | None, window: Window) -> np.ndarray:
        rows, shape = self._rows(x, "x")
        return _core.mixture_cdf_transform(*self._params(), rows, resolve_nthreads(nthreads), window).reshape(shape)

    def quantile(self, u: Any, *, nthreads: int | None = None) -> np.ndarray:
        """Inverse of :meth:`cdf_transform`: solves F_d(x_d | x_<d) = u_d coordinate by coordinate.

        Safeguarded Newton iterations on log F (or log of the survival function above 1/2)
        inside the bracket of the component quantiles, so tails down to u = 1e-300 converge.
        Where the earlier coordinates leave one component so dominant that the others weigh
        less than 2^-54 min(u, 1 - u) in total, the result is that component's own quantile
        (the root to within rounding), computed without iterating.

        Parameters
        ----------
        u : array_like, shape (*sample, *batch, D)
            Values in [0, 1] (0 and 1 map to -inf and +inf); NaN gives a NaN row.
        """
        rows, shape = self._rows(u, "u")
        bad = (rows < 0) | (rows > 1)
        if bad.any():
            raise ValueError("u must lie in [0, 1]")
        return _core.mixture_quantile(*self._params(), rows, resolve_nthreads(nthreads)).reshape(shape)

    def transport(self, x: Any, to: DiagGaussianMixture, *, nthreads: int | None = None) -> np.ndarray:
        """The mass-preserving map F_to^{-1}(F_self(x)) through the ancestral transforms.

        Parameters
        ----------
        x : array_like, shape (*sample, *batch, D)
        to : DiagGaussianMixture
            Target mixture with the same batch shape and event shape (K may differ).
        """
        if not isinstance(to, DiagGaussianMixture):
            raise TypeError(f"to must be a DiagGaussianMixture, got {type(to).__name__}")
        if to.batch_shape != self.batch_shape or to.event_shape != self.event_shape:
            raise ValueError(
                f"to: expected batch_shape {self.batch_shape} and event_shape {self.event_shape}, "
                f"got {to.batch_shape} and {to.event_shape}"
            )
        # Through the smaller tail in log space (log F, or -log S in the upper half), so that
        # points whose u would round to 0 or 1 still map to finite points.
        rows, shape = self._rows(x, "x")
        nt = resolve_nthreads(nthreads)
        v = _core.mixture_log_tail(*self._params(), rows, nt).astype(to.dtype, copy=False)
        return _core.mixture_quantile(*to._params(), v, nt, log_tail=True).reshape(shape)

    # ---------------------------------------------------------------- sampling
    def sample(self, n: int | None = None, seed: SeedLike = None, *, nthreads: int | None = None) -> np.ndarray:
        """Exact samples: component k ~ Categorical(weights), then x = mu_k + sigma_k * eps.

        Parameters
        ----------
        n : int, optional
            Number of samples per mixture; the result has shape ``(n, *batch_shape, D)``, or
            ``(*batch_shape, D)`` when n is None.
        seed : None, int, SeedSequence or Generator
            Philox key source; the same seed gives bit-identical samples for any thread count.
        """
        return self._sample(n, philox_key(seed), nthreads, WHOLE)

    def _sample(self, n: int | None, key: tuple[int, int], nthreads: int | None, window: Window) -> np.ndarray:
        count, lead = self._sample_count(n)
        out = _core.mixture_sample(*self._params(), count, key[0], key[1], resolve_nthreads(nthreads), window)
        return out.reshape(lead + self._batch_shape + self.event_shape)

    # ---------------------------------------------------------------- gradients
    def vjp(self, x: Any, grad_x: Any, *, nthreads: int | None = None) -> MixtureGradient:
        """Implicit-reparameterization gradient of sum(grad_x * x) with respect to the parameters.

        ``x`` may come from any sampler (it need not come from :meth:`sample`); the gradient
        holds u = T(x) fixed (Graves 2016, Figurnov et al. 2018) and is computed by a reverse
        recurrence in O(K*D) per sample, without root finding (DESIGN.md 3.3).

        Parameters
        ----------
        x : array_like, shape (*sample, *batch, D)
        grad_x : array_like
            Upstream gradient dL/dx, broadcastable to ``x.shape``.

        Returns
        -------
        MixtureGradient
            ``logits`` (*batch, K), ``means`` and ``scales`` (*batch, K, D), summed over the
            sample dimensions.
        """
        return self._vjp(x, grad_x, nthreads, WHOLE)

    def _vjp(self, x: Any, grad_x: Any, nthreads: int | None, window: Window) -> MixtureGradient:
        rows, shape = self._rows(x, "x")
        g = self._grad_rows(grad_x, shape)
        ga, gm, gs = _core.mixture_vjp(*self._params(), rows, g, resolve_nthreads(nthreads), window)
        return self._as_grad(ga, gm, gs)

    def jvp(self, x: Any, tangents: MixtureGradient | Mapping[str, Any], *, nthreads: int | None = None) -> np.ndarray:
        """Forward-mode product: the change of x (u held fixed) along a parameter direction.

        Parameters
        ----------
        x : array_like, shape (*sample, *batch, D)
        tangents : MixtureGradient or mapping with keys 'logits', 'means', 'scales'
            Directions shaped like the parameters; a missing key means zero.

        Returns
        -------
        ndarray, shape of x
        """
        rows, shape = self._rows(x, "x")
        t = self._tangents(tangents)
        out = _core.mixture_jvp(*self._params(), rows, *t, resolve_nthreads(nthreads))
        return out.reshape(shape)

    def jacobian(self, x: Any, *, nthreads: int | None = None) -> MixtureGradient:
        """Full Jacobian of x (u held fixed) with respect to its own mixture's parameters.

        Meant for small problems and checks: one :meth:`jvp` per parameter of one mixture.

        Returns
        -------
        MixtureGradient
            ``logits[..., d, k] = dx_d/da_k`` with shape ``(*x.shape, K)``;
            ``means[..., d, k, e] = dx_d/dmu_ke`` and likewise ``scales``, shape ``(*x.shape, K, D)``.
        """
        rows, shape = self._rows(x, "x")
        K, D = self.n_components, self.event_shape[0]
        za, zm, zs = np.zeros_like(self._a), np.zeros_like(self._m), np.zeros_like(self._s)
        nt = resolve_nthreads(nthreads)
        ja = np.empty((*shape, K), dtype=self._dtype)
        jm = np.empty((*shape, K, D), dtype=self._dtype)
        js = np.empty((*shape, K, D), dtype=self._dtype)
        for k in range(K):
            ta = za.copy()
            ta[:, k] = 1
            ja[..., k] = _core.mixture_jvp(*self._params(), rows, ta, zm, zs, nt).reshape(shape)
            for e in range(D):
                tm = zm.copy()
                tm[:, k, e] = 1
                jm[..., k, e] = _core.mixture_jvp(*self._params(), rows, za, tm, zs, nt).reshape(shape)
                jm_s = zs.copy()
                jm_s[:, k, e] = 1
                js[..., k, e] = _core.mixture_jvp(*self._params(), rows, za, zm, jm_s, nt).reshape(shape)
        return MixtureGradient(ja, jm, js)

    def sample_and_vjp(
        self,
        n: int | None,
        grad: Callable[[np.ndarray], Any] | Any,
        seed: SeedLike = None,
        *,
        nthreads: int | None = None,
    ) -> tuple[np.ndarray, MixtureGradient]:
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
        gradient : MixtureGradient
        """
        if callable(grad):
            x = self.sample(n, seed, nthreads=nthreads)
            return x, self.vjp(x, grad(x), nthreads=nthreads)
        return self._sample_and_vjp(n, grad, philox_key(seed), nthreads, WHOLE)

    def _sample_and_vjp(
        self, n: int | None, grad: Any, key: tuple[int, int], nthreads: int | None, window: Window
    ) -> tuple[np.ndarray, MixtureGradient]:
        count, lead = self._sample_count(n)
        shape = lead + self._batch_shape + self.event_shape
        g = self._grad_rows(grad, shape)
        # One pass: each block of rows is drawn and differentiated while in cache (the same
        # numbers as sample() followed by vjp()).
        x, ga, gm, gs = _core.mixture_sample_vjp(
            *self._params(), count, key[0], key[1], g, resolve_nthreads(nthreads), window
        )
        return x.reshape(shape), self._as_grad(ga, gm, gs)
