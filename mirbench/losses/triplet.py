"""Triplet hinge loss: mean over triplets of max(0, D(a, p) - D(a, n) + margin) (docs/protocols.md#tutorial-losses).

With ``mask`` it is the disentangled (masked) distance of Lee et al. (ISMIR 2020, docs/protocols.md#lee-models):
D(xi, xj; s) = ||f(xi) * m_s - f(xj) * m_s||, the mask applied after the optional L2 normalisation.
The tutorial slides use the squared Euclidean distance; pytorch-metric-learning's default is the plain
L2 distance between unit vectors (``distance="euclidean", normalize=True``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mirbench.losses.distances import check_kind, paired_distance, pairwise_distance


class TripletMarginLoss(nn.Module):
    """``forward(anchor, positive, negative, mask=None)``: (B, D) x 3 -> scalar.

    Args:
        margin: the hinge margin alpha (in the units of ``distance``).
        distance: ``euclidean``, ``squared_euclidean`` or ``cosine`` (see :mod:`mirbench.losses.distances`).
        normalize: L2-normalise the embeddings before masking and measuring.
    """

    def __init__(self, margin: float = 0.1, distance: str = "euclidean", normalize: bool = True):
        super().__init__()
        self.margin = float(margin)
        self.distance = check_kind(distance)
        self.normalize = bool(normalize)

    def prepare(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """The embedding as the distance sees it: normalised, then masked ((D,) or (B, D))."""
        if self.normalize:
            x = F.normalize(x, dim=-1)
        return x if mask is None else x * mask.to(x.dtype)

    def forward(self, anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        if anchor.shape[0] == 0:  # no triplet mined: a zero that still carries a graph
            return anchor.sum() * 0.0
        a, p, n = (self.prepare(t, mask) for t in (anchor, positive, negative))
        d_ap = paired_distance(a, p, self.distance)
        d_an = paired_distance(a, n, self.distance)
        return F.relu(d_ap - d_an + self.margin).mean()

    def forward_indices(self, embeddings: torch.Tensor, a: torch.Tensor, p: torch.Tensor, n: torch.Tensor,
                        mask: torch.Tensor | None = None) -> torch.Tensor:
        """The same loss for index triplets of one batch ``embeddings`` (B, D) (e.g. from a miner): each
        pairwise distance is computed once (B x B), however many triplets share it."""
        if a.numel() == 0:
            return embeddings.sum() * 0.0
        if mask is not None and mask.dim() == 2:  # a mask per triplet: no shared pairwise matrix
            return self(embeddings[a], embeddings[p], embeddings[n], mask)
        e = self.prepare(embeddings, mask)
        d = pairwise_distance(e, e, self.distance)
        return F.relu(d[a, p] - d[a, n] + self.margin).mean()

    def extra_repr(self) -> str:
        return f"margin={self.margin}, distance={self.distance!r}, normalize={self.normalize}"
