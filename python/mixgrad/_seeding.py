"""Turn user seeds into Philox keys through numpy's SeedSequence."""

from __future__ import annotations

from typing import Union

import numpy as np

__all__ = ["SeedLike", "philox_key", "seed_sequence"]

SeedLike = Union[None, int, np.random.SeedSequence, np.random.Generator]


def seed_sequence(seed: SeedLike) -> np.random.SeedSequence:
    """Return a ``numpy.random.SeedSequence`` for ``seed`` (for code that spawns child seeds).

    Parameters
    ----------
    seed : None, int, numpy.random.SeedSequence or numpy.random.Generator
        None draws fresh OS entropy; an int or SeedSequence is reproducible; a Generator is
        advanced by one draw of four words, which become the entropy.

    Raises
    ------
    TypeError
        For any other type (floats, bools, arrays).
    ValueError
        For a negative int.
    """
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, np.random.Generator):
        return np.random.SeedSequence(seed.integers(0, 2**32, size=4, dtype=np.uint64).tolist())
    if seed is None or (isinstance(seed, (int, np.integer)) and not isinstance(seed, bool)):
        if seed is not None and seed < 0:
            raise ValueError(f"seed must be non-negative, got {seed}")
        return np.random.SeedSequence(None if seed is None else int(seed))
    raise TypeError(
        f"seed must be None, a non-negative int, a numpy SeedSequence or a numpy Generator, got {type(seed).__name__}"
    )


def philox_key(seed: SeedLike) -> tuple[int, int]:
    """Return the two 32-bit words of a Philox4x32 key for ``seed``.

    Parameters
    ----------
    seed : None, int, numpy.random.SeedSequence or numpy.random.Generator
        None draws fresh OS entropy; an int or SeedSequence gives a reproducible key; a Generator
        is advanced by one draw, so successive calls with the same Generator differ.
    """
    if isinstance(seed, np.random.Generator):
        gwords = seed.integers(0, 2**32, size=2, dtype=np.uint64)
        return int(gwords[0]), int(gwords[1])
    words = seed_sequence(seed).generate_state(2, dtype=np.uint32)
    return int(words[0]), int(words[1])
