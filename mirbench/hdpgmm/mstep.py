"""Corpus-level (global) updates: sufficient statistics, the intermediate (batch-scaled) posterior, and
the online blend ``lambda <- (1 - rho) lambda + rho lambda_hat`` in natural parameters (Hoffman et al.,
JMLR 2013, eq. 25; Wang, Paisley & Blei 2011, Sec. 3.2).

Gaussian-Wishart natural parameters (up to constants): ``(beta, beta m, W^{-1} + beta m m', nu)``;
Beta and Gamma are affine in their usual parameters, so those blend directly. (The reference code
blends ``m`` and ``W^{-1}/nu`` in the moment parameters; natural-parameter blending is the
stochastic natural-gradient step, and it keeps ``W^{-1}`` positive definite by convexity.)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .linalg import QuadFeatureBlocks, unpack_symmetric
from .priors import HyperPriors


@dataclass
class FrameStats:
    """Responsibility-weighted frame statistics per corpus atom, as one ``(K, P)`` block
    ``sum_n r_nk [x x' (upper triangle), x, 1]`` (see :func:`.linalg.quad_features`)."""

    packed: torch.Tensor  # (K, P)

    def unpack(self, rows: torch.Tensor, cols: torch.Tensor, dim: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(N_k (K,), sum r x (K, D), sum r x x' (K, D, D))`` in float64."""
        p = self.packed.to(torch.float64)
        n_tri = rows.shape[0]
        return p[:, -1], p[:, n_tri : n_tri + dim], unpack_symmetric(p[:, :n_tri], rows, cols, dim)


def accumulate_stats(stats_t: torch.Tensor, x: torch.Tensor, r: torch.Tensor, chunk: int = 1024) -> None:
    """``stats_t += quad_features(x)' r`` in place: ``x`` ``(N, D)``, ``r`` ``(N, K)``, ``stats_t`` ``(P, K)``
    contiguous, the transpose of :class:`FrameStats`'s block (``FrameStats(stats_t.T)``).

    The GEMM accumulates into the ``(P, K)`` layout the feature block is built in: the same sums in
    the same order as ``(K, P) += r' phi`` (the same bits), 1.2x faster (measured at K = 64).
    """
    blocks = QuadFeatureBlocks(x.shape[1], min(chunk, max(x.shape[0], 1)), stats_t.dtype, stats_t.device)
    for s, phi in blocks(x):
        stats_t.addmm_(phi.T, r[s : s + phi.shape[0]].to(stats_t.dtype))


def nw_posterior(
    n: torch.Tensor, sx: torch.Tensor, sxx: torch.Tensor, prior: HyperPriors, cov_reg: float = 1e-6
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gaussian-Wishart posterior ``(m, beta, nu, W^{-1})`` from counts ``n`` (K,), ``sx`` (K, D), ``sxx`` (K, D, D).

    ``W^{-1} = W0^{-1} + sxx + beta0 m0 m0' - beta m m' + cov_reg n I`` (Bishop 10.60-10.63 expanded;
    ``cov_reg`` adds ``cov_reg I`` to each atom's scatter per frame, as the reference code does).
    """
    dim = sx.shape[1]
    m0, w0inv = prior.m0.to(sx), prior.w0inv.to(sx)
    n = n.clamp_min(0.0)
    beta = prior.beta0 + n
    nu = prior.nu0 + n
    m = (prior.beta0 * m0 + sx) / beta[:, None]
    # centre the scatter on the posterior mean before forming W^{-1} to avoid cancellation
    sxx_c = sxx - torch.einsum("kd,ke->kde", sx, m) - torch.einsum("kd,ke->kde", m, sx) + n[:, None, None] * torch.einsum("kd,ke->kde", m, m)
    d0 = m0 - m
    winv = w0inv + sxx_c + prior.beta0 * torch.einsum("kd,ke->kde", d0, d0)
    winv = winv + (cov_reg * n)[:, None, None] * torch.eye(dim, dtype=sx.dtype, device=sx.device)
    return m, beta, nu, 0.5 * (winv + winv.transpose(1, 2))


def blend_nw(
    old: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor],
    new: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor],
    rho: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Blend two Gaussian-Wishart parameter sets ``(m, beta, nu, W^{-1})`` in natural parameters."""
    (m_o, b_o, n_o, w_o), (m_n, b_n, n_n, w_n) = old, new
    beta = (1 - rho) * b_o + rho * b_n
    nu = (1 - rho) * n_o + rho * n_n
    bm = (1 - rho) * b_o[:, None] * m_o + rho * b_n[:, None] * m_n
    m = bm / beta[:, None]
    # sum_i c_i (W_i^{-1} + b_i m_i m_i') - beta m m', written centred (no cancellation, PSD by construction)
    d_o, d_n = m_o - m, m_n - m
    winv = (1 - rho) * (w_o + b_o[:, None, None] * torch.einsum("kd,ke->kde", d_o, d_o)) + rho * (
        w_n + b_n[:, None, None] * torch.einsum("kd,ke->kde", d_n, d_n)
    )
    return m, beta, nu, 0.5 * (winv + winv.transpose(1, 2))


def corpus_stick_update(varphi_counts: torch.Tensor, e_gamma: torch.Tensor, scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Intermediate ``(u, v)`` ``(K-1,)`` of ``q(beta'_k) = Beta(u_k, v_k)`` from the batch's
    ``sum_j sum_t varphi_jtk`` ``(K,)`` scaled by ``scale = |corpus| / |batch|``."""
    counts = scale * varphi_counts
    tail = torch.flip(torch.cumsum(torch.flip(counts, [0]), 0), [0])
    return 1.0 + counts[:-1], e_gamma + tail[1:]


def concentration_update(elog_1mv: torch.Tensor, shape0: float, rate0: float) -> torch.Tensor:
    """``(shape, rate)`` of the Gamma posterior of a stick concentration: ``(shape0 + n_sticks, rate0 - sum E ln(1-v))``."""
    return torch.stack([elog_1mv.new_tensor(shape0 + elog_1mv.shape[-1]), rate0 - elog_1mv.sum(-1)])


def learning_rate(step: int, tau0: float = 64.0, kappa: float = 0.6) -> float:
    """``rho_t = (tau0 + t)^(-kappa)`` (Kim & Liem: tau0 = 64, kappa = 0.6)."""
    return float((tau0 + step) ** (-kappa))


def splash_ratio(step: int, eta0: float) -> float:
    """Splash-noise weight ``eta_t = eta0 * 1000 / (t + 1000)`` (Kim & Liem 2022, Sec. 3.3)."""
    return float(eta0 * 1000.0 / (step + 1000.0))
