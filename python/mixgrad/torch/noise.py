"""Reparameterized noise for discrete variables in torch: logistic (Bernoulli) and Gumbel
(categorical), their conditionals given the discrete outcome, and the relaxations.

All functions are differentiable in the logits ``alpha`` with the noise held fixed, so autograd
gives dz/dalpha and dz_tilde/dalpha (DESIGN section 4.1). The conditional samples are written so
that their sign (Bernoulli) or argmax (categorical) equals ``b`` by construction:

* Bernoulli, b = 1: z_tilde = softplus(alpha + log v) - log1p(-v) > 0;
  b = 0: z_tilde = log v - softplus(log1p(-v) - alpha) < 0.
  (These equal alpha + logit(u') with u' = v(1 - theta) or (1 - theta) + v theta.)
* Categorical: z_tilde_b = -log(-log v_b), z_tilde_i = -log(-log(v_i)/theta_i - log v_b).
"""

from __future__ import annotations

from ._require import require_torch

require_torch()  # a clear ImportError naming the extra when torch is missing
import torch  # noqa: E402

__all__ = [
    "bernoulli_conditional_noise",
    "bernoulli_coupled_uniform",
    "bernoulli_noise",
    "categorical_conditional_noise",
    "categorical_coupled_uniform",
    "categorical_noise",
    "relax",
    "uniform",
]


def uniform(
    shape: tuple[int, ...],
    *,
    dtype: torch.dtype,
    device: torch.device,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Uniform noise on the open interval (0, 1), drawn with ``torch.rand``.

    Parameters
    ----------
    shape : tuple of int
        Shape of the result.
    dtype, device
        Floating dtype and device of the result.
    generator : torch.Generator, optional
        Source of randomness; None uses torch's global generator (``torch.manual_seed``).

    Returns
    -------
    torch.Tensor
        Values in (0, 1); exact zeros from ``torch.rand`` are replaced by the smallest normal.
    """
    u = torch.rand(shape, dtype=dtype, device=device, generator=generator)
    return u.clamp_(min=torch.finfo(dtype).tiny)


def _open_unit(x: torch.Tensor) -> torch.Tensor:
    one = torch.ones((), dtype=x.dtype, device=x.device)
    below_one = torch.nextafter(one, torch.zeros_like(one))
    return x.clamp(min=torch.finfo(x.dtype).tiny, max=float(below_one))


def bernoulli_noise(alpha: torch.Tensor, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Logistic reparameterization of Bernoulli(sigmoid(alpha)).

    Parameters
    ----------
    alpha : torch.Tensor
        Logits.
    u : torch.Tensor
        Uniform noise in (0, 1), same shape as ``alpha``.

    Returns
    -------
    z : torch.Tensor
        ``alpha + log u - log(1 - u)``, differentiable in ``alpha`` (dz/dalpha = 1).
    b : torch.Tensor
        ``1[z > 0]`` as a detached tensor of ``alpha``'s dtype.
    """
    z = alpha + torch.log(u) - torch.log1p(-u)
    return z, (z > 0).to(alpha.dtype).detach()


def bernoulli_conditional_noise(alpha: torch.Tensor, b: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Sample z_tilde ~ p(z | b) for logistic noise, differentiable in ``alpha`` (v, b fixed).

    Parameters
    ----------
    alpha : torch.Tensor
        Logits.
    b : torch.Tensor
        Bernoulli outcomes (0 or 1), broadcastable to ``alpha``.
    v : torch.Tensor
        Uniform noise in (0, 1), same shape as ``alpha``.

    Returns
    -------
    torch.Tensor
        z_tilde with ``1[z_tilde > 0] == b``; its alpha-derivative is
        ``1 + (du'/dtheta) theta (1 - theta) / (u'(1 - u'))`` of DESIGN 4.1.
    """
    log_v = torch.log(v)
    log_1mv = torch.log1p(-v)
    nn_f = torch.nn.functional
    one = nn_f.softplus(alpha + log_v) - log_1mv
    zero = log_v - nn_f.softplus(log_1mv - alpha)
    return torch.where(b > 0.5, one, zero)


def bernoulli_coupled_uniform(alpha: torch.Tensor, u: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The conditional uniform v implied by u (coupled noise): with it z_tilde equals z in value.

    Parameters
    ----------
    alpha : torch.Tensor
        Logits (only their values are used).
    u : torch.Tensor
        The uniform noise that produced ``b``.
    b : torch.Tensor
        The Bernoulli outcomes.

    Returns
    -------
    torch.Tensor
        ``v = (u - (1 - theta)) / theta`` where b = 1 and ``u / (1 - theta)`` where b = 0,
        detached and clamped into (0, 1).
    """
    a = alpha.detach()
    theta = torch.sigmoid(a)
    one_m_theta = torch.sigmoid(-a)
    v = torch.where(b > 0.5, (u - one_m_theta) / theta, u / one_m_theta)
    return _open_unit(v)


def categorical_noise(alpha: torch.Tensor, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Gumbel-max reparameterization of Categorical(softmax(alpha)) over the last dimension.

    Parameters
    ----------
    alpha : torch.Tensor
        Logits, classes on the last dimension.
    u : torch.Tensor
        Uniform noise in (0, 1), same shape as ``alpha``.

    Returns
    -------
    z : torch.Tensor
        ``log_softmax(alpha) - log(-log u)``, differentiable in ``alpha``.
    b : torch.Tensor
        One-hot ``argmax z`` (detached, ``alpha``'s dtype).
    """
    z = torch.log_softmax(alpha, dim=-1) - torch.log(-torch.log(u))
    b = torch.nn.functional.one_hot(z.argmax(dim=-1), alpha.shape[-1]).to(alpha.dtype)
    return z, b.detach()


def categorical_conditional_noise(alpha: torch.Tensor, b: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Sample z_tilde ~ p(z | b) for Gumbel noise, differentiable in ``alpha`` (v, b fixed).

    Parameters
    ----------
    alpha : torch.Tensor
        Logits, classes on the last dimension.
    b : torch.Tensor
        One-hot outcomes, same shape as ``alpha``.
    v : torch.Tensor
        Uniform noise in (0, 1), same shape as ``alpha``.

    Returns
    -------
    torch.Tensor
        z_tilde with ``argmax z_tilde == argmax b``: ``z_tilde_b = -log(-log v_b)`` and
        ``z_tilde_i = -log(-log(v_i) / theta_i - log v_b)`` for i != b.
    """
    log_theta = torch.log_softmax(alpha, dim=-1)
    e = -torch.log(v)  # Exp(1) variables, positive
    e_b = (e * b).sum(dim=-1, keepdim=True)
    log_e_b = torch.log(e_b)
    others = -torch.logaddexp(torch.log(e) - log_theta, log_e_b)
    return torch.where(b > 0.5, -log_e_b, others)


def categorical_coupled_uniform(alpha: torch.Tensor, u: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The conditional uniform v implied by u (coupled Gumbel noise), so that z_tilde equals z.

    Parameters
    ----------
    alpha : torch.Tensor
        Logits (only their values are used).
    u : torch.Tensor
        The uniform noise that produced ``b``.
    b : torch.Tensor
        The one-hot outcomes.

    Returns
    -------
    torch.Tensor
        Detached v in (0, 1): ``v_b = exp(-exp(-z_b))`` and
        ``v_i = exp(-theta_i (exp(-z_i) - exp(-z_b)))``.
    """
    a = alpha.detach()
    log_theta = torch.log_softmax(a, dim=-1)
    z = log_theta - torch.log(-torch.log(u))
    z_b = (z * b).sum(dim=-1, keepdim=True)
    exp_mzb = torch.exp(-z_b)
    v_b = torch.exp(-exp_mzb)
    v_i = torch.exp(-torch.exp(log_theta) * (torch.exp(-z) - exp_mzb))
    return _open_unit(torch.where(b > 0.5, v_b, v_i))


def relax(z: torch.Tensor, temperature: torch.Tensor, kind: str) -> torch.Tensor:
    """The relaxation sigma_lambda(z): sigmoid(z / lambda) or softmax(z / lambda, dim=-1).

    Parameters
    ----------
    z : torch.Tensor
        Noise (logistic or Gumbel).
    temperature : torch.Tensor or float
        lambda > 0.
    kind : {"bernoulli", "categorical"}
        Which relaxation.

    Returns
    -------
    torch.Tensor
        The relaxed sample, same shape as ``z``.
    """
    if kind == "bernoulli":
        return torch.sigmoid(z / temperature)
    return torch.softmax(z / temperature, dim=-1)
