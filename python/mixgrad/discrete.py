"""Discrete distributions for the gradient estimators: Bernoulli (logistic or probit noise) and
categorical (Gumbel noise).

Logits are ``(E,)`` for one distribution or ``(B, E)`` for a batch of ``B`` independent rows
(``E = D`` coordinates for a Bernoulli vector, ``E = K`` classes for a categorical variable).
Each distribution knows its noise transform (DESIGN.md section 4.1): the noise gives a
continuous ``z`` with ``b = H(z)``, and a conditional ``z_tilde ~ p(z | b)`` with ``H(z_tilde) = b``,
either from fresh noise (``coupling="independent"``) or derived from the same noise so that
``z_tilde = z`` (``coupling="coupled"``). All draws come from the counter-based generator with the
counter (sample index, coordinate): the same seed gives the same ``b`` in :meth:`sample`,
:meth:`noise` and every estimator, for any thread count.
"""

from __future__ import annotations

import numbers
from typing import NamedTuple

import numpy as np

from . import special
from ._checks import check_count, check_size, real_array
from ._loader import _core
from ._seeding import SeedLike, philox_key
from ._threads import resolve_nthreads

__all__ = ["Bernoulli", "Categorical", "NoiseDraw"]

_COUPLINGS = ("independent", "coupled")


class NoiseDraw(NamedTuple):
    """One batch of noise draws, each array of shape ``(n, *logits.shape)`` unless noted.

    Attributes
    ----------
    z : ndarray
        Perturbed logits; ``b = H(z)``.
    b : ndarray
        The discrete sample: 0/1 (Bernoulli) or one-hot (categorical), as floats.
    z_tilde : ndarray
        Conditional sample given ``b``.
    dz_dalpha : ndarray
        ``dz/dalpha``: ones (Bernoulli, elementwise); categorical: ``(n, *batch, K, K)`` with
        entry ``[k, j] = delta_kj - theta_j``.
    dz_tilde_dalpha : ndarray
        ``dz_tilde/dalpha`` with ``b`` held fixed: elementwise (Bernoulli); categorical
        ``(n, *batch, K, K)``.
    relaxed, relaxed_tilde : ndarray
        ``sigma_lambda(z)`` and ``sigma_lambda(z_tilde)`` (sigmoid or softmax of ``z / temperature``).
    """

    z: np.ndarray
    b: np.ndarray
    z_tilde: np.ndarray
    dz_dalpha: np.ndarray
    dz_tilde_dalpha: np.ndarray
    relaxed: np.ndarray
    relaxed_tilde: np.ndarray


class RowWindow(NamedTuple):
    """Where the rows of one estimator call sit in a larger call (a chunk of rows, mixgrad.dask).

    Rows ``r0 ..`` of a call on ``R_whole`` rows: the rows draw with the Philox counters of those
    rows and the kernels keep the whole call's sample blocking, so every row's per-sample
    estimates and their sums come out as in the whole call. Zeros: this call is the whole.
    """

    r0: int = 0
    R_whole: int = 0


WHOLE_ROWS = RowWindow()


# The Philox counter of the discrete kernels carries the sample index in 32 bits.
MAX_SAMPLES = 2**32 - 1


def _check_n(n, name="n", per_sample: int = 1) -> int:
    """A sample count: an integer in [1, 2**32 - 1] whose result (``per_sample`` float64 numbers
    per sample) fits in an array; bools and floats are refused."""
    value = check_count(n, name, minimum=1, maximum=MAX_SAMPLES)
    check_size(value, per_sample, 8, name)
    return value


def check_temperature(temperature) -> float:
    """Validate a relaxation temperature (lambda > 0, finite; bools and complex numbers refused)."""
    if isinstance(temperature, (bool, np.bool_)) or not isinstance(temperature, (numbers.Real, np.number)):
        raise TypeError(f"temperature must be a positive number, got {temperature!r}")
    if isinstance(temperature, np.complexfloating):
        raise TypeError(f"temperature must be a real number, got {temperature!r}")
    lam = float(temperature)
    if not np.isfinite(lam) or lam <= 0:
        raise ValueError(f"temperature (lambda) must be finite and > 0, got {temperature!r}")
    return lam


def check_coupling(coupling) -> bool:
    if coupling not in _COUPLINGS:
        raise ValueError(f"coupling must be 'independent' or 'coupled', got {coupling!r}")
    return coupling == "coupled"


class _Discrete:
    kind: int = -1
    _allow_neg_inf = False

    def __init__(self, logits):
        a = np.asarray(logits)
        if a.dtype.kind not in "fiub":
            raise TypeError(f"logits must be real numbers, got dtype {a.dtype}")
        if a.ndim not in (1, 2):
            raise ValueError(f"logits must have shape (E,) or (B, E), got shape {a.shape}")
        if a.size == 0:
            raise ValueError(f"logits must not be empty, got shape {a.shape}")
        self.dtype = np.dtype(np.float32) if a.dtype == np.float32 else np.dtype(np.float64)
        a64 = np.array(a, dtype=np.float64)
        bad = np.isnan(a64) | (a64 == np.inf) | ((a64 == -np.inf) & (not self._allow_neg_inf))
        if bad.any():
            raise ValueError(f"logits must be finite{' or -inf' if self._allow_neg_inf else ''}, got {a64[bad][0]}")
        a64.setflags(write=False)
        self.logits = a64
        self.shape = a64.shape
        self.batched = a64.ndim == 2
        self._alpha2d = np.ascontiguousarray(a64.reshape(-1, a64.shape[-1]))

    @property
    def n_rows(self) -> int:
        """Number of rows R of the batch (1 for unbatched logits)."""
        return self._alpha2d.shape[0]

    @property
    def event_size(self) -> int:
        """E: coordinates (Bernoulli) or classes (categorical) per row."""
        return self._alpha2d.shape[1]

    def _log_probs(self):  # per family: log P(outcome) arrays
        raise NotImplementedError

    def score(self, b) -> np.ndarray:
        """d log p(b) / d logits (defined by each family)."""
        raise NotImplementedError

    def _draw(
        self,
        n: int,
        seed: SeedLike,
        temperature: float = 1.0,
        coupling: str = "independent",
        nthreads: int | None = None,
    ):
        n = _check_n(n, per_sample=6 * self._alpha2d.size)
        lam = check_temperature(temperature)
        coupled = check_coupling(coupling)
        k0, k1 = philox_key(seed)
        out = _core.rebar_noise(self.kind, self._alpha2d, n, lam, coupled, k0, k1, 0, resolve_nthreads(nthreads))
        shape = (n, *self.shape)
        return [o.reshape(shape) for o in out]

    def noise(
        self,
        n: int,
        seed: SeedLike = None,
        *,
        temperature: float = 1.0,
        coupling: str = "independent",
        nthreads: int | None = None,
    ) -> NoiseDraw:
        """Draw ``n`` noise samples and their transforms.

        Parameters
        ----------
        n : int
            Number of samples (>= 1).
        seed : None, int, SeedSequence or Generator
        temperature : float
            lambda of the relaxations ``relaxed`` and ``relaxed_tilde``.
        coupling : {"independent", "coupled"}
            Fresh conditional noise, or noise derived from the same draw (``z_tilde = z``).

        Returns
        -------
        NoiseDraw
        """
        z, b, zt, dzt, sz, szt = self._draw(n, seed, temperature, coupling, nthreads)
        return self._noise_draw(z, b, zt, dzt, sz, szt)

    def _noise_draw(self, z, b, zt, dzt, sz, szt):  # pragma: no cover - overridden
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(logits shape={self.shape})"


def _normal_mills(x: np.ndarray) -> np.ndarray:
    """phi(x) / Phi(x), accurate for every real x (the probit score's inverse Mills ratio).

    For x < 0, Phi(x) = erfcx(-x/sqrt2) exp(-x^2/2) / 2 cancels the Gaussian factor exactly:
    phi(x)/Phi(x) = sqrt(2/pi) / erfcx(-x/sqrt2) (about -x for x -> -inf, no exp(-x^2/2)
    computed at all, so |x| = 1e9 and beyond keep full accuracy). For x >= 0, Phi(x) >= 1/2 and
    exp(log phi(x) - log Phi(x)) has no cancellation.
    """
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    # Below -1e8 the asymptotic series |x| + 1/|x| - 2/|x|^3 is exact in double precision (and
    # erfcx(|x|/sqrt2) would become subnormal near |x| = 1e308).
    far = x < -1e8
    out[far] = -x[far] - 1.0 / x[far]
    neg = (x < 0) & ~far
    out[neg] = np.sqrt(2.0 / np.pi) / special.erfcx(-x[neg] / np.sqrt(2.0))
    pos = ~(x < 0)  # NaN goes here and stays NaN
    xp = np.minimum(x[pos], 40.0)  # phi(40) = 1e-348 underflows to 0 already
    # exp(-x^2/2) magnifies the rounding error of x*x by x^2/2 (up to ~800): carry x^2 as the
    # exact sum sq + err (Dekker's split), then exp(-sq/2) * (1 - err/2).
    c = 134217729.0 * xp
    hi = c - (c - xp)
    lo = xp - hi
    sq = xp * xp
    err = ((hi * hi - sq) + 2.0 * hi * lo) + lo * lo
    out[pos] = np.exp(-0.5 * sq) * (1.0 - 0.5 * err) / (np.sqrt(2.0 * np.pi) * np.exp(special.log_ndtr(xp)))
    return out


class Bernoulli(_Discrete):
    """Independent Bernoulli variables ``b_d ~ Bernoulli(theta_d)``.

    Parameters
    ----------
    logits : array_like, shape (D,) or (B, D)
        alpha. Finite values; float32 inputs give float32 estimates.
    noise : {"logistic", "gaussian"}
        ``"logistic"``: ``theta = sigmoid(alpha)``, ``z = alpha + logit(u)`` (Tucker et al.).
        ``"gaussian"`` (probit): ``theta = Phi(alpha)``, ``z = alpha + eps``, ``eps ~ N(0, 1)``;
        its terms are evaluated in log space (finite and unbiased for ``|alpha|`` up to ~35).

    Examples
    --------
    >>> import mixgrad, numpy as np
    >>> d = mixgrad.Bernoulli(np.zeros(3))
    >>> d.sample(2, seed=0).shape
    (2, 3)
    """

    def __init__(self, logits, noise: str = "logistic"):
        if noise not in ("logistic", "gaussian"):
            raise ValueError(f"noise must be 'logistic' or 'gaussian', got {noise!r}")
        super().__init__(logits)
        self.noise_type = noise
        self.kind = 0 if noise == "logistic" else 1

    def __repr__(self) -> str:
        return f"Bernoulli(logits shape={self.shape}, noise={self.noise_type!r})"

    @property
    def probs(self) -> np.ndarray:
        """theta = P(b = 1): sigmoid(alpha) or Phi(alpha)."""
        a = self.logits
        if self.kind == 0:
            return np.where(a >= 0, 1.0 / (1.0 + np.exp(-np.abs(a))), np.exp(-np.abs(a)) / (1.0 + np.exp(-np.abs(a))))
        return special.ndtr(a)

    def _log_probs(self):
        """(log theta, log(1 - theta)) elementwise."""
        a = self.logits
        if self.kind == 0:
            return -np.logaddexp(0.0, -a), -np.logaddexp(0.0, a)
        return special.log_ndtr(a), special.log_ndtr(-a)

    def sample(self, n: int, seed: SeedLike = None, *, nthreads: int | None = None) -> np.ndarray:
        """``n`` samples of shape ``(n, *logits.shape)``, 0.0 or 1.0."""
        return self._draw(n, seed, nthreads=nthreads)[1]

    def _check_b(self, b) -> np.ndarray:
        b = real_array(b, "b").astype(np.float64, copy=False)
        if b.shape[-len(self.shape) :] != self.shape:
            raise ValueError(f"b must have shape (..., {', '.join(map(str, self.shape))}), got {b.shape}")
        if not np.all((b == 0) | (b == 1)):
            raise ValueError("b must contain only 0 and 1")
        return b

    def log_prob(self, b) -> np.ndarray:
        """log p(b), summed over the D coordinates: shape ``b.shape[:-1]``."""
        b = self._check_b(b)
        la, lb = self._log_probs()
        return np.where(b == 1, la, lb).sum(axis=-1)

    def score(self, b) -> np.ndarray:
        """d log p(b) / d alpha, shape ``b.shape``: ``b - theta`` (logistic) or the inverse Mills
        ratios ``phi(alpha)/Phi(alpha)`` (b = 1), ``-phi(alpha)/Phi(-alpha)`` (b = 0) (probit)."""
        b = self._check_b(b)
        if self.kind == 0:
            return b - self.probs
        a = self.logits
        return np.where(b == 1, _normal_mills(a), -_normal_mills(-a))

    def _noise_draw(self, z, b, zt, dzt, sz, szt):
        return NoiseDraw(z, b, zt, np.ones_like(z), dzt, sz, szt)


class Categorical(_Discrete):
    """A categorical variable over K classes with ``theta = softmax(alpha)`` and Gumbel noise.

    Parameters
    ----------
    logits : array_like, shape (K,) or (B, K)
        alpha; ``-inf`` entries are allowed (classes of probability zero).

    Notes
    -----
    Samples from :meth:`sample` are class indices; :meth:`noise` and the estimators use the
    one-hot encoding.
    """

    kind = 2
    _allow_neg_inf = True

    def __init__(self, logits):
        super().__init__(logits)
        if np.all(np.isneginf(self._alpha2d), axis=1).any():
            raise ValueError("every row of logits needs at least one finite entry")

    @property
    def probs(self) -> np.ndarray:
        """softmax(alpha) along the last axis."""
        a = self.logits
        m = a.max(axis=-1, keepdims=True)
        e = np.exp(a - m)
        return e / e.sum(axis=-1, keepdims=True)

    def _log_probs(self):
        a = self.logits
        m = a.max(axis=-1, keepdims=True)
        return a - (m + np.log(np.exp(a - m).sum(axis=-1, keepdims=True)))

    def sample(
        self, n: int, seed: SeedLike = None, *, one_hot: bool = False, nthreads: int | None = None
    ) -> np.ndarray:
        """``n`` samples: class indices of shape ``(n, *batch)``, or one-hot ``(n, *logits.shape)``."""
        hard = self._draw(n, seed, nthreads=nthreads)[1]
        return hard if one_hot else hard.argmax(axis=-1)

    def _check_index(self, b) -> np.ndarray:
        b = np.asarray(b)
        if b.dtype.kind not in "iu":
            raise TypeError(f"b must be integer class indices, got dtype {b.dtype}")
        batch = self.shape[:-1]
        if batch and b.shape[-len(batch) :] != batch:
            raise ValueError(f"b must have shape (..., {', '.join(map(str, batch))}), got {b.shape}")
        K = self.shape[-1]
        if np.any((b < 0) | (b >= K)):
            raise ValueError(f"class indices must be in [0, {K}), got values outside")
        return b

    def log_prob(self, b) -> np.ndarray:
        """log p(b) for class indices ``b`` of shape ``(..., *batch)``."""
        b = self._check_index(b)
        lp = np.broadcast_to(self._log_probs(), (*b.shape, self.shape[-1]))
        return np.take_along_axis(lp, b[..., None], axis=-1)[..., 0]

    def score(self, b) -> np.ndarray:
        """d log p(b) / d alpha = onehot(b) - theta, shape ``b.shape + (K,)``."""
        b = self._check_index(b)
        K = self.shape[-1]
        return np.eye(K)[b] - self.probs

    def _noise_draw(self, z, b, zt, w, sz, szt):
        theta = self.probs
        K = self.shape[-1]
        eye = np.eye(K)
        dz = np.broadcast_to(eye - theta[..., None, :], (*z.shape, K))
        dzt = w[..., :, None] * (eye - theta[..., None, :])
        return NoiseDraw(z, b, zt, dz, dzt, sz, szt)
