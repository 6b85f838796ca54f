"""Siamese contrastive loss of Hadsell, Chopra & LeCun (CVPR 2006), as in docs/protocols.md#tutorial-losses.

The convention here: ``similar = 1`` for a pair of the same class, ``similar = 0`` otherwise, and

    loss = 1/2 * similar * D^2 + 1/2 * (1 - similar) * max(0, margin - D)^2,

D the (non-squared) distance. The slide writes the same formula with ``y = 1 - similar`` (y = 1 for a
*dissimilar* pair, Hadsell's Y), while its prose says "minimise D if y = 1"; naming the argument
``similar`` removes the ambiguity.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mirbench.losses.distances import check_kind, paired_distance


def all_pairs(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Every unordered pair i < j of a batch: ``(i, j, similar)``; labels (B,) ints or (B, T) multi-hot."""
    b = labels.shape[0]
    i, j = torch.triu_indices(b, b, offset=1, device=labels.device)
    if labels.dim() == 1:
        similar = labels[i] == labels[j]
    else:
        similar = ((labels[i] > 0) & (labels[j] > 0)).any(-1)
    return i, j, similar.to(torch.float32)


class ContrastiveLoss(nn.Module):
    """``forward(x1, x2, similar)``: (B, D), (B, D), (B,) in {0, 1} -> scalar (mean over pairs).

    Args:
        margin: alpha, the distance beyond which a dissimilar pair costs nothing.
        distance: ``euclidean`` (Hadsell et al.) or ``cosine``; D is squared in the similar term.
        normalize: L2-normalise the embeddings first.
    """

    def __init__(self, margin: float = 1.0, distance: str = "euclidean", normalize: bool = False):
        super().__init__()
        if distance == "squared_euclidean":
            raise ValueError("ContrastiveLoss squares D itself; use distance='euclidean'")
        self.margin = float(margin)
        self.distance = check_kind(distance)
        self.normalize = bool(normalize)

    def forward(self, x1: torch.Tensor, x2: torch.Tensor, similar: torch.Tensor) -> torch.Tensor:
        if x1.shape[0] == 0:
            return x1.sum() * 0.0
        if self.normalize:
            x1, x2 = F.normalize(x1, dim=-1), F.normalize(x2, dim=-1)
        s = similar.to(x1.dtype)
        if self.distance == "euclidean":
            sq = ((x1 - x2) ** 2).sum(-1)  # D^2 without a sqrt: smooth at D = 0
            d = paired_distance(x1, x2, "euclidean")
        else:
            d = paired_distance(x1, x2, self.distance)
            sq = d**2
        return (0.5 * s * sq + 0.5 * (1.0 - s) * F.relu(self.margin - d) ** 2).mean()

    def extra_repr(self) -> str:
        return f"margin={self.margin}, distance={self.distance!r}, normalize={self.normalize}"
