"""Diagonal Gaussian mixtures on Dask arrays (:class:`DiagGaussianMixture`).

Two ways to spread the work, which combine:

* a batch of mixtures (logits ``(B, K)``, means and scales ``(B, K, D)``) chunked along the
  batch axis -- every chunk of mixtures is one task, with the rows of those mixtures;
* many samples (of one mixture, or of a batch) chunked along the sample axis.

Rows and per-mixture results are bit-identical to :class:`mixgrad.DiagGaussianMixture` in
memory. A gradient summed over samples that were split into several sample chunks is the
:func:`mixgrad.dask.tree_sum` of the chunks' gradients: equal to the in-memory value to rounding,
and the same bits for a given chunking on any scheduler and any number of workers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable
from typing import Any

import dask.array as da
import numpy as np

from .._checks import check_count
from .._seeding import SeedLike, philox_key
from .._threads import _check_count
from ..mixture import MixtureGradient, Window
from . import _tasks
from ._graph import as_dask, new_array, starts, token, tree_sum_keys
from ._upstream import Upstream

__all__ = ["DiagGaussianMixture"]


def _single_chunk_axes(arr: da.Array, axes: range, name: str, what: str) -> None:
    for ax in axes:
        if len(arr.chunks[ax]) > 1:
            raise ValueError(
                f"{name}: chunked along axis {ax} ({what}); chunk along the batch or sample axes only, "
                f"e.g. {name}.rechunk({{{ax}: -1}})"
            )


def _check_nthreads(nthreads: int | None) -> int | None:
    return None if nthreads is None else _check_count(nthreads, "nthreads")


class DiagGaussianMixture:
    """A batch of diagonal Gaussian mixtures whose methods take and return Dask arrays.

    Parameters
    ----------
    logits : dask.array.Array or array_like, shape (K,) or (B, K)
        Unnormalized log mixing weights; ``(B, K)`` may be chunked along ``B``.
    means : dask.array.Array or array_like, shape (K, D) or (B, K, D)
        Component means; rechunked along ``B`` to the chunks of ``logits``.
    scales : dask.array.Array or array_like, shape (K, D) or (B, K, D)
        Component standard deviations (> 0), chunked like ``means``.

    Notes
    -----
    Only the batch axis may be chunked (a ValueError names the argument otherwise). The values
    are checked (finite, scales > 0, as in :class:`mixgrad.DiagGaussianMixture`) when a chunk is
    computed, so a bad value raises on ``compute()``. The computation dtype is float32 when all
    three are float32, else float64.

    Every method takes ``nthreads``: threads per task, default mixgrad's default in the process
    that runs the task -- in a ``distributed`` worker one thread per task (the worker's
    ``OMP_NUM_THREADS=1``), unless ``MIXGRAD_NUM_THREADS`` is set there (``docs/dask.md``).

    Examples
    --------
    >>> import numpy as np, mixgrad, mixgrad.dask
    >>> params = (np.zeros(2), np.array([[-1.0], [1.0]]), np.ones((2, 1)))
    >>> x = mixgrad.dask.DiagGaussianMixture(*params).sample(10_000, seed=0, chunks=2_500)  # 4 tasks
    >>> x.chunks[0]
    (2500, 2500, 2500, 2500)
    >>> np.array_equal(x.compute(), mixgrad.DiagGaussianMixture(*params).sample(10_000, seed=0))
    True
    """

    def __init__(self, logits: Any, means: Any, scales: Any) -> None:
        a = as_dask(logits, "logits")
        m = as_dask(means, "means")
        s = as_dask(scales, "scales")
        if m.ndim not in (2, 3):
            raise ValueError(f"means: expected shape (K, D) or (B, K, D), got {m.shape}")
        if s.shape != m.shape:
            raise ValueError(f"scales: expected the shape of means {m.shape}, got {s.shape}")
        if a.shape != m.shape[:-1]:
            raise ValueError(f"logits: expected shape {m.shape[:-1]} (means.shape[:-1]), got {a.shape}")
        K, D = m.shape[-2], m.shape[-1]
        if K < 1 or D < 1 or any(n == 0 for n in m.shape):
            raise ValueError(f"means: need B, K, D >= 1, got shape {m.shape}")
        self._nb = m.ndim - 2
        _single_chunk_axes(a, range(self._nb, a.ndim), "logits", "the component axis")
        _single_chunk_axes(m, range(self._nb, m.ndim), "means", "the component or event axis")
        _single_chunk_axes(s, range(self._nb, s.ndim), "scales", "the component or event axis")
        if self._nb:
            m = m.rechunk({0: a.chunks[0]})
            s = s.rechunk({0: a.chunks[0]})
        all32 = a.dtype == m.dtype == s.dtype == np.float32
        self._dtype = np.dtype(np.float32 if all32 else np.float64)
        self._a, self._m, self._s = a, m, s
        self._K, self._D = K, D
        self._B = m.shape[0] if self._nb else 1
        self._bchunks: tuple[int, ...] = a.chunks[0] if self._nb else (1,)
        self._bstarts = starts(self._bchunks)

    # ---------------------------------------------------------------- properties
    @property
    def batch_shape(self) -> tuple[int, ...]:
        """``(B,)``, or ``()`` for one mixture."""
        return (self._B,) if self._nb else ()

    @property
    def event_shape(self) -> tuple[int]:
        """``(D,)``."""
        return (self._D,)

    @property
    def n_components(self) -> int:
        """Number of components K."""
        return self._K

    @property
    def dtype(self) -> np.dtype:
        """Computation dtype (float32 or float64)."""
        return self._dtype

    @property
    def batch_chunks(self) -> tuple[int, ...]:
        """Chunk sizes along the batch axis (``(1,)`` for one mixture)."""
        return self._bchunks

    @property
    def logits(self) -> da.Array:
        """Logits (a Dask array)."""
        return self._a

    @property
    def means(self) -> da.Array:
        """Means (a Dask array)."""
        return self._m

    @property
    def scales(self) -> da.Array:
        """Scales (a Dask array)."""
        return self._s

    def __repr__(self) -> str:
        return (
            f"dask DiagGaussianMixture(batch_shape={self.batch_shape}, K={self._K}, D={self._D}, "
            f"dtype={self._dtype}, batch_chunks={self._bchunks})"
        )

    # ---------------------------------------------------------------- helpers
    def _param_keys(self, j: int) -> tuple[Hashable, Hashable, Hashable]:
        if self._nb:
            return (self._a.name, j, 0), (self._m.name, j, 0, 0), (self._s.name, j, 0, 0)
        return (self._a.name, 0), (self._m.name, 0, 0), (self._s.name, 0, 0)

    def _rows(self, x: Any, name: str) -> da.Array:
        """``x`` (*sample, *batch, D) checked, with its batch axis chunked like the mixture's."""
        arr = as_dask(x, name)
        nb, D = self._nb, self._D
        if arr.ndim < nb + 1 or arr.shape[-1] != D or tuple(arr.shape[arr.ndim - 1 - nb : -1]) != self.batch_shape:
            raise ValueError(f"{name}: expected shape (*sample_shape, *{self.batch_shape}, {D}), got {arr.shape}")
        _single_chunk_axes(arr, range(arr.ndim - 1, arr.ndim), name, "the event axis")
        if nb:
            arr = arr.rechunk({arr.ndim - 2: self._bchunks})
        return arr

    def _batch_index(self, idx: tuple[int, ...]) -> int:
        """The batch chunk of a block of rows (block index without the event axis)."""
        return idx[-1] if self._nb else 0

    def _window(self, j: int, s0: int, n_samples: int) -> Window:
        return Window(s0, self._bstarts[j], self._B, n_samples)

    def _per_row(
        self, fn: Callable[..., np.ndarray], x: Any, width: bool, label: str, nthreads: int | None
    ) -> da.Array:
        rows = self._rows(x, "x")
        nt = _check_nthreads(nthreads)
        S = math.prod(rows.shape[: rows.ndim - 1 - self._nb])
        name = f"mixgrad-{label}-{token(rows, self._a, self._m, self._s, nt)}"
        layer: dict[Any, Any] = {}
        for idx in np.ndindex(*rows.numblocks[:-1]):
            j = self._batch_index(idx)
            out = (name, *idx, 0) if width else (name, *idx)
            layer[out] = (fn, (rows.name, *idx, 0), *self._param_keys(j), self._window(j, 0, S), nt)
        chunks = rows.chunks if width else rows.chunks[:-1]
        return new_array(name, layer, [rows, self._a, self._m, self._s], chunks, self._dtype)

    # ---------------------------------------------------------------- per-row calls
    def log_prob(self, x: Any, *, nthreads: int | None = None) -> da.Array:
        """Log density at ``x``, shape ``x.shape[:-1]``, chunked like ``x``.

        Parameters
        ----------
        x : dask.array.Array or array_like, shape (*sample, *batch, D)
            Any chunking along the sample axes; rechunked along the batch axis to the mixture's
            batch chunks; one chunk along D.
        nthreads : int, optional
            Threads per task.

        Returns
        -------
        dask.array.Array
            Bit-identical to :meth:`mixgrad.DiagGaussianMixture.log_prob`.
        """
        return self._per_row(_tasks.log_prob_block, x, False, "log-prob", nthreads)

    def cdf_transform(self, x: Any, *, nthreads: int | None = None) -> da.Array:
        """The distributional transform u = T(x), shape and chunks of ``x``.

        Parameters
        ----------
        x : dask.array.Array or array_like, shape (*sample, *batch, D)
            Chunked as for :meth:`log_prob`.
        nthreads : int, optional
            Threads per task.

        Returns
        -------
        dask.array.Array
            Bit-identical to :meth:`mixgrad.DiagGaussianMixture.cdf_transform`.
        """
        return self._per_row(_tasks.cdf_block, x, True, "cdf-transform", nthreads)

    # ---------------------------------------------------------------- sampling
    def _sample_chunks(self, n: int | None, chunks: Any) -> tuple[int, tuple[int, ...]]:
        if n is None:
            if chunks is not None:
                raise ValueError("chunks: only with a number of samples n")
            return 1, (1,)
        count = check_count(n, "n", minimum=1)
        if chunks is None:
            tail = (self._bchunks, (self._D,)) if self._nb else ((self._D,),)
            norm = da.core.normalize_chunks(
                ("auto", *tail), shape=(count, *self.batch_shape, self._D), dtype=self._dtype
            )
            return count, tuple(norm[0])
        try:
            return count, tuple(da.core.normalize_chunks((chunks,), shape=(count,))[0])
        except (ValueError, TypeError) as exc:
            raise ValueError(
                f"chunks: expected a chunk size or sizes along the sample axis, got {chunks!r} ({exc})"
            ) from None

    def _out_shape(self, n: int | None, count: int) -> tuple[int, ...]:
        lead = () if n is None else (count,)
        return (*lead, *self.batch_shape, self._D)

    def _out_chunks(self, n: int | None, schunks: tuple[int, ...]) -> tuple[tuple[int, ...], ...]:
        lead = () if n is None else (schunks,)
        batch = (self._bchunks,) if self._nb else ()
        return (*lead, *batch, (self._D,))

    def _blocks(self, n: int | None, schunks: tuple[int, ...]):
        """(sample block i, batch block j, first sample, samples, output block index) of every task."""
        for i, (s0, c) in enumerate(zip(starts(schunks), schunks)):
            for j in range(len(self._bchunks)):
                idx = ((i,) if n is not None else ()) + ((j,) if self._nb else ()) + (0,)
                yield i, j, s0, c, idx

    def sample(
        self, n: int | None = None, seed: SeedLike = None, *, chunks: Any = None, nthreads: int | None = None
    ) -> da.Array:
        """Exact samples, chunked along the sample and batch axes.

        Parameters
        ----------
        n : int, optional
            Samples per mixture: shape ``(n, *batch_shape, D)``, or ``(*batch_shape, D)`` when
            None.
        seed : None, int, SeedSequence or Generator
            Turned into one Philox key here, on the client; every chunk draws with the counters
            of its rows in the whole array.
        chunks : int or tuple of int, optional
            Chunks along the sample axis (default: Dask's "auto" size).
        nthreads : int, optional
            Threads per task.

        Returns
        -------
        dask.array.Array
            Bit-identical to :meth:`mixgrad.DiagGaussianMixture.sample` with the same seed, for
            any chunking.
        """
        count, schunks = self._sample_chunks(n, chunks)
        key, nt = philox_key(seed), _check_nthreads(nthreads)
        name = f"mixgrad-sample-{token(self._a, self._m, self._s, n, key, schunks, nt)}"
        layer: dict[Any, Any] = {}
        for _i, j, s0, c, idx in self._blocks(n, schunks):
            cnt = None if n is None else c
            out = (name, *idx)
            layer[out] = (_tasks.sample_block, *self._param_keys(j), cnt, key, self._window(j, s0, count), nt)
        return new_array(name, layer, [self._a, self._m, self._s], self._out_chunks(n, schunks), self._dtype)

    # ---------------------------------------------------------------- gradients
    def _gradient_arrays(
        self, layer: dict[Any, Any], name: str, parts: dict[int, list[Hashable]], deps: list[Any]
    ) -> MixtureGradient:
        """Tree-sum the per-block gradients of every batch chunk; three Dask arrays."""
        names = (f"{name}-logits", f"{name}-means", f"{name}-scales")
        for j, keys in parts.items():
            total = tree_sum_keys(layer, f"{name}-sum-{j}", keys)
            final = (f"{name}-total", j)
            layer[final] = (_tasks.finish_gradient, total, self._dtype)
            lead = (j,) if self._nb else ()
            for field, (nm, tail) in enumerate(zip(names, ((0,), (0, 0), (0, 0)))):
                out = (nm, *lead, *tail)
                layer[out] = (_tasks.getitem, final, field)
        batch = (self._bchunks,) if self._nb else ()
        shapes = (((self._K,),), ((self._K,), (self._D,)), ((self._K,), (self._D,)))
        # each of the three arrays carries the whole layer (the shared tasks run once)
        arrays: list[Any] = [
            new_array(nm, dict(layer), deps, (*batch, *tail), self._dtype) for nm, tail in zip(names, shapes)
        ]
        return MixtureGradient(*arrays)

    def vjp(self, x: Any, grad_x: Any, *, nthreads: int | None = None) -> MixtureGradient:
        """Gradient of sum(grad_x * x) with respect to the parameters, u = T(x) held fixed.

        Parameters
        ----------
        x : dask.array.Array or array_like, shape (*sample, *batch, D)
            Chunked as for :meth:`log_prob`.
        grad_x : dask.array.Array or array_like
            Broadcastable to ``x.shape``; rechunked like ``x``.
        nthreads : int, optional
            Threads per task.

        Returns
        -------
        MixtureGradient
            Dask arrays ``logits`` (*batch, K), ``means`` and ``scales`` (*batch, K, D), chunked
            along the batch axis like the mixture. With one chunk along the sample axes,
            bit-identical to :meth:`mixgrad.DiagGaussianMixture.vjp`; otherwise the
            :func:`~mixgrad.dask.tree_sum` of the gradients of the sample blocks (in C order of
            their block indices), rounded to the dtype.
        """
        rows = self._rows(x, "x")
        g = Upstream(grad_x, rows.shape, rows.chunks, "grad_x")
        nt = _check_nthreads(nthreads)
        S = math.prod(rows.shape[: rows.ndim - 1 - self._nb])
        name = f"mixgrad-vjp-{token(rows, grad_x, self._a, self._m, self._s, nt)}"
        layer: dict[Any, Any] = {}
        parts: dict[int, list[Hashable]] = {j: [] for j in range(len(self._bchunks))}
        for idx in np.ndindex(*rows.numblocks[:-1]):
            j = self._batch_index(idx)
            key = (f"{name}-part", *idx)
            window = self._window(j, 0, S)
            xb, gb = (rows.name, *idx, 0), g.block((*idx, 0))
            layer[key] = (_tasks.vjp_block, xb, gb, *self._param_keys(j), window, nt)
            parts[j].append(key)
        return self._gradient_arrays(layer, name, parts, [rows, *g.dependencies, self._a, self._m, self._s])

    def sample_and_vjp(
        self,
        n: int | None,
        grad: Callable[[da.Array], Any] | Any,
        seed: SeedLike = None,
        *,
        chunks: Any = None,
        nthreads: int | None = None,
    ) -> tuple[da.Array, MixtureGradient]:
        """Samples and the gradient of sum(grad_x * x), drawn and differentiated chunk by chunk.

        Parameters
        ----------
        n : int or None
            As in :meth:`sample`.
        grad : callable or dask.array.Array or array_like
            ``grad(x)`` (called on the Dask array of samples) returning dL/dx, or dL/dx itself,
            broadcastable to the samples' shape. With an array every task draws its rows and
            differentiates them in one pass.
        seed : None, int, SeedSequence or Generator
        chunks : int or tuple of int, optional
            Chunks along the sample axis.
        nthreads : int, optional
            Threads per task.

        Returns
        -------
        x : dask.array.Array
            Bit-identical to :meth:`sample`.
        gradient : MixtureGradient
            As :meth:`vjp` of ``x``: the tree sum over the sample chunks.
        """
        if callable(grad):
            x = self.sample(n, seed, chunks=chunks, nthreads=nthreads)
            return x, self.vjp(x, grad(x), nthreads=nthreads)
        count, schunks = self._sample_chunks(n, chunks)
        key, nt = philox_key(seed), _check_nthreads(nthreads)
        out_chunks = self._out_chunks(n, schunks)
        g = Upstream(grad, self._out_shape(n, count), out_chunks, "grad")
        name = f"mixgrad-sample-vjp-{token(self._a, self._m, self._s, n, key, schunks, grad, nt)}"
        xname = f"{name}-x"
        layer: dict[Any, Any] = {}
        parts: dict[int, list[Hashable]] = {j: [] for j in range(len(self._bchunks))}
        for _i, j, s0, c, idx in self._blocks(n, schunks):
            task = (f"{name}-task", *idx)
            cnt = None if n is None else c
            window = self._window(j, s0, count)
            layer[task] = (_tasks.sample_vjp_block, *self._param_keys(j), cnt, g.block(idx), key, window, nt)
            xkey = (xname, *idx)
            layer[xkey] = (_tasks.getitem, task, 0)
            part = (f"{name}-part", *idx)
            layer[part] = (_tasks.getitem, task, 1)
            parts[j].append(part)
        deps = [*g.dependencies, self._a, self._m, self._s]
        x = new_array(xname, dict(layer), deps, out_chunks, self._dtype)
        return x, self._gradient_arrays(layer, name, parts, deps)
