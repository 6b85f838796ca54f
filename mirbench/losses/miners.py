"""Triplet mining inside a batch (docs/protocols.md#tutorial-losses; pytorch-metric-learning ``TripletMarginMiner``).

For every valid triplet (a, p, n) -- p != a shares a's class (or >= 1 tag), n shares none -- the
triplet margin is ``m = D(a, n) - D(a, p)``; a kind keeps:

- ``all``: triplets that violate the margin, m <= margin (every triplet with a non-zero hinge);
- ``hard``: the negative is closer than the positive, m <= 0 (the slide's D_an < D_ap);
- ``semihard``: 0 < m <= margin (D_ap < D_an < D_ap + alpha);
- ``easy``: m > margin (already satisfied: zero hinge, so training on them alone learns nothing).

These are pytorch-metric-learning's definitions (``type_of_triplets``), including ``all`` meaning
"all margin-violating triplets". Indices come in lexicographic (a, p, n) order, as in that library.
"""

from __future__ import annotations

import numpy as np
import torch

from mirbench.losses.distances import pairwise_distance

MINING_KINDS = ("all", "easy", "hard", "semihard")


def nonzero_2d(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``torch.nonzero(mask, as_tuple=True)`` of a 2-D mask; on CPU through numpy's flatnonzero (much faster)."""
    if mask.device.type != "cpu":
        return torch.nonzero(mask, as_tuple=True)
    flat = torch.from_numpy(np.flatnonzero(mask.numpy()))
    return flat // mask.shape[1], flat % mask.shape[1]


def label_masks(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(positive, negative) boolean (B, B) masks; labels (B,) ints or (B, T) multi-hot.

    Positive: same class / shares >= 1 tag, never the item itself. Negative: shares nothing.
    """
    if labels.dim() == 1:
        same = labels[:, None] == labels[None, :]
    elif labels.dim() == 2:
        tags = (labels > 0).to(torch.float32)
        same = (tags @ tags.T) > 0
    else:
        raise ValueError(f"labels must be (B,) or (B, T), got shape {tuple(labels.shape)}")
    eye = torch.eye(labels.shape[0], dtype=torch.bool, device=labels.device)
    return same & ~eye, ~same & ~eye


def mine_triplets(embeddings: torch.Tensor, labels: torch.Tensor, margin: float, kind: str = "all",
                  distance: str = "euclidean") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Indices ``(a, p, n)`` (each (K,) long) of the triplets of ``kind`` among ``embeddings`` (B, D).

    Distances are measured on the embeddings as given (normalise them first to mine on the sphere).
    Work and memory are O(P x B) for P positive pairs (at most O(B^3)).
    """
    if kind not in MINING_KINDS:
        raise ValueError(f"kind must be one of {MINING_KINDS}, got {kind!r}")
    with torch.no_grad():
        pos, neg = label_masks(labels)
        d = pairwise_distance(embeddings, embeddings, distance)
        a, p = nonzero_2d(pos)  # (a, p) pairs in lexicographic order
        m = d[a] - d[a, p][:, None]  # [pair, n] = D(a, n) - D(a, p): O(P x B), not O(B^3)
        if kind == "easy":
            keep = m > margin
        elif kind == "hard":
            keep = m <= 0
        elif kind == "semihard":
            keep = (m > 0) & (m <= margin)
        else:
            keep = m <= margin
        pair, n = nonzero_2d(keep & neg[a])
        a, p = a[pair], p[pair]
    return a, p, n
