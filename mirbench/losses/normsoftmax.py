"""Classification with normalisation (NormSoftmax; Zhai & Wu, BMVC 2019; docs/protocols.md#tutorial-losses).

logits_z = <f / ||f||, C_z / ||C_z||> / temperature, then cross-entropy. With ``normalize_weights=False``
it is the slides' other form, (f / ||f||) . C_z (scale carried by the class vectors, no temperature).
Same as pytorch-metric-learning ``NormalizedSoftmaxLoss`` (which stores W transposed, (D, C)).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class NormalizedSoftmaxLoss(nn.Module):
    """``forward(embeddings (B, D), labels (B,))`` -> scalar; ``logits(embeddings)`` -> (B, C).

    Args:
        num_classes, embedding_size: shape of the class-vector matrix ``W`` (C, D).
        temperature: tau (PML default 0.05); ignored when ``normalize_weights`` is false.
    """

    def __init__(self, num_classes: int, embedding_size: int, temperature: float = 0.05,
                 normalize_weights: bool = True):
        super().__init__()
        self.temperature = float(temperature)
        self.normalize_weights = bool(normalize_weights)
        self.W = nn.Parameter(torch.empty(num_classes, embedding_size))
        nn.init.normal_(self.W, std=embedding_size**-0.5)

    def logits(self, embeddings: torch.Tensor) -> torch.Tensor:
        f = F.normalize(embeddings, dim=-1)
        if self.normalize_weights:
            return f @ F.normalize(self.W, dim=-1).T / self.temperature
        return f @ self.W.T

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(self.logits(embeddings), labels)
