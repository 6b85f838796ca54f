"""CLMR baseline as modified for Kim & Liem (ISMIR 2022): SimCLR on raw audio with a SampleCNN
encoder (Spijkervet & Burgoyne, ISMIR 2021), per eldrin/CLMR branch ``hdpgmm_study_mod``
(docs/protocols.md#kim-baselines): 22,050 Hz, 59,049-sample crops, batch 48, Adam lr 3e-4, weight decay 1e-6,
NT-Xent temperature 0.5, projection 64, encoder width 256 (``clmr256``, the main table's CLMR).

The study's modification comments out every CLMR augmentation except the random crop, so the two
views are simply two random 59,049-sample crops of the same song
(:class:`mirbench.data.song_batches.CropPairDataset`); ``augment`` (applied per view) restores others.
Projector: Linear(d, d, bias=False)-ReLU-Linear(d, 64, bias=False), as CLMR.

Song representation (:meth:`embed`): the song cut into consecutive 59,049-sample windows, the last
partial window dropped unless it is the only one (then zero-padded), encoder outputs averaged.
"""

from __future__ import annotations

import torch
from lightning.pytorch.cli import OptimizerCallable
from torch import nn

from mirbench.backbones.samplecnn import SampleCNN
from mirbench.data.base import DataInfo
from mirbench.data.song_batches import chunk_song
from mirbench.losses.ntxent import NTXentLoss
from mirbench.methods.song_ssl import SongSSLMethod


def clmr_adam(params) -> torch.optim.Optimizer:
    """Adam(lr 3e-4, weight decay 1e-6) of CLMR's ``config/config.yaml``."""
    return torch.optim.Adam(params, lr=3e-4, weight_decay=1e-6)


class CLMRMethod(SongSSLMethod):
    """Contrastive SampleCNN; batches ``{"view1": (B, n) or (B, 1, n), "view2": same}``."""

    def __init__(
        self,
        backbone: nn.Module | None = None,
        optimizer: OptimizerCallable = clmr_adam,
        projection_dim: int = 64,
        temperature: float = 0.5,
        audio_length: int = 59049,
        augment: nn.Module | None = None,
        data_info: DataInfo | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["backbone", "optimizer", "augment", "data_info"])
        self.encoder = backbone if backbone is not None else SampleCNN()
        dim = getattr(self.encoder, "embed_dim", 256)
        self.projector = nn.Sequential(
            nn.Linear(dim, dim, bias=False), nn.ReLU(), nn.Linear(dim, projection_dim, bias=False)
        )
        self.loss = NTXentLoss(temperature)
        self.optimizer = optimizer
        self.augment = augment

    @staticmethod
    def _channels(x: torch.Tensor) -> torch.Tensor:
        return x[:, None] if x.dim() == 2 else x

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        """Encoder embedding: ``(B, n)`` or ``(B, 1, n)`` -> ``(B, d)``."""
        return self.encoder(self._channels(audio))

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        v1, v2 = self._channels(batch["view1"]), self._channels(batch["view2"])
        if self.augment is not None:
            v1, v2 = self.augment(v1), self.augment(v2)
        h = self.encoder(torch.cat([v1, v2]))
        z1, z2 = self.projector(h).chunk(2)
        loss = self.loss(z1, z2)
        self.log("train/loss", loss, prog_bar=True, batch_size=v1.shape[0])
        return loss

    @torch.no_grad()
    def embed_song(self, audio: torch.Tensor, max_windows: int = 48) -> torch.Tensor:
        """Mono audio ``(n,)`` -> ``(d,)``: mean encoder output over the song's windows."""
        windows = chunk_song(audio.to(self.device, torch.float32).reshape(-1), self.hparams.audio_length, True)
        return torch.cat([self(w) for w in windows.split(max_windows)]).mean(0)
