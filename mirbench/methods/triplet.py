"""Triplet models of Lee et al. ISMIR 2020 (Sec. 3.1): L = max{0, s(a, n) - s(a, p) + 0.1} with s the cosine
similarity (Eq. 1; ``distance="cosine"`` gives exactly this, as 1 - s; margin 0.1, Sec. 4.2).

Training batches hold category triplets (anchor/positive share a tag of category ``c``; see
:mod:`mirbench.data.sampling`). ``disentangle``: the distance of a category-``c`` triplet is measured
on the masked embedding f o m_c (Eq. 2; 4 x 64 fixed disjoint masks); otherwise on the whole embedding.
``track_weight`` (lambda = 0.5, ICASSP 2020 Sec. 2.4) adds same-track triplets measured with an
all-ones mask: L = L_category + lambda * L_track.
"""

from __future__ import annotations

import torch
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import nn

from mirbench.data.base import DataInfo
from mirbench.heads.subspaces import category_masks
from mirbench.losses.miners import mine_triplets
from mirbench.losses.triplet import TripletMarginLoss
from mirbench.methods.representation import RepresentationMethod, adam_lee2020


class TripletMethod(RepresentationMethod):
    """Triplet hinge on category (+ track) triplets; ``distance`` ``cosine`` is Eq. 1, ``euclidean`` the ICASSP 2020
    reading (L2 between unit vectors)."""

    def __init__(self, backbone: nn.Module, margin: float = 0.1, distance: str = "cosine",
                 disentangle: bool = False, track_weight: float = 0.0,
                 optimizer: OptimizerCallable = adam_lee2020, lr_scheduler: LRSchedulerCallable | None = None,
                 data_info: DataInfo | None = None):
        super().__init__(backbone, disentangle, optimizer, lr_scheduler, data_info)
        self.save_hyperparameters(ignore=["backbone", "data_info", "optimizer", "lr_scheduler"])
        self.loss = TripletMarginLoss(margin=margin, distance=distance, normalize=True)
        self.track_weight = track_weight
        masks = category_masks(self.embedding_dim, data_info.categories)
        self.register_buffer("masks", masks if disentangle else torch.ones_like(masks), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.embed(x)

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        n = len(batch["anchor"])
        emb = self.features(torch.cat([batch["anchor"], batch["positive"], batch["negative"]]))
        mask = self.masks[batch["category"]]
        loss = self.loss(emb[:n], emb[n:2 * n], emb[2 * n:], mask=mask)
        self.log("train/category_loss", loss, on_epoch=True, batch_size=n)
        if self.track_weight > 0:
            if "track_anchor" not in batch:
                raise KeyError("track_weight > 0 needs track triplets: set data.init_args.track_triplets: true")
            t = self.features(torch.cat([batch["track_anchor"], batch["track_positive"], batch["track_negative"]]))
            track_loss = self.loss(t[:n], t[n:2 * n], t[2 * n:])
            self.log("train/track_loss", track_loss, on_epoch=True, batch_size=n)
            loss = loss + self.track_weight * track_loss
        self.log("train/loss", loss, prog_bar=True, on_step=True, on_epoch=True, batch_size=n)
        return self.check_finite(loss, "train")

    def _clip_batch_loss(self, batch: dict) -> torch.Tensor:
        """Mean over categories of the hinge on all valid in-batch triplets of that category."""
        emb = self.features(batch["x"])
        losses = []
        for c, cat in enumerate(self.data_info.categories):
            cols = self.data_info.tags_of(cat)
            labels = batch["tags"][:, cols]
            keep = labels.sum(1) > 0
            if keep.sum() < 3:
                continue
            a, p, n = mine_triplets(emb[keep], labels[keep], float("inf"), kind="all")  # every valid triplet
            e = emb[keep]
            losses.append(self.loss(e[a], e[p], e[n], mask=self.masks[c]))
        return torch.stack(losses).mean() if losses else emb.sum() * 0.0

    def validation_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        loss = self._clip_batch_loss(batch)
        self.log("val/loss", loss, prog_bar=True, on_epoch=True, batch_size=len(batch["x"]), sync_dist=True)
        return loss

    def test_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        loss = self._clip_batch_loss(batch)
        self.log("test/loss", loss, on_epoch=True, batch_size=len(batch["x"]), sync_dist=True)
        return loss
