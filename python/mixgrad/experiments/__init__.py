"""Experiments built on mixgrad, each beside the figures it draws.

* :mod:`~mixgrad.experiments.toy` -- the REBAR toy study of Tucker et al. (2017);
  figures in :mod:`~mixgrad.experiments.toy_plots`;
* :mod:`~mixgrad.experiments.gmm_report` -- the reproduction report's mixture-weight fits;
  figures in :mod:`~mixgrad.experiments.gmm_plots`;
* :mod:`~mixgrad.experiments.vi` -- variational inference with a mixture posterior (torch).

Submodules are imported on first use, so importing this package imports neither matplotlib
nor torch.
"""

from __future__ import annotations

import importlib
from types import ModuleType

_SUBMODULES = ("toy", "toy_plots", "gmm_report", "gmm_plots", "vi")

__all__ = list(_SUBMODULES)


def __getattr__(name: str) -> ModuleType:
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list:
    return sorted(list(globals()) + list(_SUBMODULES))
