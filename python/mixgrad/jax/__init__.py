"""JAX adapter of mixgrad (optional extra ``mixgrad[jax]``).

* :func:`rsample` and :func:`seed_words` (in :mod:`mixgrad.jax.mixture`) -- reparameterized
  samples of diagonal Gaussian mixtures with implicit gradients for logits, means and scales.

Importing this package imports JAX; a clear ImportError names the extra when it is missing.
"""

from __future__ import annotations

from .mixture import rsample, seed_words

__all__ = ["rsample", "seed_words"]
