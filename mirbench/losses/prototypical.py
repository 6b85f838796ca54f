"""Prototypical networks (Snell, Swersky & Zemel, NeurIPS 2017; docs/protocols.md#tutorial-losses).

A class prototype is the mean embedding of its support examples, c_z = mean f(x_support); a query is
classified by softmax(-D(f(x), c_z)) with the squared Euclidean D; the loss is the cross-entropy.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mirbench.losses.distances import pairwise_distance


def prototypes(embeddings: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean embedding per class: ``(protos (C, D), classes (C,))``, classes sorted."""
    classes, inverse = torch.unique(labels, sorted=True, return_inverse=True)
    sums = torch.zeros(len(classes), embeddings.shape[1], dtype=embeddings.dtype, device=embeddings.device)
    sums.index_add_(0, inverse, embeddings)
    counts = torch.bincount(inverse, minlength=len(classes)).to(embeddings.dtype)
    return sums / counts[:, None], classes


def prototypical_logits(query: torch.Tensor, protos: torch.Tensor, distance: str = "squared_euclidean") -> torch.Tensor:
    """-D(query, prototype): (Q, D), (C, D) -> (Q, C)."""
    return -pairwise_distance(query, protos, distance)


def prototypical_loss(support: torch.Tensor, support_labels: torch.Tensor, query: torch.Tensor,
                      query_labels: torch.Tensor, distance: str = "squared_euclidean") -> torch.Tensor:
    """Cross-entropy of the queries (Q, D) against the prototypes of the support (S, D); every query's
    class must have support examples."""
    protos, classes = prototypes(support, support_labels)
    target = torch.searchsorted(classes, query_labels)
    if (target >= len(classes)).any() or (classes[target.clamp_max(len(classes) - 1)] != query_labels).any():
        raise ValueError("a query class has no support examples")
    return F.cross_entropy(prototypical_logits(query, protos, distance), target)


class PrototypicalLoss(nn.Module):
    """:func:`prototypical_loss` as a module, so a method takes it injected (``distance``: see
    :func:`mirbench.losses.distances.pairwise_distance`)."""

    def __init__(self, distance: str = "squared_euclidean") -> None:
        super().__init__()
        self.distance = distance

    def forward(self, support: torch.Tensor, support_labels: torch.Tensor, query: torch.Tensor,
                query_labels: torch.Tensor) -> torch.Tensor:
        return prototypical_loss(support, support_labels, query, query_labels, self.distance)
