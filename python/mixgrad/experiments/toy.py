"""The toy study of Tucker et al. (2017): minimize E[(b - t)^2], b ~ Bernoulli(sigmoid(alpha)).

The gradient with respect to alpha is theta (1 - theta) (1 - 2t): tiny for t near 1/2, so the
estimators' variance decides whether SGD finds theta -> 0. Two entry points:

* :func:`toy_training` -- SGD on alpha for each target and estimator; theta over iterations and
  the estimator's variance at the current theta;
* :func:`variance_table` -- the per-coordinate variance of each estimator at theta = 1/2, for
  D = 1 (each target) and the D = 100 problem f(b) = mean_d (b_d - 0.45)^2, measured here.

:func:`run_toy` does both (``quick=True`` for a fast check).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .. import estimators as est
from .._seeding import philox_key
from ..discrete import Bernoulli
from ..objectives import Quadratic
from ..tuning import _moments

__all__ = ["ESTIMATOR_SETTINGS", "ToyResult", "format_table", "run_toy", "toy_training", "variance_table"]

TARGETS = (0.45, 0.49, 0.499)

# label -> (estimator, options)
ESTIMATOR_SETTINGS: dict[str, tuple] = {
    "REINFORCE": ("reinforce", {}),
    "REINFORCE + LOO": ("reinforce", {"baseline": "loo"}),
    "REBAR eta=1": ("rebar", {"eta": 1.0}),
    "REBAR eta*": ("rebar", {"eta": "optimal"}),
    "REBAR + LOO": ("rebar", {"eta": "optimal", "baseline": "loo"}),
    "Concrete": ("concrete", {}),
}


def exact_toy_gradient(alpha: np.ndarray, t: float) -> np.ndarray:
    """d/dalpha_d of E[mean_d (b_d - t)^2]: theta (1 - theta) (1 - 2t) / D."""
    th = 1.0 / (1.0 + np.exp(-alpha))
    return th * (1 - th) * (1 - 2 * t) / alpha.size


def _estimate(label, obj, dist, n, seed, temperature, keep_samples=True):
    name, opts = ESTIMATOR_SETTINGS[label]
    kw = dict(opts)
    if name in ("rebar", "concrete"):
        kw["temperature"] = temperature
    return getattr(est, name)(obj, dist, n, seed, keep_samples=keep_samples, **kw)


@dataclass
class ToyResult:
    """Histories ``theta[target][label]`` (iterations + 1,), ``log_variance[target][label]``
    (per ``variance_every`` iterations), and the variance ``table`` rows."""

    iterations: int
    theta: dict[float, dict[str, np.ndarray]]
    log_variance: dict[float, dict[str, np.ndarray]]
    variance_iterations: np.ndarray
    table: list[dict] = field(default_factory=list)


def toy_training(
    targets: Sequence[float] = TARGETS,
    labels: Sequence[str] = tuple(ESTIMATOR_SETTINGS),
    iterations: int = 3000,
    learning_rate: float = 1.0,
    n_samples: int = 2,
    temperature: float = 0.5,
    variance_every: int = 50,
    variance_samples: int = 2000,
    seed: int = 0,
):
    """SGD on the logit alpha (D = 1, alpha_0 = 0) with each estimator (n_samples per step, so
    that the leave-one-out variants have a baseline). Returns (theta, log_variance, iterations
    where the variance was measured).

    With two samples per step a leave-one-out eta* would come from a single other sample (unbiased
    but heavy-tailed), so during training the eta* variants use eta* estimated on the previous
    batches (an exponential average, updated after each step's estimate: still unbiased). The
    variance curves use eta* leave-one-out over ``variance_samples``.
    """
    theta: dict[float, dict[str, np.ndarray]] = {}
    logvar: dict[float, dict[str, np.ndarray]] = {}
    var_its = np.arange(0, iterations + 1, variance_every)
    ss = np.random.SeedSequence(seed)
    for t in targets:
        obj = Quadratic(t)
        theta[t], logvar[t] = {}, {}
        for label in labels:
            seeds = ss.spawn(1)[0].generate_state(2 * iterations + 2)
            alpha = np.zeros(1)
            th = np.empty(iterations + 1)
            lv = []
            _name, opts = ESTIMATOR_SETTINGS[label]
            eta_state = 1.0  # eta* from the previous batches (training only; see docstring)
            for it in range(iterations + 1):
                th[it] = 1.0 / (1.0 + np.exp(-alpha[0]))
                dist = Bernoulli(alpha)
                if it % variance_every == 0:
                    g = _estimate(label, obj, dist, variance_samples, int(seeds[2 * it + 1]), temperature, False)
                    lv.append(float(np.log(g.variance[0])) if g.variance[0] > 0 else -np.inf)
                if it == iterations:
                    break
                if opts.get("eta") == "optimal":
                    g = est.rebar(
                        obj,
                        dist,
                        n_samples,
                        int(seeds[2 * it]),
                        temperature=temperature,
                        eta=eta_state,
                        baseline=opts.get("baseline"),
                        keep_samples=False,
                    )
                    ab, bb = _moments(obj, dist, n_samples, temperature, False, philox_key(int(seeds[2 * it])), 0)
                    if bb > 0:
                        eta_state = 0.9 * eta_state + 0.1 * (-ab / bb)
                else:
                    g = _estimate(label, obj, dist, n_samples, int(seeds[2 * it]), temperature, False)
                alpha = np.clip(alpha - learning_rate * g.mean, -30.0, 30.0)
            theta[t][label] = th
            logvar[t][label] = np.array(lv)
    return theta, logvar, var_its


def variance_table(
    targets: Sequence[float] = TARGETS,
    labels: Sequence[str] = tuple(ESTIMATOR_SETTINGS),
    n_samples_1d: int = 100_000,
    n_samples_100d: int = 10_000,
    temperature: float = 0.5,
    seed: int = 1,
) -> list[dict]:
    """Per-coordinate variance of the single-sample estimates at theta = 1/2 (alpha = 0).

    Rows: D = 1 for each target, and D = 100 with t = 0.45. LOO baselines and the optimal eta use
    the other samples of the same batch (n_samples). Each row: ``D``, ``target``, ``label``,
    ``variance`` (mean over coordinates), ``ratio`` (REINFORCE's variance / this one) and
    ``bias_z`` (max |mean - exact| / stderr; large for the biased Concrete).
    """
    rows = []
    cases = [(1, t, n_samples_1d) for t in targets] + [(100, 0.45, n_samples_100d)]
    for D, t, n in cases:
        dist = Bernoulli(np.zeros(D))
        obj = Quadratic(t)
        truth = exact_toy_gradient(np.zeros(D), t)
        base = None
        for label in labels:
            g = _estimate(label, obj, dist, n, seed, temperature, False)
            v = float(np.mean(g.variance))
            if label == "REINFORCE":
                base = v
            rows.append(
                {
                    "D": D,
                    "target": t,
                    "label": label,
                    "n_samples": n,
                    "variance": v,
                    "ratio": (base / v) if base is not None and v > 0 else float("nan"),
                    "bias_z": float(np.max(np.abs(g.mean - truth) / g.stderr)),
                    "eta": g.diagnostics.get("eta"),
                }
            )
    return rows


def format_table(rows: list[dict]) -> str:
    """Markdown table of :func:`variance_table` rows."""
    lines = [
        "| D | t | estimator | per-coordinate variance | REINFORCE / this | max bias / stderr (abs) |",
        "|---:|---:|---|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['D']} | {r['target']} | {r['label']} | {r['variance']:.3e} | {r['ratio']:.3g} | {r['bias_z']:.1f} |"
        )
    return "\n".join(lines)


def run_toy(quick: bool = False, seed: int = 0) -> ToyResult:
    """The whole toy study: training histories and the variance table.

    ``quick=True`` runs 300 iterations and smaller variance batches (a few seconds); the
    default (3000 iterations, 10^5 / 10^4 samples for the table) takes a few seconds.
    """
    iterations = 300 if quick else 3000
    theta, logvar, its = toy_training(
        iterations=iterations, variance_samples=500 if quick else 2000, variance_every=20 if quick else 50, seed=seed
    )
    table = variance_table(
        n_samples_1d=20_000 if quick else 100_000, n_samples_100d=2_000 if quick else 10_000, seed=seed + 1
    )
    return ToyResult(iterations, theta, logvar, its, table)
