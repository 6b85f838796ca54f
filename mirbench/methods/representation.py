"""Common wiring of the Lee et al. 2020 models: a backbone, optional disentangled sub-spaces, the optimiser.

Optimiser (ISMIR 2020 Sec. 4.2): Adam, lr 0.005, divided by 5 when the validation loss has not decreased for 10
epochs, up to 5 times, then early stopping; configure it with ``optimizer``/``lr_scheduler`` (a
``ReduceLROnPlateau`` monitors ``val/loss``; ``benchmarks/configs/ismir2020/schedule_paper.yaml``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from lightning.pytorch import LightningModule
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import nn

from mirbench.data.base import DataInfo
from mirbench.heads.subspaces import category_slices


def adam_lee2020(params) -> torch.optim.Optimizer:
    """Adam at the ISMIR 2020 initial learning rate 0.005 (Sec. 4.2)."""
    return torch.optim.Adam(params, lr=0.005)


class RepresentationMethod(LightningModule):
    """Base: ``features(x)`` = backbone output; ``embed(x)`` = the representation the paper's distances see
    (``features`` L2-normalised when :attr:`normalized`, Sec. 3); ``subspaces()`` = category blocks when
    ``disentangle``."""

    normalized: bool = True  # the embedding is L2-normalised (the "Normalization" column of Tables 1, 3, 4)

    def __init__(self, backbone: nn.Module, disentangle: bool = False,
                 optimizer: OptimizerCallable = adam_lee2020, lr_scheduler: LRSchedulerCallable | None = None,
                 data_info: DataInfo | None = None):
        super().__init__()
        if data_info is None or not data_info.num_tags:
            raise ValueError(f"{type(self).__name__} needs a tagged data set (data_info with tag_names); "
                             "run it through `mirbench fit` with a data config, which links data.data_info")
        self.backbone = backbone
        self.data_info = data_info
        self.disentangle = disentangle
        self.optimizer_factory, self.scheduler_factory = optimizer, lr_scheduler
        self.embedding_dim = int(getattr(backbone, "embedding_dim"))
        self.blocks = category_slices(self.embedding_dim, data_info.categories) if disentangle else {}

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, ...)`` input -> ``(B, D)`` backbone output (before any normalisation)."""
        return self.backbone(x)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, ...)`` input -> ``(B, D)`` embedding: unit length for the normalised models."""
        f = self.features(x)
        return F.normalize(f, dim=-1) if self.normalized else f

    def subspaces(self) -> dict[str, slice]:
        """Category -> block of the embedding (empty for models without disentanglement)."""
        return dict(self.blocks)

    def check_finite(self, loss: torch.Tensor, stage: str) -> torch.Tensor:
        if not math.isfinite(float(loss.detach())):
            raise FloatingPointError(f"{stage} loss is {float(loss)} at step {self.global_step} of "
                                     f"{type(self).__name__}; lower the learning rate or check the inputs")
        return loss

    def configure_optimizers(self):
        optimizer = self.optimizer_factory(self.parameters())
        if self.scheduler_factory is None:
            return optimizer
        scheduler = self.scheduler_factory(optimizer)
        config = {"scheduler": scheduler}
        if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            config["monitor"] = "val/loss"
        return {"optimizer": optimizer, "lr_scheduler": config}
