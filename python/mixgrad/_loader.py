"""Import of the compiled core with an error that says how to build it."""

from __future__ import annotations

try:
    from . import _core
except ImportError as exc:  # pragma: no cover - exercised only on broken installs
    if "MIXGRAD_SIMD_LEVEL" in str(exc):  # a bad setting, not a broken install
        raise
    raise ImportError(
        "mixgrad's compiled core (mixgrad._core) is missing or was built for another Python. "
        "Build and install it from the source tree with `pip install .` (or "
        "`pip install --no-build-isolation -e .` for development). "
        f"Original error: {exc}"
    ) from exc

__all__ = ["_core"]
