"""mixgrad: gradients through random samples, fast, over large batches.

* continuous samples: implicit reparameterization for Gaussian mixtures (means, scales and
  mixing weights);
* discrete samples: REBAR and its peer estimators for Bernoulli and categorical variables;
* the normal special functions and a deterministic parallel generator they rest on.

The numpy API lives at the top (``special``, ``random``, ``mixture``, ``discrete``,
``objectives``, ``estimators``, ``tuning``, ``implicit``); the subpackages ``gmm`` (the
mixture-weight application), ``experiments`` (toy study, VI, figures), ``cli`` (the ``mixgrad``
command), ``torch`` and ``jax`` (adapters), ``pyro`` and ``numpyro`` (distributions for
probabilistic programs) and ``dask`` (Dask arrays) load on first attribute access.
"""

from __future__ import annotations

import importlib as _importlib
from types import ModuleType as _ModuleType

from . import estimators, implicit, objectives, random, special
from ._loader import _core
from ._simd import set_simd_level, simd_level, supported_simd_levels
from ._threads import MAX_THREADS, get_num_threads, set_num_threads, threads
from .discrete import Bernoulli, Categorical
from .estimators import (
    GradientEstimate,
    arms,
    concrete,
    disarm,
    double_cv,
    exact,
    rebar,
    reinforce,
    rloo,
    straight_through,
)
from .mixture import DiagGaussianMixture, MixtureGradient
from .mixture_full import FullMixtureGradient, GaussianMixture
from .objectives import Callback, GMMComponentLikelihood, Quadratic, QuadraticForm
from .tuning import OnlineTuner, TuneResult, tune

__version__: str = _core.__version__
has_openmp: bool = bool(_core.has_openmp)

__all__ = [
    "MAX_THREADS",
    "Bernoulli",
    "Callback",
    "Categorical",
    "DiagGaussianMixture",
    "FullMixtureGradient",
    "GMMComponentLikelihood",
    "GaussianMixture",
    "GradientEstimate",
    "MixtureGradient",
    "OnlineTuner",
    "Quadratic",
    "QuadraticForm",
    "TuneResult",
    "__version__",
    "arms",
    "concrete",
    "disarm",
    "double_cv",
    "estimators",
    "exact",
    "experiments",
    "get_num_threads",
    "gmm",
    "has_openmp",
    "implicit",
    "objectives",
    "random",
    "rebar",
    "reinforce",
    "rloo",
    "set_num_threads",
    "set_simd_level",
    "simd_level",
    "special",
    "straight_through",
    "supported_simd_levels",
    "threads",
    "tune",
]

# Subpackages load on first attribute access (PEP 562), so `import mixgrad` stays light: it
# imports neither torch, jax, pyro, numpyro, dask nor matplotlib. The old flat module names resolve to their new
# homes.
_SUBPACKAGES = ("gmm", "experiments", "cli", "torch", "jax", "pyro", "numpyro", "dask")
_MOVED = {
    "toy": "experiments.toy",
    "toy_plots": "experiments.toy_plots",
    "gmm_experiment": "experiments.gmm_report",
    "gmm_plots": "experiments.gmm_plots",
    "vi": "experiments.vi",
}


def __getattr__(name: str) -> _ModuleType:
    if name in _SUBPACKAGES:
        return _importlib.import_module(f"{__name__}.{name}")
    if name in _MOVED:
        return _importlib.import_module(f"{__name__}.{_MOVED[name]}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list:
    return sorted(set(globals()) | set(_SUBPACKAGES) | set(_MOVED))
