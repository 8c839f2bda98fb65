"""Choosing REBAR's temperature lambda and control-variate scale eta to minimize variance.

With ``g = A + eta B`` per sample (``A = f(b) score``, ``B`` the control-variate terms) and the
mean of ``g`` independent of (eta, lambda) (REBAR is unbiased for all of them), the variance is
minimized by minimizing ``E|g|^2 = E|A|^2 + 2 eta E[A.B] + eta^2 E|B|^2``; ``E|A|^2`` does not
depend on (eta, lambda). So, for a fixed lambda, ``eta* = -E[A.B] / E|B|^2`` and the achievable
reduction is ``E[A.B]^2 / E|B|^2``.

* :func:`tune` evaluates this on a grid of lambda with common random numbers (the same seed for
  every lambda) and returns the best (lambda, eta) -- one shot, for a fixed problem.
* :class:`OnlineTuner` follows Tucker et al. (2017): each step returns an unbiased REBAR estimate
  with the current (lambda, eta), then takes one Adam step on the estimated variance, using the
  exact derivative in eta and a central finite difference (common random numbers) in log lambda.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ._checks import check_real, real_array
from ._seeding import SeedLike, philox_key, seed_sequence
from ._threads import resolve_nthreads
from .discrete import _Discrete, check_coupling, check_temperature
from .estimators import GradientEstimate, _check_args, _run, rebar
from .objectives import Objective

__all__ = ["OnlineTuner", "TuneResult", "tune"]


def _moments(objective, dist, S, lam, coupled, key, nt):
    """(mean over samples of sum A.B, mean of sum B.B) at temperature lam."""
    out, _ = _run(
        objective,
        dist,
        S,
        0,
        lam=lam,
        coupled=coupled,
        key=key,
        keep_samples=False,
        want_mean=False,
        want_stats=True,
        nthreads=nt,
    )
    ab, bb = out[3][2], out[3][3]
    return float(ab.sum()) / S, float(bb.sum()) / S


@dataclass
class TuneResult:
    """Result of :func:`tune`.

    Attributes
    ----------
    temperature, eta : float
        The variance-minimizing lambda and eta* at that lambda.
    reduction : float
        ``E[A.B]^2 / E|B|^2`` at the chosen lambda: how much ``E|g|^2`` (summed over coordinates)
        drops below plain REINFORCE's ``E|A|^2``.
    grid : dict
        ``temperature``, ``eta``, ``reduction`` arrays over the grid.
    """

    temperature: float
    eta: float
    reduction: float
    grid: dict[str, np.ndarray]


def tune(
    objective: Objective,
    distribution: _Discrete,
    n_samples: int,
    seed: SeedLike = None,
    *,
    temperatures: Sequence[float] | None = None,
    coupling: str = "independent",
    nthreads: int | None = None,
) -> TuneResult:
    """Pick lambda and eta minimizing REBAR's variance on common random numbers.

    Parameters
    ----------
    objective, distribution, n_samples, seed
        As for :func:`mixgrad.rebar` (n_samples >= 2).
    temperatures : sequence of float, optional
        Grid of lambda (> 0); default ``logspace(-3, 3, 25)``.
    coupling : {"independent", "coupled"}

    Returns
    -------
    TuneResult
        Use a fresh seed for the estimates made with the result: tuning on the same samples would
        bias them slightly.
    """
    S = _check_args(objective, distribution, n_samples, 2)
    grid = np.logspace(-3, 3, 25) if temperatures is None else real_array(temperatures, "temperatures").astype(float)
    if grid.ndim != 1 or grid.size == 0:
        raise ValueError("temperatures must be a non-empty 1-D sequence")
    for lam in grid:
        check_temperature(lam)
    coupled = check_coupling(coupling)
    key = philox_key(seed)
    nt = resolve_nthreads(nthreads)
    etas, reds = [], []
    for lam in grid:
        ab, bb = _moments(objective, distribution, S, float(lam), coupled, key, nt)
        etas.append(-ab / bb if bb > 0 else 0.0)
        reds.append(ab * ab / bb if bb > 0 else 0.0)
    etas_a, reds_a = np.array(etas), np.array(reds)
    k = int(np.argmax(reds_a))
    return TuneResult(
        float(grid[k]), float(etas_a[k]), float(reds_a[k]), {"temperature": grid, "eta": etas_a, "reduction": reds_a}
    )


class OnlineTuner:
    """Online adaptation of REBAR's (lambda, eta) by Adam on the estimated variance.

    Parameters
    ----------
    temperature, eta : float
        Starting values.
    learning_rate : float
        Adam step size for eta and log lambda.
    fd_step : float
        Step in log lambda of the central finite difference.
    tune_temperature : bool
        If False only eta is adapted.
    coupling : {"independent", "coupled"}

    Examples
    --------
    >>> import mixgrad, numpy as np
    >>> tuner = mixgrad.OnlineTuner()
    >>> d = mixgrad.Bernoulli(np.zeros(4)); f = mixgrad.Quadratic(0.45)
    >>> g = tuner.step(f, d, 16, seed=0)   # unbiased estimate, then (lambda, eta) updated
    """

    def __init__(
        self,
        temperature: float = 0.5,
        eta: float = 1.0,
        learning_rate: float = 0.05,
        fd_step: float = 0.1,
        tune_temperature: bool = True,
        coupling: str = "independent",
    ):
        self.log_temperature = float(np.log(check_temperature(temperature)))
        self.eta = check_real(eta, "eta")
        self.learning_rate = check_real(learning_rate, "learning_rate", positive=True)
        self.fd_step = check_real(fd_step, "fd_step", positive=True)
        self.tune_temperature = bool(tune_temperature)
        self.coupling = coupling
        check_coupling(coupling)
        self._m = np.zeros(2)
        self._v = np.zeros(2)
        self._t = 0
        self.history: dict[str, list] = {"temperature": [], "eta": []}

    @property
    def temperature(self) -> float:
        """The current lambda (the tuner updates its logarithm)."""
        return float(np.exp(self.log_temperature))

    def step(
        self,
        objective: Objective,
        distribution: _Discrete,
        n_samples: int,
        seed: SeedLike = None,
        nthreads: int | None = None,
    ) -> GradientEstimate:
        """Return a REBAR estimate with the current (lambda, eta), then update them.

        Parameters
        ----------
        objective, distribution, n_samples
            As for :func:`mixgrad.rebar`.
        seed : None, int, SeedSequence or Generator
            Turned into a ``SeedSequence`` (a Generator is advanced by one draw of four words)
            whose two spawned children seed the returned estimate and the tuning moments: the
            same seed gives the same estimate and the same update.
        nthreads : int, optional
        """
        S = _check_args(objective, distribution, n_samples)
        ss = seed_sequence(seed)
        est_seed, tune_seed = ss.spawn(2)
        est = rebar(
            objective,
            distribution,
            n_samples,
            est_seed,
            temperature=self.temperature,
            eta=self.eta,
            coupling=self.coupling,
            nthreads=nthreads,
        )
        key = philox_key(tune_seed)
        nt = resolve_nthreads(nthreads)
        coupled = self.coupling == "coupled"
        ab, bb = _moments(objective, distribution, S, self.temperature, coupled, key, nt)
        grad = np.zeros(2)
        grad[0] = 2 * (ab + self.eta * bb)  # d E|g|^2 / d eta
        if self.tune_temperature:
            h = self.fd_step
            vals = []
            for sgn in (1.0, -1.0):
                a2, b2 = _moments(
                    objective, distribution, S, float(np.exp(self.log_temperature + sgn * h)), coupled, key, nt
                )
                vals.append(2 * self.eta * a2 + self.eta**2 * b2)
            grad[1] = (vals[0] - vals[1]) / (2 * h)
        self._t += 1
        b1, b2_ = 0.9, 0.999
        self._m = b1 * self._m + (1 - b1) * grad
        self._v = b2_ * self._v + (1 - b2_) * grad**2
        mh = self._m / (1 - b1**self._t)
        vh = self._v / (1 - b2_**self._t)
        upd = self.learning_rate * mh / (np.sqrt(vh) + 1e-12)
        self.eta -= upd[0]
        if self.tune_temperature:
            self.log_temperature = float(np.clip(self.log_temperature - upd[1], np.log(1e-3), np.log(1e3)))
        self.history["temperature"].append(self.temperature)
        self.history["eta"].append(self.eta)
        est.diagnostics["tuner"] = {"temperature": self.temperature, "eta": self.eta}
        return est
