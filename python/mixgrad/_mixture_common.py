"""What the diagonal and full-covariance mixture classes share: parameter intake, the shapes
and weights of a batch of mixtures, and the checks and reshaping of sample arrays."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ._checks import check_count, check_size, real_array


def _as_param(a: Any, name: str) -> np.ndarray:
    arr = np.asarray(a)
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{name} must be real numbers, got dtype {arr.dtype}")
    return arr


def _owned(a: np.ndarray, dtype: np.dtype, shape: tuple[int, ...]) -> np.ndarray:
    """A C-contiguous, read-only copy of ``a`` in ``dtype`` with ``shape``."""
    out = np.array(a, dtype=dtype, order="C", copy=True).reshape(shape)
    out.setflags(write=False)
    return out


class _MixtureCommon:
    """Shapes, weights and row handling of a batch of mixtures. Subclasses set ``_a`` (B, K),
    ``_m`` (B, K, D), ``_batch_shape`` and ``_dtype``, define ``_params`` (logits, means and the
    scale parameter, as the kernels take them) and name in ``_gradient_type`` the record of
    their gradients (a NamedTuple with one field per parameter, in that order)."""

    _a: np.ndarray
    _m: np.ndarray
    _batch_shape: tuple[int, ...]
    _dtype: np.dtype
    _gradient_type: Any

    def _params(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        raise NotImplementedError

    @property
    def batch_shape(self) -> tuple[int, ...]:
        """Shape of the batch of mixtures."""
        return self._batch_shape

    @property
    def event_shape(self) -> tuple[int]:
        """``(D,)``."""
        return (self._m.shape[-1],)

    @property
    def n_components(self) -> int:
        """Number of components K."""
        return self._m.shape[1]

    @property
    def dtype(self) -> np.dtype:
        """Computation dtype (float32 or float64)."""
        return self._dtype

    @property
    def logits(self) -> np.ndarray:
        """Logits, shape ``(*batch_shape, K)`` (a read-only view)."""
        return self._view(self._a, (self.n_components,))

    @property
    def means(self) -> np.ndarray:
        """Means, shape ``(*batch_shape, K, D)``."""
        return self._view(self._m, (self.n_components, self.event_shape[0]))

    @property
    def weights(self) -> np.ndarray:
        """Mixing weights softmax(logits), shape ``(*batch_shape, K)``."""
        a = self._a.astype(np.float64)
        e = np.exp(a - a.max(axis=-1, keepdims=True))
        w = e / e.sum(axis=-1, keepdims=True)
        return w.astype(self._dtype).reshape((*self._batch_shape, self.n_components))

    def mean(self) -> np.ndarray:
        """Mixture mean sum_k w_k mu_k, shape ``(*batch_shape, D)``."""
        w = self.weights.reshape(-1, self.n_components).astype(np.float64)
        mu = np.einsum("bk,bkd->bd", w, self._m.astype(np.float64))
        return mu.astype(self._dtype).reshape(self._batch_shape + self.event_shape)

    def _view(self, arr: np.ndarray, tail: tuple[int, ...]) -> np.ndarray:
        v = arr.reshape(self._batch_shape + tail).view()
        v.flags.writeable = False
        return v

    def _rows(self, x: Any, name: str) -> tuple[np.ndarray, tuple[int, ...]]:
        """``x`` of shape (*sample, *batch, D) as contiguous rows (N, D) and its full shape."""
        arr = np.asarray(x)
        if arr.dtype.kind not in "fiub":
            raise TypeError(f"{name} must be real numbers, got dtype {arr.dtype}")
        nb = len(self._batch_shape)
        D = self.event_shape[0]
        if arr.ndim < nb + 1 or arr.shape[-1] != D or tuple(arr.shape[arr.ndim - 1 - nb : -1]) != self._batch_shape:
            raise ValueError(
                f"{name}: expected shape (*sample_shape, *{self._batch_shape}, {D}) for this mixture, got {arr.shape}"
            )
        flat = np.ascontiguousarray(arr, dtype=self._dtype).reshape(-1, D)
        return flat, tuple(arr.shape)

    def _sample_count(self, n: int | None) -> tuple[int, tuple[int, ...]]:
        """Samples per mixture and the leading sample shape for ``n``.

        Refuses bools, floats and other non-integers (TypeError), negative counts and counts
        whose result could not be allocated as one array (ValueError), naming ``n``.
        """
        if n is None:
            return 1, ()
        count = check_count(n, "n", minimum=0)
        rows_per_sample = int(np.prod(self._batch_shape, dtype=np.int64)) * self.event_shape[0]
        check_size(count, rows_per_sample, self._dtype.itemsize, "n")
        return count, (count,)

    def _grad_rows(self, grad_x: Any, shape: tuple[int, ...]) -> np.ndarray:
        g = np.asarray(grad_x)
        if g.dtype.kind not in "fiub":
            raise TypeError(f"grad_x must be real numbers, got dtype {g.dtype}")
        try:
            g = np.broadcast_to(g, shape)
        except ValueError:
            raise ValueError(f"grad_x: expected a shape broadcastable to x's {shape}, got {g.shape}") from None
        return np.ascontiguousarray(g, dtype=self._dtype).reshape(-1, shape[-1])

    def _as_grad(self, ga: np.ndarray, gm: np.ndarray, gs: np.ndarray) -> Any:
        """The kernels' gradients (one flat array per parameter) as a gradient record, each
        shaped like its parameter."""
        parts = (g.reshape(self._batch_shape + ref.shape[1:]) for g, ref in zip((ga, gm, gs), self._params()))
        return self._gradient_type(*parts)

    def _tangents(self, tangents: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Directions from a gradient record or a mapping keyed by the parameter names (a missing
        key is zero), checked against the parameters' shapes and laid out as the kernels take them."""
        names = self._gradient_type._fields
        if isinstance(tangents, tuple) and hasattr(tangents, "_asdict"):
            tangents = tangents._asdict()
        if not isinstance(tangents, Mapping):
            raise TypeError(
                f"tangents must be a {self._gradient_type.__name__} or a mapping with keys {', '.join(names)}"
            )
        unknown = set(tangents) - set(names)
        if unknown:
            raise ValueError(f"tangents: unknown keys {sorted(unknown)}")
        out = []
        for name, ref in zip(names, self._params()):
            full = self._batch_shape + ref.shape[1:]
            v = tangents.get(name)
            if v is None:
                out.append(np.zeros_like(ref))
                continue
            arr = real_array(v, f"tangents.{name}")
            if arr.shape != full:
                raise ValueError(f"tangents.{name}: expected shape {full}, got {arr.shape}")
            out.append(np.ascontiguousarray(arr, dtype=self._dtype).reshape(ref.shape))
        return out[0], out[1], out[2]
