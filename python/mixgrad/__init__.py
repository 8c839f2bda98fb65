"""mixgrad: gradients through random samples, fast, over large batches.

* continuous samples: implicit reparameterization for Gaussian mixtures (means, scales and
  mixing weights);
* discrete samples: REBAR and its peer estimators for Bernoulli and categorical variables;
* the normal special functions and a deterministic parallel generator they rest on.
"""

from __future__ import annotations

from ._loader import _core
from ._threads import MAX_THREADS, get_num_threads, set_num_threads, threads
from . import estimators, implicit, objectives, random, special
from .mixture import DiagGaussianMixture, MixtureGradient
from .discrete import Bernoulli, Categorical
from .objectives import Callback, GMMComponentLikelihood, Quadratic, QuadraticForm
from .estimators import GradientEstimate, concrete, exact, rebar, reinforce, straight_through
from .tuning import OnlineTuner, TuneResult, tune
from . import toy

__version__: str = _core.__version__
has_openmp: bool = bool(_core.has_openmp)

__all__ = [
    "__version__",
    "has_openmp",
    "MAX_THREADS",
    "get_num_threads",
    "set_num_threads",
    "threads",
    "random",
    "implicit",
    "DiagGaussianMixture",
    "MixtureGradient",
    "special",
    "estimators",
    "objectives",
    "Bernoulli",
    "Categorical",
    "Quadratic",
    "QuadraticForm",
    "Callback",
    "GMMComponentLikelihood",
    "GradientEstimate",
    "rebar",
    "reinforce",
    "concrete",
    "straight_through",
    "exact",
    "OnlineTuner",
    "TuneResult",
    "tune",
    "toy",
]
