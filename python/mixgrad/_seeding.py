"""Turn user seeds into Philox keys through numpy's SeedSequence."""

from __future__ import annotations

from typing import Tuple, Union

import numpy as np

__all__ = ["SeedLike", "philox_key"]

SeedLike = Union[None, int, np.random.SeedSequence, np.random.Generator]


def philox_key(seed: SeedLike) -> Tuple[int, int]:
    """Return the two 32-bit words of a Philox4x32 key for ``seed``.

    Parameters
    ----------
    seed : None, int, numpy.random.SeedSequence or numpy.random.Generator
        None draws fresh OS entropy; an int or SeedSequence gives a reproducible key; a Generator
        is advanced by one draw, so successive calls with the same Generator differ.
    """
    if isinstance(seed, np.random.Generator):
        words = seed.integers(0, 2**32, size=2, dtype=np.uint64)
        return int(words[0]), int(words[1])
    if isinstance(seed, np.random.SeedSequence):
        ss = seed
    elif seed is None or (isinstance(seed, (int, np.integer)) and not isinstance(seed, bool)):
        if seed is not None and seed < 0:
            raise ValueError(f"seed must be non-negative, got {seed}")
        ss = np.random.SeedSequence(None if seed is None else int(seed))
    else:
        raise TypeError(
            "seed must be None, a non-negative int, a numpy SeedSequence or a numpy Generator, "
            f"got {type(seed).__name__}"
        )
    words = ss.generate_state(2, dtype=np.uint32)
    return int(words[0]), int(words[1])
