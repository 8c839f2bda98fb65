"""Import PyTorch for the adapter, or explain how to get it."""

from __future__ import annotations

import importlib
from types import ModuleType

from .._extras import missing_extra

__all__ = ["require_torch"]


def require_torch() -> ModuleType:
    """Return the ``torch`` module, raising a clear ImportError when it is missing.

    Returns
    -------
    module
        The imported ``torch`` package.

    Raises
    ------
    ImportError
        If PyTorch cannot be imported; the message names the ``torch`` extra.
    """
    try:
        return importlib.import_module("torch")
    except ImportError as exc:  # pragma: no cover - exercised by a test with torch hidden
        raise missing_extra("torch", "PyTorch", "torch") from exc
