"""Siamese network with the contrastive loss (Hadsell et al. 2006; docs/protocols.md#tutorial-losses).

Every pair of a training batch is a training pair, ``similar`` = same instrument family (convention of
:mod:`mirbench.losses.contrastive`). A batch holds far more dissimilar than similar pairs; with
``balance_pairs`` the two kinds are averaged separately and weighted equally.
"""

from __future__ import annotations

import torch
from lightning.pytorch.cli import OptimizerCallable
from torch import nn

from mirbench.data.base import DataInfo
from mirbench.losses.contrastive import ContrastiveLoss, all_pairs
from mirbench.methods.embedding import DeepEmbeddingMethod


class SiameseMethod(DeepEmbeddingMethod):
    """``backbone`` shared by both branches; loss on all in-batch pairs; 1-NN on the (Euclidean) embedding."""

    def __init__(self, backbone: nn.Module, loss: ContrastiveLoss | None = None, balance_pairs: bool = True,
                 optimizer: OptimizerCallable = torch.optim.Adam, normalize_embeddings: bool = False,
                 standardize: bool = True, knn_k: int = 1, save_embeddings: bool = True,
                 data_info: DataInfo | None = None) -> None:
        super().__init__(backbone, optimizer, normalize_embeddings, standardize, knn_k, save_embeddings, data_info)
        self.loss = loss if loss is not None else ContrastiveLoss()
        self.balance_pairs = bool(balance_pairs)

    def training_loss(self, batch: dict) -> torch.Tensor:
        e = self.features(batch["x"])
        i, j, similar = all_pairs(batch["label"])
        if not self.balance_pairs:
            return self.loss(e[i], e[j], similar)
        parts = [self.loss(e[i[m]], e[j[m]], similar[m]) for m in (similar > 0, similar == 0) if m.any()]
        return torch.stack(parts).mean()
