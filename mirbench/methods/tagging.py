"""Classification and proxy models of Lee et al. ISMIR 2020: multi-label tagging losses on an embedding.

``ClassificationMethod``: dense output layer, sigmoid/BCE over the tags; ``normalize`` adds the
L2-normalisation of the last hidden layer (the embedding). ``ProxyMethod``: one learnable proxy per tag,
cosine similarity / temperature, BCE. ``disentangle``: per-category heads on the category's block of
the embedding (poster panels e, f). The multi-label loss form is not printed for either ([I]: BCE).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import nn

from mirbench.data.base import DataInfo
from mirbench.heads.tagging import DisentangledTagHead, ProxyHead, TagHead
from mirbench.methods.representation import RepresentationMethod, adam_lee2020


class _TaggingMethod(RepresentationMethod):
    head: nn.Module

    def build_head(self, make_head) -> nn.Module:
        info = self.data_info
        if self.disentangle:
            return DisentangledTagHead(self.blocks, info.tag_categories, make_head)
        return make_head(self.embedding_dim, info.num_tags)

    def tag_logits(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, n_tags)`` logits (sigmoid inside the loss and the metrics)."""
        return self.head(self.embed(x))

    forward = tag_logits

    def _step(self, batch: dict, stage: str) -> torch.Tensor:
        loss = F.binary_cross_entropy_with_logits(self.tag_logits(batch["x"]), batch["tags"])
        self.log(f"{stage}/loss", loss, prog_bar=True, on_epoch=True, on_step=stage == "train",
                 batch_size=len(batch["tags"]), sync_dist=stage != "train")  # one val/loss for every rank
        return self.check_finite(loss, stage)

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "val")

    def test_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "test")


class ClassificationMethod(_TaggingMethod):
    """Multi-label classification (BCE) on the embedding; ``normalize`` = L2-normalised last hidden layer."""

    def __init__(self, backbone: nn.Module, normalize: bool = False, disentangle: bool = False,
                 optimizer: OptimizerCallable = adam_lee2020, lr_scheduler: LRSchedulerCallable | None = None,
                 data_info: DataInfo | None = None):
        super().__init__(backbone, disentangle, optimizer, lr_scheduler, data_info)
        self.save_hyperparameters(ignore=["backbone", "data_info", "optimizer", "lr_scheduler"])
        self.head = self.build_head(lambda d, n: TagHead(d, n, normalize=normalize))


class ProxyMethod(_TaggingMethod):
    """Proxy-based metric learning: cosine to one learnable proxy per tag / ``temperature``, BCE."""

    def __init__(self, backbone: nn.Module, temperature: float = 0.1, disentangle: bool = False,
                 optimizer: OptimizerCallable = adam_lee2020, lr_scheduler: LRSchedulerCallable | None = None,
                 data_info: DataInfo | None = None):
        super().__init__(backbone, disentangle, optimizer, lr_scheduler, data_info)
        self.save_hyperparameters(ignore=["backbone", "data_info", "optimizer", "lr_scheduler"])
        self.head = self.build_head(lambda d, n: ProxyHead(d, n, temperature=temperature))
