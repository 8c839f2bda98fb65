"""JAX adapter of mixgrad (optional extra ``mixgrad[jax]``).

* :func:`rsample` (in :mod:`mixgrad.jax.mixture`) -- reparameterized samples of diagonal
  Gaussian mixtures with implicit gradients for logits, means and scales, from the C++ core
  (``backend="core"``, CPU, reverse mode) or pure JAX (``backend="native"``, any device, every
  transformation); :func:`seed_words` turns a seed into the core's words.
* :func:`log_prob`, :func:`cdf_transform`, :func:`quantile` (in :mod:`mixgrad.jax.diag_native`)
  -- the log density, the distributional transform and its inverse, in pure JAX.

Importing this package imports JAX; a clear ImportError names the extra when it is missing.
"""

from __future__ import annotations

from .._extras import missing_extra

try:
    import jax  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise missing_extra("jax", "JAX", "jax") from exc

from .diag_native import cdf_transform, log_prob, quantile
from .mixture import default_backend, rsample, seed_words

__all__ = ["cdf_transform", "default_backend", "log_prob", "quantile", "rsample", "seed_words"]
