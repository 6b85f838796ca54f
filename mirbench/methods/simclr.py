"""SimCLR-style instance discrimination on feature vectors (Chen et al. 2020; docs/protocols.md#tutorial-losses).

No labels: two views of each note are made by augmenting its standardised features -- Gaussian noise
(``noise_std``) and feature dropout (``feature_dropout``, each feature zeroed with that probability)
-- passed through backbone and projection head, and trained with NT-Xent. The 1-NN protocol uses the
backbone's (normalised) output, not the projection.
"""

from __future__ import annotations

import torch
from lightning.pytorch.cli import OptimizerCallable
from torch import nn

from mirbench.data.base import DataInfo
from mirbench.losses.ntxent import NTXentLoss
from mirbench.methods.embedding import DeepEmbeddingMethod


class SimCLRMethod(DeepEmbeddingMethod):
    """``backbone`` -> projection head (Linear, ReLU, Linear) -> NT-Xent over two augmented views."""

    def __init__(self, backbone: nn.Module, loss: NTXentLoss | None = None, projection_dim: int = 32,
                 noise_std: float = 0.2, feature_dropout: float = 0.2,
                 optimizer: OptimizerCallable = torch.optim.Adam, normalize_embeddings: bool = True,
                 standardize: bool = True, knn_k: int = 1, save_embeddings: bool = True,
                 data_info: DataInfo | None = None) -> None:
        super().__init__(backbone, optimizer, normalize_embeddings, standardize, knn_k, save_embeddings, data_info)
        self.loss = loss if loss is not None else NTXentLoss()
        d = backbone.out_dim
        self.projection = nn.Sequential(nn.Linear(d, d), nn.ReLU(), nn.Linear(d, projection_dim))
        self.noise_std, self.feature_dropout = float(noise_std), float(feature_dropout)

    def augment(self, x: torch.Tensor) -> torch.Tensor:
        """One random view of standardised features (B, D)."""
        x = x + self.noise_std * torch.randn_like(x)
        if self.feature_dropout:
            x = x * (torch.rand_like(x) >= self.feature_dropout).to(x.dtype)
        return x

    def training_loss(self, batch: dict) -> torch.Tensor:
        x = self.preprocess(batch["x"], torch.float32)
        z_i = self.projection(self.backbone(self.augment(x)))
        z_j = self.projection(self.backbone(self.augment(x)))
        return self.loss(z_i, z_j)
