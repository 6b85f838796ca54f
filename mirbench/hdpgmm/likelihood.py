"""Gaussian-Wishart expectations: ``E_q[ln N(x | mu_k, Lambda_k^{-1})]`` for all frames and components,
and the Gaussian-Wishart part of the ELBO (Bishop, PRML 2006, eqs. 10.64-10.65, 10.74, 10.77).

``q(mu_k, Lambda_k) = N(mu_k | m_k, (beta_k Lambda_k)^{-1}) W(Lambda_k | W_k, nu_k)``; we keep the
inverse scale ``winv_k = W_k^{-1}`` (it is what the data update produces) and its Cholesky factor.

    E[ln p(x|k)] = E[ln|Lambda_k|]/2 - D ln(2 pi)/2 - D/(2 beta_k) - nu_k (x-m_k)' W_k (x-m_k) / 2

The production path writes this as ``quad_features(x) @ theta`` (one GEMM, see :mod:`.linalg`);
:func:`expected_loglik_exact` evaluates the centred form with triangular solves (reference path).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .linalg import LOG_2PI, QuadFeatureBlocks, inverse_from_cholesky, logdet_from_cholesky, safe_cholesky
from .priors import HyperPriors


@dataclass
class NWDerived:
    """Quantities derived from ``(m, beta, nu, winv)``, recomputed after every global update."""

    chol_winv: torch.Tensor  # (K, D, D) lower Cholesky of W^{-1}
    prec: torch.Tensor  # (K, D, D) E[Lambda] = nu W
    elogdet: torch.Tensor  # (K,) E[ln|Lambda|]


def expected_logdet(nu: torch.Tensor, logdet_w: torch.Tensor, dim: int) -> torch.Tensor:
    """``E[ln|Lambda|] = sum_{i<D} psi((nu - i)/2) + D ln 2 + ln|W|`` for ``Lambda ~ W(W, nu)``."""
    i = torch.arange(dim, dtype=nu.dtype, device=nu.device)
    return torch.digamma(0.5 * (nu[..., None] - i)).sum(-1) + dim * torch.log(nu.new_tensor(2.0)) + logdet_w


def derive(nu: torch.Tensor, winv: torch.Tensor, jitter: float = 1e-10) -> NWDerived:
    """Cholesky (with jitter) of ``winv``, ``E[Lambda] = nu W`` and ``E[ln|Lambda|]``."""
    chol = safe_cholesky(winv, jitter=jitter)
    logdet_w = -logdet_from_cholesky(chol)
    prec = nu[:, None, None] * inverse_from_cholesky(chol)
    return NWDerived(chol, prec, expected_logdet(nu, logdet_w, winv.shape[-1]))


def loglik_coefficients(
    m: torch.Tensor, beta: torch.Tensor, derived: NWDerived, rows: torch.Tensor, cols: torch.Tensor
) -> torch.Tensor:
    """``theta`` ``(P, K)`` with ``quad_features(x) @ theta = E_q[ln p(x | k)]``."""
    dim = m.shape[1]
    a = derived.prec  # (K, D, D)
    h = torch.einsum("kde,ke->kd", a, m)
    c = 0.5 * derived.elogdet - 0.5 * dim * LOG_2PI - 0.5 * dim / beta - 0.5 * (h * m).sum(-1)
    quad = -a[:, rows, cols] * torch.where(rows == cols, 0.5, 1.0).to(a.dtype)
    return torch.cat([quad, h, c[:, None]], dim=1).T.contiguous()


def expected_loglik(x: torch.Tensor, theta: torch.Tensor, chunk: int = 1024) -> torch.Tensor:
    """``E_q[ln p(x_n | k)]``: ``(N, D) -> (N, K)``, in ``theta``'s dtype, ``chunk`` frames per GEMM.

    Each chunk is the GEMM ``theta' (K, P) @ phi' (P, chunk)`` on the feature block as it is built
    (rows contiguous), transposed into the output: the same dot products as ``phi @ theta`` (the same
    bits), 1.3x faster than the GEMM on the column-major view (measured at K = 64, P = 1431).
    """
    theta_t = theta.T.contiguous()
    out = x.new_empty(x.shape[0], theta.shape[1], dtype=theta.dtype)
    blocks = QuadFeatureBlocks(x.shape[1], min(chunk, max(x.shape[0], 1)), theta.dtype, theta.device)
    for s, phi in blocks(x):
        out[s : s + phi.shape[0]] = torch.mm(theta_t, phi.T).T
    return out


def expected_loglik_exact(
    x: torch.Tensor, m: torch.Tensor, beta: torch.Tensor, nu: torch.Tensor, derived: NWDerived
) -> torch.Tensor:
    """Reference evaluation of ``E_q[ln p(x_n | k)]`` ``(N, K)`` in the centred form (float64 advised)."""
    dim = m.shape[1]
    diff = (x[None, :, :].to(m.dtype) - m[:, None, :]).transpose(1, 2)  # (K, D, N)
    z = torch.linalg.solve_triangular(derived.chol_winv, diff, upper=False)  # W = C^{-T} C^{-1}
    maha = nu[:, None] * (z**2).sum(1)  # (K, N)
    out = 0.5 * derived.elogdet[:, None] - 0.5 * dim * LOG_2PI - 0.5 * dim / beta[:, None] - 0.5 * maha
    return out.T


def _log_wishart_norm(logdet_w: torch.Tensor, nu: torch.Tensor, dim: int) -> torch.Tensor:
    """``ln B(W, nu)`` of the Wishart density (Bishop B.79)."""
    log2 = torch.log(nu.new_tensor(2.0))
    return -0.5 * nu * logdet_w - 0.5 * nu * dim * log2 - torch.mvlgamma(0.5 * nu, dim)


def nw_elbo_term(
    m: torch.Tensor,
    beta: torch.Tensor,
    nu: torch.Tensor,
    winv: torch.Tensor,
    derived: NWDerived,
    prior: HyperPriors,
) -> torch.Tensor:
    """``sum_k E_q[ln p(mu_k, Lambda_k)] - E_q[ln q(mu_k, Lambda_k)] = -sum_k KL(q_k || p)`` (scalar)."""
    dim = m.shape[1]
    m0 = prior.m0.to(m)
    w0inv = prior.w0inv.to(m)
    beta0 = torch.as_tensor(prior.beta0, dtype=m.dtype, device=m.device)
    nu0 = torch.as_tensor(prior.nu0, dtype=m.dtype, device=m.device)
    logdet_w = -logdet_from_cholesky(derived.chol_winv)
    logdet_w0 = -logdet_from_cholesky(safe_cholesky(w0inv))
    w = derived.prec / nu[:, None, None]
    # Wishart part: KL(W(W_k, nu_k) || W(W0, nu0))
    kl_w = (
        _log_wishart_norm(logdet_w, nu, dim)
        - _log_wishart_norm(logdet_w0, nu0, dim)
        + 0.5 * (nu - nu0) * derived.elogdet
        - 0.5 * nu * dim
        + 0.5 * nu * torch.einsum("de,ked->k", w0inv, w)
    )
    # Gaussian part, averaged over q(Lambda): E[Lambda] = nu W
    dm = m - m0
    maha = torch.einsum("kd,kde,ke->k", dm, derived.prec, dm)
    kl_n = 0.5 * (dim * beta0 / beta + beta0 * maha - dim + dim * torch.log(beta / beta0))
    return -(kl_w + kl_n).sum()
