"""Classification and proxy models of Lee et al. ISMIR 2020 (Sec. 3.2-3.3): sigmoid + binary cross-entropy
over the tags (Eq. 4-5) on an embedding.

``ClassificationMethod``: Eq. 8 with ``normalize`` (logits = (f/||f||) . c_y, no bias, footnote 2); without it the
vanilla dense layer. ``ProxyMethod``: Eq. 6 (logits = (f/||f||) . p_y, proxies not normalised, no temperature).
``disentangle``: per-category heads on the category's 64-d block (Eq. 7 and Eq. 9; :mod:`mirbench.heads.tagging`).
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
        return self.head(self.features(x))

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
    """Multi-label classification (BCE) on the embedding.

    Args:
        normalize: Eq. 8, the L2-normalised embedding (the "Normalization" rows); False: the vanilla classifier.
        bias: a bias per tag in the output layer (Eq. 8 has none: footnote 2; the vanilla dense layer's is our
            choice, the paper prints no equation for it).
    """

    def __init__(self, backbone: nn.Module, normalize: bool = True, bias: bool = False, disentangle: bool = False,
                 optimizer: OptimizerCallable = adam_lee2020, lr_scheduler: LRSchedulerCallable | None = None,
                 data_info: DataInfo | None = None):
        super().__init__(backbone, disentangle, optimizer, lr_scheduler, data_info)
        self.save_hyperparameters(ignore=["backbone", "data_info", "optimizer", "lr_scheduler"])
        self.normalized = bool(normalize)
        self.head = self.build_head(lambda d, n: TagHead(d, n, normalize=normalize, bias=bias))


class ProxyMethod(_TaggingMethod):
    """Proxy-based metric learning, BCE over the tags.

    Args:
        temperature: None for Eq. 6 (the paper); a value divides the logits (the smoothing factor of footnote 1).
        normalize_proxies: cosine to the proxies (Eq. 3) instead of Eq. 6's un-normalised proxies.
    """

    def __init__(self, backbone: nn.Module, temperature: float | None = None, normalize_proxies: bool = False,
                 disentangle: bool = False, optimizer: OptimizerCallable = adam_lee2020,
                 lr_scheduler: LRSchedulerCallable | None = None, data_info: DataInfo | None = None):
        super().__init__(backbone, disentangle, optimizer, lr_scheduler, data_info)
        self.save_hyperparameters(ignore=["backbone", "data_info", "optimizer", "lr_scheduler"])
        self.head = self.build_head(lambda d, n: ProxyHead(d, n, temperature, normalize_proxies))
