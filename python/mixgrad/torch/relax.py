"""RELAX (Grathwohl et al. 2018): REBAR with a learned control variate, for torch models."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from ._discrete import evaluate
from ._require import require_torch
from .rebar import Rebar, two_grads

require_torch()  # a clear ImportError naming the extra when torch is missing
import torch  # noqa: E402

__all__ = ["Relax"]


class Relax(Rebar):
    r"""RELAX: REBAR whose control variate gains a learned term,
    ``c(z) = eta f(s(z)) + r_psi(z)``:

        g = [f(b) - c(z~)] d log p(b)/d alpha + d c(z)/d alpha - d c(z~)/d alpha,

    unbiased for any r_psi. ``control`` is a torch module (a small network) mapping the noise z
    (shape of the logits, ``(*batch, *event)``) to one value per sample (``batch``); its
    parameters, eta and the log temperature are trained online on the estimator's variance with
    :meth:`variance_backward` (the gradient of ``mean |g|^2``, which reaches those parameters
    only). As in :class:`Rebar`, nothing of the control variate reaches the model's parameters:
    the surrogate carries the detached estimate.

    Parameters
    ----------
    control : torch.nn.Module
        r_psi; its parameters must have the logits' dtype and device.
    kind : {"bernoulli", "categorical"}
    eta : float or sequence of float
        Initial scale of the REBAR term ``f(s(z))``; 0 leaves r_psi alone.
    temperature : float
        Initial relaxation temperature.
    event_dims : int
    coupled : bool
        As in :class:`Rebar`.

    Examples
    --------
    >>> net = torch.nn.Sequential(torch.nn.Linear(D, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1), Squeeze(-1))
    >>> est = Relax(net.double())
    >>> out = est(encoder(x), lambda b: log_joint(x, b))
    >>> (-out.surrogate.mean()).backward()
    >>> est.variance_backward(out)      # eta, log temperature and net's parameters
    """

    def __init__(
        self,
        control: torch.nn.Module,
        kind: str = "bernoulli",
        *,
        eta: float | Sequence[float] = 1.0,
        temperature: float = 0.5,
        event_dims: int = 1,
        coupled: bool = False,
    ) -> None:
        if not isinstance(control, torch.nn.Module):
            raise TypeError(f"control must be a torch.nn.Module, got {type(control).__name__}")
        super().__init__(kind, eta=eta, temperature=temperature, event_dims=event_dims, coupled=coupled, tune=True)
        self.control = control

    def control_parameters(self) -> Iterator[torch.nn.Parameter]:
        """eta, log_temperature and the parameters of ``control``."""
        yield from super().control_parameters()
        yield from self.control.parameters()

    def _learned_control(self, z, z_tilde, alpha, batch_shape, create_graph):
        """r(z~) per sample and d r(z)/d alpha - d r(z~)/d alpha (graphs kept when the variance
        loss is built, so that it reaches the control's parameters)."""
        r_z = evaluate(self.control, z, batch_shape)
        r_zt = evaluate(self.control, z_tilde, batch_shape)
        d_rz, d_rzt = two_grads(r_z, r_zt, alpha, create_graph)
        if not create_graph:
            r_zt = r_zt.detach()
        return r_zt, d_rz - d_rzt
