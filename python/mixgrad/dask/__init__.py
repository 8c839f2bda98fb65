"""The batch calls of mixgrad on Dask arrays, bit-identical to the in-memory results.

Needs the optional extra ``dask`` (``pip install mixgrad[dask]``). Functions and methods take
Dask (or numpy) arrays and return Dask arrays; nothing is computed until ``.compute()``.

* :mod:`mixgrad.dask.special` -- the normal special functions, element-wise, any chunking;
* :class:`DiagGaussianMixture` -- a batch of mixtures chunked along the batch axis, or one
  mixture with many samples chunked along the sample axis: ``log_prob``, ``cdf_transform``,
  ``sample``, ``vjp`` and ``sample_and_vjp``;
* the discrete-gradient estimators (:func:`rebar`, :func:`reinforce`, :func:`rloo`,
  :func:`concrete`, :func:`straight_through`, :func:`double_cv`, :func:`disarm`, :func:`arms`)
  over a batch of logits rows chunked along the rows: per-row means, variances, standard errors
  and per-sample estimates;
* :func:`tree_sum` -- the fixed-order reduction that combines gradients summed over samples.

Seeding: a chunk draws with the Philox counters of its rows in the whole array, so samples (and
everything computed row by row, or per mixture within one chunk) are bit-identical to the
in-memory call for any chunking, scheduler and number of workers. See ``docs/dask.md``.
"""

from __future__ import annotations

from . import special
from ._graph import tree_sum
from .estimators import (
    GradientEstimate,
    arms,
    concrete,
    disarm,
    double_cv,
    rebar,
    reinforce,
    rloo,
    straight_through,
)
from .mixture import DiagGaussianMixture

__all__ = [
    "DiagGaussianMixture",
    "GradientEstimate",
    "arms",
    "concrete",
    "disarm",
    "double_cv",
    "rebar",
    "reinforce",
    "rloo",
    "special",
    "straight_through",
    "tree_sum",
]
