"""Prototypical networks (Snell et al. 2017; docs/protocols.md#tutorial-losses).

Each class-balanced training batch (``samples_per_class`` notes of each of several families, see
:class:`~mirbench.data.nsynth.ClassBalancedBatchSampler`) is one episode: per class the first
``n_support`` notes are the support, whose mean embedding is the prototype, and the others are
queries classified by softmax(-||f(x) - c_z||^2).
"""

from __future__ import annotations

import torch
from lightning.pytorch.cli import OptimizerCallable
from torch import nn

from mirbench.data.base import DataInfo
from mirbench.losses.prototypical import PrototypicalLoss
from mirbench.methods.embedding import DeepEmbeddingMethod


def support_mask(labels: torch.Tensor, n_support: int) -> torch.Tensor:
    """True for the first ``n_support`` items of each class in batch order."""
    same_before = (labels[:, None] == labels[None, :]).tril(-1).sum(1)
    return same_before < n_support


class PrototypicalMethod(DeepEmbeddingMethod):
    """``backbone`` trained episodically; classes with no query in a batch are support only."""

    def __init__(self, backbone: nn.Module, loss: PrototypicalLoss | None = None, n_support: int = 4,
                 distance: str = "squared_euclidean", optimizer: OptimizerCallable = torch.optim.Adam,
                 normalize_embeddings: bool = False, standardize: bool = True, knn_k: int = 1,
                 save_embeddings: bool = True, data_info: DataInfo | None = None) -> None:
        """``distance`` builds the default loss; an injected ``loss`` carries its own."""
        super().__init__(backbone, optimizer, normalize_embeddings, standardize, knn_k, save_embeddings, data_info)
        self.loss = loss if loss is not None else PrototypicalLoss(distance)
        self.n_support = int(n_support)

    def training_loss(self, batch: dict) -> torch.Tensor:
        e, y = self.features(batch["x"]), batch["label"]
        s = support_mask(y, self.n_support)
        q = ~s & torch.isin(y, y[s])
        if not q.any():
            raise ValueError("no query in the batch: use class-balanced batches with samples_per_class > n_support")
        return self.loss(e[s], y[s], e[q], y[q])
