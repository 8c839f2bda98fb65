"""The application: learning Gaussian-mixture weights with REBAR and its peers, against EM.

* :func:`fit` (in :mod:`mixgrad.gmm.fitting`) -- gradient ascent with ``"exact"``, ``"rebar"``,
  ``"reinforce"`` or ``"concrete"`` logits gradients, or EM (``"em"``);
* :mod:`mixgrad.gmm.model` -- the parameters, the log-likelihood and its exact gradient;
* :mod:`mixgrad.gmm.em` -- the EM step;
* :mod:`mixgrad.gmm.estimate` -- the stochastic logits gradient through the C++ estimators;
* :mod:`mixgrad.gmm.numpy_reference` -- a vectorized numpy REBAR, the baseline of the benchmark.
"""

from __future__ import annotations

from .fitting import METHODS, OPTIMIZERS, ConvergenceWarning, FitResult, fit, log_responsibilities_of, report_data

__all__ = ["METHODS", "OPTIMIZERS", "ConvergenceWarning", "FitResult", "fit", "log_responsibilities_of", "report_data"]
