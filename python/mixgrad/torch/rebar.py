"""REBAR (Tucker et al. 2017) for torch models: any torch objective, tuned eta and temperature."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Callable

import numpy as np

from .._checks import check_real, real_array
from ._discrete import DiscreteEstimator, EstimatorOutput, evaluate, event_sum, per_event, surrogate_from, uniform_like
from ._require import require_torch

require_torch()  # a clear ImportError naming the extra when torch is missing
import torch  # noqa: E402

__all__ = ["Rebar"]


class Rebar(DiscreteEstimator):
    r"""REBAR gradient estimator for Bernoulli (logistic noise) or categorical (Gumbel noise)
    latent variables, as a surrogate loss.

    For logits alpha (produced by any torch model) and an objective f (any torch function of the
    sample, evaluated at hard and relaxed points), the per-sample estimate of d E[f(b)] / d alpha
    is (DESIGN 4.2)

        g = [f(b) - eta f(s(z~))] d log p(b)/d alpha + eta d f(s(z))/d alpha
            - eta d f(s(z~))/d alpha,

    with s = sigmoid(z / lambda) or softmax(z / lambda), dz~/dalpha included (autograd through
    the conditional noise). ``eta`` and ``log_temperature`` are ``torch.nn.Parameter``\ s; the
    control-variate terms reach the model parameters only through the detached ``g`` (no
    leakage), and ``variance_backward`` sends the gradient of the estimated variance
    ``mean |g|^2`` to eta and log lambda only (Tucker et al.'s online tuning).

    Parameters
    ----------
    kind : {"bernoulli", "categorical"}
        Latent family. Categorical classes are on the last dimension of the logits.
    eta : float or sequence of float
        Initial control-variate scale(s); a sequence gives one eta per event coordinate
        (broadcast against the trailing dimensions of the logits).
    temperature : float
        Initial relaxation temperature lambda > 0.
    event_dims : int, optional
        How many trailing logits dimensions make one sample's event; f maps a tensor of the
        logits' shape to one without them. Default 1.
    coupled : bool
        If True derive the conditional noise v from u (so z~ = z in value) instead of drawing
        it independently.
    tune : bool
        If True (default), eta and log temperature require grad and ``variance_loss`` is built
        (costs a double backward through f). If False they are frozen.

    Examples
    --------
    >>> est = Rebar("bernoulli", temperature=0.5)
    >>> out = est(encoder(x), lambda b: log_joint(x, b))
    >>> (-out.surrogate.mean()).backward()
    >>> est.variance_backward(out)      # before optimizer.step()
    >>> optimizer.step()
    """

    def __init__(
        self,
        kind: str = "bernoulli",
        *,
        eta: float | Sequence[float] = 1.0,
        temperature: float = 0.5,
        event_dims: int = 1,
        coupled: bool = False,
        tune: bool = True,
    ) -> None:
        super().__init__(kind, event_dims=event_dims)
        temperature = check_real(temperature, "temperature", positive=True)
        eta_np = real_array(eta, "eta", allow_bool=False)
        if eta_np.ndim > 1:
            raise ValueError(
                f"eta must be a number or a 1-D sequence (one per event coordinate), got shape {eta_np.shape}"
            )
        eta_t = torch.as_tensor(eta_np.astype(np.float64)).clone()
        if not torch.isfinite(eta_t).all():
            raise ValueError(f"eta must be finite, got {eta!r}")
        self.eta = torch.nn.Parameter(eta_t, requires_grad=tune)
        self.log_temperature = torch.nn.Parameter(
            torch.tensor(math.log(temperature), dtype=torch.float64), requires_grad=tune
        )
        self.coupled = bool(coupled)
        self.tune = bool(tune)

    @property
    def temperature(self) -> float:
        """Current lambda = exp(log_temperature)."""
        return float(self.log_temperature.detach().exp())

    def control_parameters(self) -> Iterator[torch.nn.Parameter]:
        """The control-variate parameters (eta, log_temperature)."""
        yield self.eta
        yield self.log_temperature

    def forward(
        self,
        logits: torch.Tensor,
        f: Callable[[torch.Tensor], torch.Tensor],
        *,
        n_samples: int | None = None,
        generator: torch.Generator | None = None,
    ) -> EstimatorOutput:
        """Draw one sample per row (or ``n_samples`` per row) and build the REBAR surrogate.

        Parameters
        ----------
        logits : torch.Tensor
            Logits of shape ``(*batch, *event)``; may depend on model parameters.
        f : callable
            Objective; maps samples of shape ``(*batch, *event)`` (hard or relaxed) to values of
            shape ``batch``, row by row (row i may depend only on sample i). It may use model
            parameters directly; their gradient is taken at the hard sample only.
        n_samples : int, optional
            Draw this many samples per logits row, on a new leading dimension.
        generator : torch.Generator, optional
            Source of the uniform noise (None: torch's global generator).

        Returns
        -------
        EstimatorOutput
            See :class:`mixgrad.torch.EstimatorOutput`.
        """
        ev = self.event_dims
        fam = self.family
        logits_x, batch_shape = self._frame(logits, n_samples)
        u = uniform_like(logits_x, generator)
        alpha = logits_x.detach().clone().requires_grad_(True)
        build_variance = (
            self.tune and torch.is_grad_enabled() and any(p.requires_grad for p in self.control_parameters())
        )
        with torch.enable_grad():
            z, b = fam.noise(alpha, u)
            if self.coupled:
                v = fam.coupled_uniform(alpha, u, b)
            else:
                v = uniform_like(logits_x, generator)
            z_tilde = fam.conditional(alpha, b, v)
            lam = self.log_temperature.to(logits_x.dtype).exp()
            eta = self.eta.to(logits_x.dtype)
            f_b = evaluate(f, b, batch_shape)
            f_z = evaluate(f, fam.relax(z, lam), batch_shape)
            f_zt = evaluate(f, fam.relax(z_tilde, lam), batch_shape)
            d_fz, d_fzt = two_grads(f_z, f_zt, alpha, build_variance)
            score = fam.score(alpha.detach(), b)
            g = (per_event(f_b.detach(), ev) - eta * per_event(f_zt, ev)) * score + eta * (d_fz - d_fzt)
            extra = self._learned_control(z, z_tilde, alpha, batch_shape, build_variance)
            if extra is not None:  # RELAX: c(z) = eta f(s(z)) + r(z)
                r_zt, d_r = extra
                g = g - per_event(r_zt, ev) * score + d_r
        variance_loss = event_sum(g * g, ev).mean() if build_variance else None
        surrogate = surrogate_from(f_b, g, logits_x, ev)
        return EstimatorOutput(surrogate, f_b.detach(), b, g.detach(), variance_loss)

    def _learned_control(self, z, z_tilde, alpha, batch_shape, create_graph):
        """REBAR has no learned control variate (see :class:`mixgrad.torch.Relax`)."""
        return None

    def variance_backward(self, output: EstimatorOutput) -> None:
        """Accumulate d(variance_loss)/d(eta, log_temperature) into their ``.grad`` only.

        Call it before any optimizer step changes the parameters that f uses in place (the
        variance graph goes through f's double backward).

        Parameters
        ----------
        output : EstimatorOutput
            The result of :meth:`forward` with ``tune=True``.

        Raises
        ------
        ValueError
            If ``output`` carries no variance loss (tune=False or built under no_grad).
        """
        if output.variance_loss is None:
            raise ValueError("output has no variance_loss: build it with tune=True and gradients enabled")
        params = [p for p in self.control_parameters() if p.requires_grad]
        output.variance_loss.backward(inputs=params)


def two_grads(f_z, f_zt, alpha, create_graph):
    """d f_z.sum()/d alpha and d f_zt.sum()/d alpha (zeros where f ignores the sample)."""
    g1 = torch.autograd.grad(f_z.sum(), alpha, create_graph=create_graph, retain_graph=True, allow_unused=True)[0]
    g2 = torch.autograd.grad(f_zt.sum(), alpha, create_graph=create_graph, retain_graph=True, allow_unused=True)[0]
    zeros = torch.zeros_like(alpha)
    return (zeros if g1 is None else g1), (zeros if g2 is None else g2)
