"""Hyper-priors of the HDPGMM, set from data as in Kim & Liem (ISMIR 2022) / eldrin/pytorch-hdpgmm
(docs/protocols.md#kim-hdpgmm): ``m0`` = empirical mean, ``W0`` = inverse empirical covariance, ``nu0 = D + 2``,
``beta0 = 2``; stick concentrations ``alpha0_j ~ Gamma(s1, s2)``, ``gamma ~ Gamma(g1, g2)`` with all four 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class HyperPriors:
    """Gaussian-Wishart base measure ``NW(m0, beta0, W0, nu0)`` (``W0inv`` = ``W0^{-1}``, the prior's
    inverse scale) and the Gamma(shape, rate) priors of the song (``s``) and corpus (``g``) concentrations.
    """

    m0: torch.Tensor  # (D,)
    w0inv: torch.Tensor  # (D, D)
    beta0: float = 2.0
    nu0: float = 54.0
    s1: float = 1.0
    s2: float = 1.0
    g1: float = 1.0
    g2: float = 1.0

    @property
    def dim(self) -> int:
        return int(self.m0.shape[0])


def hyperpriors_from_moments(
    mean: torch.Tensor,
    cov: torch.Tensor,
    beta0: float = 2.0,
    nu0_offset: float = 2.0,
    s1: float = 1.0,
    s2: float = 1.0,
    g1: float = 1.0,
    g2: float = 1.0,
) -> HyperPriors:
    """Data-driven hyper-priors from the frame mean ``(D,)`` and covariance ``(D, D)``:
    ``m0 = mean``, ``W0 = cov^{-1}`` (so ``W0inv = cov``), ``nu0 = D + nu0_offset``.
    """
    dim = mean.shape[0]
    return HyperPriors(
        m0=mean.to(torch.float64),
        w0inv=(0.5 * (cov + cov.T)).to(torch.float64),
        beta0=float(beta0),
        nu0=float(dim + nu0_offset),
        s1=float(s1),
        s2=float(s2),
        g1=float(g1),
        g2=float(g2),
    )
