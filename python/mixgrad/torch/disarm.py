"""DisARM (Bernoulli; categorical in its stick-breaking form) and RLOO as torch surrogate losses
(DESIGN.md section 4.4)."""

from __future__ import annotations

from typing import Callable

from ._discrete import DiscreteEstimator, EstimatorOutput, evaluate, per_event, surrogate_from, uniform_like
from ._require import require_torch
from .reinforce import Reinforce

require_torch()  # a clear ImportError naming the extra when torch is missing
import torch  # noqa: E402

__all__ = ["Disarm", "Rloo", "categorical_disarm_grad"]


def _stick_breaking(alpha: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per class k: p_k = theta_k / sum_{j >= k} theta_j = sigmoid(beta_k), 1 - p_k (as
    sigmoid(-beta_k)) and sigmoid(|beta_k|), beta_k = alpha_k - logsumexp(alpha_{k+1:}); the last
    class has p = 1 (0 if its logit is -inf), 1 - p = 0 and factor 0 (no decision)."""
    tail = torch.logcumsumexp(alpha.flip(-1), dim=-1).flip(-1)  # logsumexp(alpha_{k:})
    ninf = torch.full_like(alpha[..., :1], float("-inf"))
    after = torch.cat([tail[..., 1:], ninf], dim=-1)  # logsumexp(alpha_{k+1:})
    dead = alpha == float("-inf")
    beta = torch.where(dead, torch.full_like(alpha, float("-inf")), alpha - torch.where(dead, 0.0, after))
    beta = torch.where(~dead & (after == float("-inf")), torch.full_like(alpha, float("inf")), beta)
    return torch.sigmoid(beta), torch.sigmoid(-beta), torch.sigmoid(beta.abs())


def categorical_disarm_grad(
    alpha: torch.Tensor, u: torch.Tensor, f_b: torch.Tensor, f_bt: torch.Tensor
) -> torch.Tensor:
    """The stick-breaking categorical DisARM estimate for logits ``alpha`` (..., K) given the
    pair's uniforms ``u`` (..., K; the last is unused) and ``f`` at both draws (broadcast over the
    classes, shape (..., 1)). The formula of cpp/include/mixgrad/discrete/disarm_categorical.hpp:
    ``g_beta_k = 1/2 (f(b) - f(b~)) (c_k - c~_k) sigmoid(|beta_k|)`` for decisions up to the later
    stop, then ``g_alpha_j = g_beta_j - p_j P_j``, ``P_{j+1} = (1 - p_j) P_j + g_beta_j``."""
    p, q, cf = _stick_breaking(alpha)
    c, ct = _chains(u, p)
    K = alpha.shape[-1]
    k = torch.arange(K, device=alpha.device)
    last = torch.maximum(_stop(c), _stop(ct)).unsqueeze(-1)
    live = (k <= last) & (k < K - 1)
    gb = torch.where(live, 0.5 * (f_b - f_bt) * (c.to(alpha.dtype) - ct.to(alpha.dtype)) * cf, 0.0)
    g = torch.empty_like(alpha)
    P = torch.zeros_like(alpha[..., 0])
    for j in range(K):  # the chain rule back to alpha: O(K) steps, every factor in [0, 1]
        g[..., j] = gb[..., j] - p[..., j] * P
        P = q[..., j] * P + gb[..., j]
    return g


def _chains(u: torch.Tensor, p: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The binary decisions of both chains, c_k = 1[u_k < p_k] and c~_k = 1[1 - u_k < p_k]."""
    return u < p, (1.0 - u) < p


def _stop(c: torch.Tensor) -> torch.Tensor:
    """The first k < K - 1 with c_k set, K - 1 when none is (argmax returns the first maximum)."""
    c = c.clone()
    c[..., -1] = True
    return torch.argmax(c.to(torch.uint8), dim=-1)


class Disarm(DiscreteEstimator):
    """DisARM / U2G (Dong, Mnih & Tucker 2020) as a surrogate loss, for Bernoulli logits or, in
    its stick-breaking form (Dong, Mnih & Tucker 2021), categorical logits.

    Bernoulli, one antithetic pair per sample: ``u ~ U(0, 1)``, ``b = 1[u < sigmoid(alpha)]``,
    ``b~ = 1[1 - u < sigmoid(alpha)]``;
    ``grad_logits = 1/2 (f(b) - f(b~)) (b - b~) sigmoid(|alpha|)`` (unbiased, two evaluations of
    f per sample, no gradient of f through the logits). Categorical: the class is the first
    success of a chain of binary decisions with logits
    ``beta_k = alpha_k - logsumexp(alpha_{k+1:})``; the Bernoulli estimate on ``beta`` is carried
    to ``alpha`` by the chain rule (:func:`categorical_disarm_grad`, the formula of
    :func:`mixgrad.disarm`). The surrogate's value is ``(f(b) + f(b~)) / 2``, so parameters that f
    uses directly get the average of f's own gradient at both draws.

    Parameters
    ----------
    kind : {"bernoulli", "categorical"}
    event_dims : int
        Trailing logits dimensions of one sample's event (categorical: classes last).
    """

    def forward(
        self,
        logits: torch.Tensor,
        f: Callable[[torch.Tensor], torch.Tensor],
        *,
        n_samples: int | None = None,
        generator: torch.Generator | None = None,
    ) -> EstimatorOutput:
        """Draw the antithetic pairs, evaluate f at both and build the surrogate.

        Parameters
        ----------
        logits : torch.Tensor
            Bernoulli or categorical logits ``(..., *event)`` (categorical: ``K >= 2``).
        f : callable
            Maps a hard sample of the logits' (expanded) shape to one value per sample.
        n_samples : int, optional
            Number of pairs, prepended as dimension 0.
        generator : torch.Generator, optional

        Returns
        -------
        EstimatorOutput
            ``value`` and ``sample`` are those of the first draw ``b`` (one-hot for categorical).
        """
        if self.kind == "categorical":
            return self._categorical(logits, f, n_samples, generator)
        ev = self.event_dims
        logits_x, batch_shape = self._frame(logits, n_samples)
        alpha = logits_x.detach()
        theta = torch.sigmoid(alpha)
        u = uniform_like(logits_x, generator)
        b = (u < theta).to(logits_x.dtype)
        bt = (1.0 - u < theta).to(logits_x.dtype)
        f_b = evaluate(f, b, batch_shape)
        f_bt = evaluate(f, bt, batch_shape)
        g = per_event(0.5 * (f_b.detach() - f_bt.detach()), ev) * (b - bt) * torch.sigmoid(alpha.abs())
        surrogate = surrogate_from(0.5 * (f_b + f_bt), g, logits_x, ev)
        return EstimatorOutput(surrogate, f_b.detach(), b, g, None)

    def _categorical(self, logits, f, n_samples, generator) -> EstimatorOutput:
        ev = self.event_dims
        logits_x, batch_shape = self._frame(logits, n_samples)
        K = logits_x.shape[-1]
        if K < 2:
            raise ValueError(f"categorical DisARM needs K >= 2 classes, got logits shape {tuple(logits_x.shape)}")
        alpha = logits_x.detach()
        u = uniform_like(logits_x, generator)
        p, _, _ = _stick_breaking(alpha)
        c, ct = _chains(u, p)
        b = torch.nn.functional.one_hot(_stop(c), K).to(logits_x.dtype)
        bt = torch.nn.functional.one_hot(_stop(ct), K).to(logits_x.dtype)
        f_b = evaluate(f, b, batch_shape)
        f_bt = evaluate(f, bt, batch_shape)
        # f per sample, broadcast over the event's leading dimensions and the classes
        g = categorical_disarm_grad(alpha, u, per_event(f_b.detach(), ev), per_event(f_bt.detach(), ev))
        surrogate = surrogate_from(0.5 * (f_b + f_bt), g, logits_x, ev)
        return EstimatorOutput(surrogate, f_b.detach(), b, g, None)


class Rloo(Reinforce):
    """REINFORCE with the leave-one-out baseline (RLOO, Kool et al. 2019): the same estimator as
    ``Reinforce(kind, baseline="leave_one_out")``; needs ``n_samples >= 2``.

    Parameters
    ----------
    kind : {"bernoulli", "categorical"}
    event_dims : int
    """

    def __init__(self, kind: str = "bernoulli", *, event_dims: int = 1) -> None:
        super().__init__(kind, baseline="leave_one_out", event_dims=event_dims)
