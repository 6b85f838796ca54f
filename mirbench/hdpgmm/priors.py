"""Hyper-priors of the HDPGMM (the model sets them from the frame moments, :meth:`.ovi.OnlineHDPGMM.initialise`), as in Kim & Liem (ISMIR 2022) / eldrin/pytorch-hdpgmm
(docs/protocols.md#kim-hdpgmm): ``m0`` = empirical mean, ``W0`` = inverse empirical covariance, ``nu0 = D + 2``,
``beta0 = 2``; stick concentrations ``alpha0_j ~ Gamma(s1, s2)``, ``gamma ~ Gamma(g1, g2)`` with all four 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from mirbench.hdpgmm.config import HDPGMMConfig


@dataclass
class HyperPriors:
    """Gaussian-Wishart base measure ``NW(m0, beta0, W0, nu0)`` (``W0inv`` = ``W0^{-1}``, the prior's
    inverse scale) and the Gamma(shape, rate) priors of the song (``s``) and corpus (``g``) concentrations.
    """

    m0: torch.Tensor  # (D,)
    w0inv: torch.Tensor  # (D, D)
    beta0: float = HDPGMMConfig.beta0  # the defaults are the model's (one place: HDPGMMConfig)
    nu0: float = HDPGMMConfig.dim + HDPGMMConfig.nu0_offset
    s1: float = HDPGMMConfig.s1
    s2: float = HDPGMMConfig.s2
    g1: float = HDPGMMConfig.g1
    g2: float = HDPGMMConfig.g2

    @property
    def dim(self) -> int:
        return int(self.m0.shape[0])

