"""Triplet network with in-batch mining (docs/protocols.md#tutorial-losses).

Each step embeds the batch, mines triplets of one kind (``easy`` / ``hard`` / ``semihard`` / ``all``,
definitions in :mod:`mirbench.losses.miners`) on the embeddings as the loss measures them (normalised
if the loss normalises, same distance and margin), and averages the triplet hinge over them. Training
on ``easy`` triplets alone learns nothing (their hinge is zero): the row shows why mining matters.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from lightning.pytorch.cli import OptimizerCallable
from torch import nn

from mirbench.data.base import DataInfo
from mirbench.losses.miners import MINING_KINDS, mine_triplets
from mirbench.losses.triplet import TripletMarginLoss
from mirbench.methods.embedding import DeepEmbeddingMethod


class TripletMiningMethod(DeepEmbeddingMethod):
    """``backbone`` + :class:`TripletMarginLoss` on mined triplets; ``mining_margin`` defaults to the loss's."""

    def __init__(self, backbone: nn.Module, loss: TripletMarginLoss | None = None, mining: str = "semihard",
                 mining_margin: float | None = None, optimizer: OptimizerCallable = torch.optim.Adam,
                 normalize_embeddings: bool | None = None, standardize: bool = True, knn_k: int = 1,
                 save_embeddings: bool = True, data_info: DataInfo | None = None) -> None:
        loss = loss if loss is not None else TripletMarginLoss()
        if normalize_embeddings is None:
            normalize_embeddings = loss.normalize
        super().__init__(backbone, optimizer, normalize_embeddings, standardize, knn_k, save_embeddings, data_info)
        if mining not in MINING_KINDS:
            raise ValueError(f"mining must be one of {MINING_KINDS}, got {mining!r}")
        self.loss, self.mining = loss, mining
        self.mining_margin = loss.margin if mining_margin is None else float(mining_margin)

    def training_loss(self, batch: dict) -> torch.Tensor:
        e = self.features(batch["x"])
        seen = F.normalize(e, dim=-1) if self.loss.normalize else e
        a, p, n = mine_triplets(seen.detach(), batch["label"], self.mining_margin, self.mining, self.loss.distance)
        self.log("train/triplets", float(a.numel()), batch_size=e.shape[0])
        return self.loss.forward_indices(e, a, p, n)
