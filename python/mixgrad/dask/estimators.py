"""The discrete-gradient estimators over a batch of logits rows chunked along the row axis.

``mixgrad.dask.rebar(objective, distribution, n_samples, seed, chunks=...)`` and its peers run
the estimator of :mod:`mixgrad.estimators` once per chunk of rows. Each chunk names its rows'
place in the whole batch (a :class:`mixgrad.discrete.RowWindow`): it draws with the Philox
counters of those rows and keeps the whole call's sample blocking, so the per-row means,
variances, standard errors and per-sample estimates are bit-identical to the in-memory call's
rows for any chunking, scheduler and number of workers.

Everything the estimators compute row by row is available; options that pool statistics over all
rows (``rebar(eta="optimal")``) are not, since no chunk sees the other rows.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

import dask.array as da
import numpy as np

from .. import estimators as _numpy_estimators
from .._seeding import SeedLike
from .._threads import _check_count
from ..discrete import Bernoulli, Categorical, RowWindow, _Discrete
from ..objectives import Callback, GMMComponentLikelihood, Objective, Quadratic, QuadraticForm
from ._graph import new_array, starts, token

__all__ = [
    "GradientEstimate",
    "arms",
    "concrete",
    "disarm",
    "double_cv",
    "rebar",
    "reinforce",
    "rloo",
    "straight_through",
]


@dataclass
class GradientEstimate:
    """The result of a :mod:`mixgrad.dask` estimator: Dask arrays chunked along the rows.

    Attributes
    ----------
    mean : dask.array.Array, logits shape
        The gradient estimate per coordinate (average over samples).
    samples : dask.array.Array of shape (n_samples, *logits.shape), or None
        One estimate per sample (None with ``keep_samples=False``).
    variance : dask.array.Array, logits shape
        Per-coordinate variance of the single-sample estimates (ddof = 1).
    stderr : dask.array.Array, logits shape
        Standard error of ``mean``.
    n_samples : int
    diagnostics : dict
        The estimator's name and settings (per-chunk by-products are not gathered).
    """

    mean: da.Array
    samples: da.Array | None
    variance: da.Array
    stderr: da.Array
    n_samples: int
    diagnostics: dict[str, Any] = field(default_factory=dict)


def _row_chunks(dist: _Discrete, chunks: Any) -> tuple[int, ...]:
    if not dist.batched:
        raise ValueError(f"distribution: mixgrad.dask estimators need batched logits (B, E), got shape {dist.shape}")
    if chunks is None:
        return (dist.n_rows,)
    try:
        rows = da.core.normalize_chunks((chunks,), shape=(dist.n_rows,))[0]
    except (ValueError, TypeError) as exc:
        raise ValueError(f"chunks: expected a chunk size or sizes along the rows, got {chunks!r} ({exc})") from None
    return tuple(int(c) for c in rows)


def _distribution_rows(dist: _Discrete, r0: int, r1: int) -> _Discrete:
    """The distribution of rows [r0, r1), in the whole distribution's dtype."""
    logits = dist.logits[r0:r1].astype(dist.dtype)
    if isinstance(dist, Bernoulli):
        return Bernoulli(logits, noise=dist.noise_type)
    if isinstance(dist, Categorical):
        return Categorical(logits)
    raise TypeError(f"distribution must be mixgrad.Bernoulli or mixgrad.Categorical, got {type(dist).__name__}")


def _objective_rows(objective: Objective, R: int, r0: int, r1: int) -> Objective:
    """The objective of rows [r0, r1) of a batch of R rows: per-row arrays sliced, shared ones kept.

    A :class:`~mixgrad.Callback` is kept: it is called on the chunk's rows only, so it must be
    row-wise (row i of its output depends on row i of its input alone).
    """
    if isinstance(objective, Callback):
        return objective
    if isinstance(objective, Quadratic):
        t = objective.target
        return Quadratic(t[r0:r1] if t.ndim == 2 else t)
    if isinstance(objective, QuadraticForm):
        c, d = objective.c, objective.d
        return QuadraticForm(
            objective.A, None if c is None else (c[r0:r1] if c.ndim == 2 else c), d[r0:r1] if d.ndim == 1 else d
        )
    if isinstance(objective, GMMComponentLikelihood):
        if objective.x.shape[0] != R:
            raise ValueError(f"GMMComponentLikelihood has {objective.x.shape[0]} data points, the logits {R} rows")
        lz = objective.log_normalizer
        return GMMComponentLikelihood(
            objective.x[r0:r1], objective.means, objective.scales, log_normalizer=None if lz is None else lz[r0:r1]
        )
    raise TypeError(f"objective must be a mixgrad objective, got {type(objective).__name__}")


def _task_seed(seed: SeedLike) -> SeedLike:
    """A seed that every task turns into the key the in-memory call would use.

    An int or SeedSequence already does; None becomes one fresh SeedSequence; a Generator is
    copied before the one draw the in-memory call would make (which advances the caller's
    Generator as that call would), and every task draws from its own copy of the copy.
    """
    if seed is None:
        return np.random.SeedSequence()
    if isinstance(seed, np.random.Generator):
        frozen = copy.deepcopy(seed)
        seed.integers(0, 2**32, size=2, dtype=np.uint64)
        return frozen
    return seed


def estimate_block(
    estimator: Callable[..., Any],
    objective: Objective,
    logits_rows: _Discrete,
    n_samples: int,
    seed: SeedLike,
    window: RowWindow,
    options: dict[str, Any],
):
    """One chunk: the numpy estimator on rows [window.r0, window.r0 + rows) of the whole batch."""
    if isinstance(seed, np.random.Generator):
        seed = copy.deepcopy(seed)  # tasks of a threaded scheduler share the object
    return estimator(objective, logits_rows, n_samples, seed, _window=window, **options)


def _field(estimate: Any, name: str) -> np.ndarray:
    return getattr(estimate, name)


def _run(
    name: str,
    objective: Objective,
    distribution: _Discrete,
    n_samples: int,
    seed: SeedLike,
    chunks: Any,
    options: dict[str, Any],
    per_row: tuple[str, ...] = (),
) -> GradientEstimate:
    """The graph: one estimate task per chunk of rows, and the fields of the estimates gathered
    into Dask arrays. Options named in ``per_row`` are sliced to the chunk's rows when 1-D."""
    estimator = getattr(_numpy_estimators, name)
    if not isinstance(distribution, _Discrete):
        raise TypeError(
            f"distribution must be mixgrad.Bernoulli or mixgrad.Categorical, got {type(distribution).__name__}"
        )
    if not isinstance(objective, Objective):
        raise TypeError(f"objective must be a mixgrad objective, got {type(objective).__name__}")
    nthreads = options.get("nthreads")
    if nthreads is not None:
        options["nthreads"] = _check_count(nthreads, "nthreads")
    rows = _row_chunks(distribution, chunks)
    R, E = distribution.n_rows, distribution.event_size
    # types and sizes checked here, on the client (the memory check for the largest chunk)
    S = _numpy_estimators._check_args(objective, _distribution_rows(distribution, 0, max(rows)), n_samples)
    keep = options.get("keep_samples", True)
    tseed = _task_seed(seed)
    tok = token(name, objective, distribution.logits, distribution.kind, S, tseed, rows, sorted(options.items()))
    est_name = f"mixgrad-{name}-{tok}"
    layer: dict[Any, Any] = {}
    keys: list[Hashable] = []
    for j, (r0, n) in enumerate(zip(starts(rows), rows)):
        key = (est_name, j)
        layer[key] = (
            estimate_block,
            estimator,
            _objective_rows(objective, R, r0, r0 + n),
            _distribution_rows(distribution, r0, r0 + n),
            S,
            tseed,
            RowWindow(r0, R),
            {k: np.asarray(v)[r0 : r0 + n] if k in per_row and np.ndim(v) == 1 else v for k, v in options.items()},
        )
        keys.append(key)
    dt = distribution.dtype

    def gather(field_name: str, chunk_axes: tuple[tuple[int, ...], ...], lead: tuple[int, ...]) -> da.Array:
        # every output array carries the estimate tasks; Dask runs each once when they are
        # computed together (same keys)
        out = f"{est_name}-{field_name}"
        sub = {(out, *lead, j, 0): (_field, k, field_name) for j, k in enumerate(keys)}
        return new_array(out, {**layer, **sub}, [], chunk_axes, dt)

    mean = gather("mean", (rows, (E,)), ())
    variance = gather("variance", (rows, (E,)), ())
    stderr = gather("stderr", (rows, (E,)), ())
    samples = gather("samples", ((S,), rows, (E,)), (0,)) if keep else None
    diag = {"estimator": name, **{k: v for k, v in options.items() if k not in ("keep_samples", "nthreads")}}
    return GradientEstimate(mean, samples, variance, stderr, S, diag)


_COMMON = """
    Parameters
    ----------
    objective : Objective
        A built-in objective (per-row arrays are sliced to each chunk's rows) or a
        :class:`~mixgrad.Callback`, called on one chunk's rows at a time (so it must be row-wise).
    distribution : mixgrad.Bernoulli or mixgrad.Categorical
        Batched logits ``(B, E)``.
    n_samples : int
    seed : None, int, SeedSequence or Generator
        Turned into the in-memory call's Philox key for every chunk.
    chunks : int or tuple of int, optional
        Chunks along the rows (default: one chunk).
    **options
        The options of :func:`mixgrad.{name}`{extra}.

    Returns
    -------
    GradientEstimate
        Dask arrays chunked along the rows, bit-identical to the rows of
        :func:`mixgrad.{name}` with the same seed for any chunking.
"""


def _refuse_optimal_eta(options: dict[str, Any]) -> None:
    if isinstance(options.get("eta"), str):
        raise ValueError(
            "eta='optimal' pools A.B over all rows, which no chunk sees; pass a number "
            "(e.g. diagnostics['eta_optimal'] of an in-memory call)"
        )


def _estimator(
    name: str,
    summary: str,
    extra: str = "",
    per_row: tuple[str, ...] = (),
    check: Callable[[dict[str, Any]], None] | None = None,
) -> Callable[..., GradientEstimate]:
    """The Dask version of ``mixgrad.<name>``: same arguments plus ``chunks``."""

    def estimator(
        objective: Objective,
        distribution: _Discrete,
        n_samples: int,
        seed: SeedLike = None,
        *,
        chunks: Any = None,
        **options: Any,
    ) -> GradientEstimate:
        if check is not None:
            check(options)
        return _run(name, objective, distribution, n_samples, seed, chunks, options, per_row)

    estimator.__name__ = estimator.__qualname__ = name
    estimator.__doc__ = f"{summary} over logits rows chunked along the rows.\n" + _COMMON.format(name=name, extra=extra)
    return estimator


rebar = _estimator(
    "rebar", "REBAR (:func:`mixgrad.rebar`)", ' except ``eta="optimal"`` (it pools all rows)', check=_refuse_optimal_eta
)
reinforce = _estimator(
    "reinforce",
    "REINFORCE (:func:`mixgrad.reinforce`)",
    "; a per-row ``baseline_init`` is sliced to each chunk",
    per_row=("baseline_init",),
)
rloo = _estimator("rloo", "RLOO (:func:`mixgrad.rloo`)")
concrete = _estimator("concrete", "Concrete (:func:`mixgrad.concrete`)")
straight_through = _estimator("straight_through", "Straight-through (:func:`mixgrad.straight_through`)")
double_cv = _estimator("double_cv", "Double control variates (:func:`mixgrad.double_cv`)")
disarm = _estimator("disarm", "DisARM (:func:`mixgrad.disarm`)")
arms = _estimator("arms", "ARMS (:func:`mixgrad.arms`)")
