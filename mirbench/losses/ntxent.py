"""NT-Xent, the instance-discrimination loss of SimCLR (Chen et al., ICML 2020; docs/protocols.md#tutorial-losses).

For 2B views (z_i, z_j of the same B items), each view's positive is its twin, the other 2B - 2 views
are negatives: loss = mean over the 2B views of -log softmax_k≠i(cos(z_i, z_k) / tau)[twin].
Same as pytorch-metric-learning ``NTXentLoss`` with the twin as the only positive.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class NTXentLoss(nn.Module):
    """``forward(z_i (B, D), z_j (B, D))`` -> scalar."""

    def __init__(self, temperature: float = 0.5):
        super().__init__()
        self.temperature = float(temperature)

    def forward(self, z_i: torch.Tensor, z_j: torch.Tensor) -> torch.Tensor:
        b = z_i.shape[0]
        z = F.normalize(torch.cat([z_i, z_j]), dim=-1)
        sim = z @ z.T / self.temperature
        sim = sim.masked_fill(torch.eye(2 * b, dtype=torch.bool, device=z.device), float("-inf"))
        twin = torch.cat([torch.arange(b, 2 * b), torch.arange(0, b)]).to(z.device)
        return F.cross_entropy(sim, twin)

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}"
