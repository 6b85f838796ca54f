"""G1 baseline of Kim & Liem (ISMIR 2022): a song is one diagonal Gaussian over its frames, i.e.
the per-dimension mean and standard deviation of its 52-d frames, concatenated (104-d)
(eldrin/hdpgmm-music-experiments ``scripts/extract_g1_feature.py``; docs/protocols.md#kim-baselines).

Nothing is learned: ``fit`` runs no updates; the method exists so that every row of the table is a
LightningModule with the same ``predict_step``/``embed`` contract (frame batches of
:mod:`mirbench.data.song_batches`).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from lightning.pytorch import LightningModule

from mirbench.data.base import DataInfo
from mirbench.data.song_batches import frame_loader, frames_and_mask


def song_mean_std(frames: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Masked per-song mean and (population) std: ``(B, L, D)``, ``(B, L)`` -> ``(B, 2D)``."""
    w = mask.to(frames.dtype)[..., None]
    n = w.sum(1).clamp_min(1.0)
    mean = (frames * w).sum(1) / n
    var = (((frames - mean[:, None]) ** 2) * w).sum(1) / n
    return torch.cat([mean, var.sqrt()], dim=-1)


class G1Method(LightningModule):
    """Per-song mean + std of the frames (``2 * dim``-d)."""

    def __init__(self, dim: int = 52, data_info: DataInfo | None = None) -> None:
        super().__init__()
        if data_info is not None and data_info.input_shape:
            dim = int(data_info.input_shape[-1])
        self.save_hyperparameters(ignore=["data_info"])
        self.automatic_optimization = False
        self.dim = dim

    def configure_optimizers(self):
        return None

    def training_step(self, batch: dict, batch_idx: int) -> None:
        return None  # no parameters

    def test_step(self, batch, batch_idx: int) -> None:
        """Nothing: the test protocol runs in a callback on whole songs (e.g. KimLiem2022Evaluation)."""
        return None

    def forward(self, frames: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return song_mean_std(frames.to(torch.float64), mask).float()

    def predict_step(self, batch: dict, batch_idx: int, dataloader_idx: int = 0) -> torch.Tensor:
        return self(*frames_and_mask(batch))

    def embed(self, songs: Sequence[np.ndarray], batch_size: int = 256) -> np.ndarray:
        """``(J, 2 * dim)`` features of songs given as ``(N_j, D)`` frame arrays."""
        return torch.cat([self(b["frames"], b["mask"]) for b in frame_loader(songs, batch_size)]).numpy()
