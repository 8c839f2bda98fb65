"""PyTorch adapter of mixgrad (optional extra ``mixgrad[torch]``).

Discrete latent variables (Bernoulli with logistic noise, categorical with Gumbel noise) with
any torch objective, through one interface ``estimator(logits, f) -> EstimatorOutput``:

* :class:`Rebar` -- REBAR with eta and log temperature tuned on the estimated variance;
* :class:`Reinforce` -- score function with no / moving-average / leave-one-out baseline;
* :class:`Concrete` -- relaxed reparameterization (biased);
* :class:`Relax` -- REBAR with a learned control variate (a network trained on the variance);
* :class:`Disarm` -- DisARM (Bernoulli antithetic pairs); :class:`Arms` -- n mutually antithetic
  draws; :class:`Rloo` -- leave-one-out REINFORCE; :class:`DoubleCV` -- RLOO plus a Taylor
  control variate;
* :func:`exact_expectation` -- enumeration, the truth for small problems.

Importing this module imports torch; a clear ImportError names the extra when it is missing.
"""

from __future__ import annotations

from ._require import require_torch

require_torch()

from . import noise  # noqa: E402
from ._discrete import EstimatorOutput  # noqa: E402
from .arms import Arms  # noqa: E402
from .concrete import Concrete  # noqa: E402
from .disarm import Disarm, Rloo  # noqa: E402
from .double_cv import DoubleCV  # noqa: E402
from .exact import exact_expectation  # noqa: E402
from .mixture import DiagGaussianMixture  # noqa: E402
from .mixture_full import GaussianMixture  # noqa: E402
from .rebar import Rebar  # noqa: E402
from .reinforce import Reinforce  # noqa: E402
from .relax import Relax  # noqa: E402

__all__ = ["Concrete", "DiagGaussianMixture", "EstimatorOutput", "Rebar", "Reinforce", "exact_expectation", "noise"]
__all__ += ["Arms", "Disarm", "DoubleCV", "GaussianMixture", "Relax", "Rloo"]
