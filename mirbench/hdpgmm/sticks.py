"""Truncated stick-breaking and Gamma concentration expectations of the HDP (Wang, Paisley & Blei,
AISTATS 2011, Sec. 3): corpus sticks ``beta'_k ~ Beta(1, gamma)``, song sticks
``pi'_jt ~ Beta(1, alpha0_j)``, concentrations ``gamma ~ Gamma(g1, g2)``, ``alpha0_j ~ Gamma(s1, s2)``
(shape/rate), with mean-field factors ``Beta(a, b)`` and ``Gamma(shape, rate)``.
"""

from __future__ import annotations

import torch


def stick_expectations(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Expectations under ``v ~ Beta(a, b)`` (``(..., T-1)``) of a truncated stick of length T.

    Returns ``E[ln v]`` and ``E[ln(1-v)]`` (``(..., T-1)``) and ``E[ln pi]`` (``(..., T)``) with
    ``pi_t = v_t prod_{s<t} (1 - v_s)`` and ``v_T = 1`` (truncation).
    """
    dsum = torch.digamma(a + b)
    elog_v = torch.digamma(a) - dsum
    elog_1mv = torch.digamma(b) - dsum
    zero = torch.zeros_like(elog_v[..., :1])
    elog_pi = torch.cat([elog_v, zero], -1) + torch.cat([zero, torch.cumsum(elog_1mv, -1)], -1)
    return elog_v, elog_1mv, elog_pi


def gamma_expectations(shape: torch.Tensor, rate: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``E[x]`` and ``E[ln x]`` under ``Gamma(shape, rate)``."""
    return shape / rate, torch.digamma(shape) - torch.log(rate)


def stick_posterior_counts(counts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """From expected counts per atom ``(..., T)``: ``(n_t, sum_{s>t} n_s)`` for t < T, ``(..., T-1)`` each.

    The Beta updates are ``a = 1 + n_t`` and ``b = E[concentration] + sum_{s>t} n_s``.
    """
    tail = torch.flip(torch.cumsum(torch.flip(counts, [-1]), -1), [-1])
    return counts[..., :-1], tail[..., 1:]


def stick_elbo_term(
    a: torch.Tensor, b: torch.Tensor, conc_shape: torch.Tensor, conc_rate: torch.Tensor
) -> torch.Tensor:
    """``E_q[ln p(v | c)] - E_q[ln q(v)]`` summed over the last axis, for ``p(v|c) = Beta(1, c)``,
    ``q(v) = Beta(a, b)`` and ``q(c) = Gamma(conc_shape, conc_rate)`` (broadcast over the last axis).
    """
    elog_v, elog_1mv, _ = stick_expectations(a, b)
    e_c, elog_c = gamma_expectations(conc_shape, conc_rate)
    e_c, elog_c = e_c[..., None], elog_c[..., None]
    log_p = elog_c + (e_c - 1.0) * elog_1mv
    log_q = (
        torch.lgamma(a + b) - torch.lgamma(a) - torch.lgamma(b)
        + (a - 1.0) * elog_v + (b - 1.0) * elog_1mv
    )
    return (log_p - log_q).sum(-1)


def gamma_elbo_term(
    shape: torch.Tensor, rate: torch.Tensor, prior_shape: float, prior_rate: float
) -> torch.Tensor:
    """``E_q[ln p(c)] - E_q[ln q(c)]`` for ``p = Gamma(prior_shape, prior_rate)``, ``q = Gamma(shape, rate)``."""
    e_c, elog_c = gamma_expectations(shape, rate)
    ps = torch.as_tensor(prior_shape, dtype=shape.dtype, device=shape.device)
    pr = torch.as_tensor(prior_rate, dtype=shape.dtype, device=shape.device)
    log_p = ps * torch.log(pr) - torch.lgamma(ps) + (ps - 1.0) * elog_c - pr * e_c
    log_q = shape * torch.log(rate) - torch.lgamma(shape) + (shape - 1.0) * elog_c - shape
    return log_p - log_q
