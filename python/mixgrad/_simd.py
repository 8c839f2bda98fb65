"""The instruction-set level of the compiled kernels, and MIXGRAD_SIMD_LEVEL.

The hot kernels exist in one copy per x86-64 level: ``"x86-64-v4"`` (AVX-512),
``"x86-64-v3"`` (AVX2 + FMA) and ``"baseline"`` (SSE2; the only one off x86-64 or in builds
without GCC). By default the highest level the CPU supports runs. ``MIXGRAD_SIMD_LEVEL`` (read
once, when mixgrad is imported) or :func:`set_simd_level` choose another, so that tests and
benchmarks can cover every copy on one machine. Asking for a level the CPU cannot run raises
rather than falling back. The copies agree to rounding (fused multiply-adds differ), not bitwise.
"""

from __future__ import annotations

from ._loader import _core

__all__ = ["set_simd_level", "simd_level", "supported_simd_levels"]

_LEVELS = ("auto", "x86-64-v4", "x86-64-v3", "baseline")


def simd_level() -> str:
    """The instruction-set level the kernels run at now.

    Returns
    -------
    str
        ``"x86-64-v4"``, ``"x86-64-v3"`` or ``"baseline"``.
    """
    return str(_core.simd_level())


def supported_simd_levels() -> tuple[str, ...]:
    """The levels this CPU (and this build of mixgrad) can run, highest first.

    Returns
    -------
    tuple of str
        For example ``("x86-64-v3", "baseline")`` on a CPU with AVX2 but no AVX-512.
    """
    return tuple(str(s) for s in _core.supported_simd_levels())


def set_simd_level(level: str) -> None:
    """Run the kernels at ``level`` from the next call on (process-wide).

    Parameters
    ----------
    level : str
        ``"auto"`` (the highest supported), ``"x86-64-v4"``, ``"x86-64-v3"`` or ``"baseline"``.
        Do not change it while another thread runs mixgrad kernels: a call in flight may then
        mix two copies (each correct to rounding).

    Raises
    ------
    TypeError
        If ``level`` is not a string.
    ValueError
        If ``level`` is unknown or the CPU cannot run it.
    """
    if not isinstance(level, str):
        raise TypeError(f"level must be a string, one of {_LEVELS}, got {type(level).__name__}")
    _core.set_simd_level(level)
