"""What the torch diagonal and full-covariance mixtures share: the checks of their parameter
tensors and sample shapes, the seed of a draw from the C++ core, and the Distribution members
that do not depend on the covariance."""

from __future__ import annotations

import math

import numpy as np

from .._checks import check_count, check_size
from ._require import require_torch

require_torch()  # a clear ImportError naming the extra when torch is missing
import torch  # noqa: E402

__all__ = ["SEED_BOUND", "MixtureDistribution", "check_dtypes", "check_sample_shape", "check_tensors", "core_seed"]

SEED_BOUND = 2**63 - 1


def check_tensors(names: tuple[str, ...], tensors: tuple[object, ...]) -> None:
    """TypeError naming the first argument that is not a torch.Tensor."""
    for name, t in zip(names, tensors):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")


def check_dtypes(names: tuple[str, str, str], tensors: tuple[torch.Tensor, ...]) -> None:
    """TypeError unless the parameter tensors share one dtype, float32 or float64."""
    dtypes = {t.dtype for t in tensors}
    if len(dtypes) > 1 or dtypes.pop() not in (torch.float32, torch.float64):
        raise TypeError(
            f"{names[0]}, {names[1]} and {names[2]} must share one dtype, float32 or float64; got "
            + ", ".join(f"{n}: {t.dtype}" for n, t in zip(names, tensors))
        )


def check_sample_shape(sample_shape, per_sample: int, dtype: torch.dtype) -> torch.Size:
    """``sample_shape`` as a torch.Size of non-negative ints whose samples fit in one array."""
    dims = (sample_shape,) if isinstance(sample_shape, (int, np.integer)) else tuple(sample_shape)
    for d in dims:
        check_count(d, "sample_shape entries", minimum=0)
    ints = [int(d) for d in dims]
    check_size(math.prod(ints), per_sample, dtype.itemsize, "sample_shape's product")
    return torch.Size(ints)


def core_seed(seed, generator: torch.Generator | None):
    """The seed of a core draw: ``seed`` itself (an int or a SeedSequence), or, when it is None,
    a 63-bit int from ``generator`` (torch's global generator when that is None too)."""
    if seed is None:
        return int(torch.randint(0, SEED_BOUND, (), generator=generator, dtype=torch.int64))
    if not isinstance(seed, (int, np.integer, np.random.SeedSequence)) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int or a numpy SeedSequence, got {type(seed).__name__}")
    return seed


class MixtureDistribution(torch.distributions.Distribution):
    """Base of the torch mixtures: subclasses set ``logits`` (*batch, K) and ``means``
    (*batch, K, D) and define ``rsample``."""

    logits: torch.Tensor
    means: torch.Tensor

    @property
    def weights(self) -> torch.Tensor:
        """softmax(logits), shape (*batch, K)."""
        return torch.softmax(self.logits, dim=-1)

    @property
    def mean(self) -> torch.Tensor:
        """Mixture mean, shape (*batch, D) (differentiable)."""
        return (self.weights.unsqueeze(-1) * self.means).sum(-2)

    def sample(self, sample_shape=torch.Size(), **kwargs) -> torch.Tensor:  # noqa: B008 - as torch.distributions
        """Samples without gradient (same arguments as :meth:`rsample`)."""
        with torch.no_grad():
            return self.rsample(sample_shape, **kwargs)
