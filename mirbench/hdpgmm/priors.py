"""Hyper-priors of the HDPGMM (the model sets them from the frame moments, :meth:`.ovi.OnlineHDPGMM.initialise`), as in Kim & Liem (ISMIR 2022) / eldrin/pytorch-hdpgmm
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

