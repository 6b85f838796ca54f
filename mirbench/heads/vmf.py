"""vMF head: features (B, in_dim) -> a unit mean mu (B, dim) and a concentration kappa (B,).

kappa is bounded and log-scaled: log kappa = log k_min + (log k_max - log k_min) sigmoid(a), a linear
in the features, its bias set so that every item starts at k_init (weights zero). What a kappa means
depends on the dimension (the expected cosine of a draw to its mean is A_d(kappa), see
:mod:`mirbench.losses.vmf`), so by default the range and the init are given as mean resultant lengths
and converted for ``dim``: r in [0.1, 0.95], r = 0.5 at init, i.e. kappa in [13, 1240] with init 85 at
d = 128 (our choice; Kirchhof et al. 2023 start kappa in [16, 32] at their toy scale, d = 2-10).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from mirbench.losses.vmf import kappa_for_resultant


class VMFHead(nn.Module):
    """``forward(h (B, in_dim))`` -> ``(mu (B, dim) unit, kappa (B,) > 0)``.

    Args:
        in_dim, dim: feature and embedding sizes.
        kappa_min, kappa_max, kappa_init: explicit bounds and initial value of kappa; each ``None``
            takes the value of the matching mean resultant length below.
        resultant_min, resultant_max, resultant_init: the same as expected cosines to the mean.
    """

    def __init__(self, in_dim: int, dim: int = 128, kappa_min: float | None = None, kappa_max: float | None = None,
                 kappa_init: float | None = None, resultant_min: float = 0.1, resultant_max: float = 0.95,
                 resultant_init: float = 0.5) -> None:
        super().__init__()
        lo = kappa_min if kappa_min is not None else kappa_for_resultant(resultant_min, dim)
        hi = kappa_max if kappa_max is not None else kappa_for_resultant(resultant_max, dim)
        init = kappa_init if kappa_init is not None else kappa_for_resultant(resultant_init, dim)
        if not 0 < lo < init < hi:
            raise ValueError(f"need 0 < kappa_min < kappa_init < kappa_max, got {lo}, {init}, {hi}")
        self.dim = int(dim)
        self.log_lo, self.log_hi = math.log(lo), math.log(hi)
        self.mean = nn.Linear(in_dim, dim)
        self.kappa = nn.Linear(in_dim, 1)
        frac = (math.log(init) - self.log_lo) / (self.log_hi - self.log_lo)
        nn.init.zeros_(self.kappa.weight)
        nn.init.constant_(self.kappa.bias, math.log(frac / (1 - frac)))

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu = F.normalize(self.mean(h), dim=-1)
        log_k = self.log_lo + (self.log_hi - self.log_lo) * torch.sigmoid(self.kappa(h).squeeze(-1))
        return mu, log_k.exp()

    @property
    def kappa_range(self) -> tuple[float, float]:
        return math.exp(self.log_lo), math.exp(self.log_hi)
