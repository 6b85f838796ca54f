"""KIM baseline of Kim & Liem (ISMIR 2022): the VGG-ish encoder of Kim et al. (2020) trained on the
self-supervised "same song?" task (eldrin/MTLMusicRepresentation-PyTorch, task ``self_``;
docs/protocols.md#kim-baselines: stereo dB mel, 22,050 Hz, n_fft 1024, hop 256, 128 bins, 216-frame crops,
Adam lr 1e-3, batch 48, L2 1e-6).

Task: two 216-frame crops; with probability 1/2 both come from the same song, otherwise the second
comes from another song. Each crop is encoded (256-d), the pair's concatenation goes through
Linear(512,128)-BN-ReLU-Dropout-Linear(128,2), trained with cross-entropy. Batches are
:class:`mirbench.data.song_batches.CropPairDataset` dicts (two crops of each song); the negatives are
made in-batch by pairing ``view1_i`` with ``view2`` of another song.

Song representation (:meth:`embed`): the song's mel cut into consecutive 216-frame windows (last one
zero-padded), each encoded in eval mode; concatenation of the mean and std over windows (512-d).
Input standardisation per mel bin (the reference's ``SpecStandardScaler``) is fitted on the training
loader at the start of the first fit and stored in buffers.
"""

from __future__ import annotations

import torch
from lightning.pytorch.cli import OptimizerCallable
from torch import nn

from mirbench.backbones.vggish import VGGish
from mirbench.data.base import DataInfo
from mirbench.data.song_batches import chunk_song
from mirbench.methods.song_ssl import SongSSLMethod


def kim_adam(params) -> torch.optim.Optimizer:
    """Adam(lr 1e-3, weight decay 1e-6) of ``configs/test_hdf.json``."""
    return torch.optim.Adam(params, lr=1e-3, weight_decay=1e-6)


class SameSongHead(nn.Module):
    """``(B, 2 d) -> (B, 2)`` logits (index 1 = same song)."""

    def __init__(self, embed_dim: int = 256, hidden: int = 128, dropout: float = 0.5) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(2 * embed_dim, hidden), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, 2)
        )

    def forward(self, pair: torch.Tensor) -> torch.Tensor:
        return self.net(pair)


class KIMMethod(SongSSLMethod):
    """Self-supervised VGG-ish ("KIM") representation; ``crop_frames`` = 216, ``n_mels`` = 128."""

    def __init__(
        self,
        backbone: nn.Module | None = None,
        optimizer: OptimizerCallable = kim_adam,
        crop_frames: int = 216,
        n_mels: int = 128,
        scaler_batches: int = 64,
        seed: int = 0,
        data_info: DataInfo | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["backbone", "optimizer", "data_info"])
        self.backbone = backbone if backbone is not None else VGGish()
        self.head = SameSongHead(getattr(self.backbone, "embed_dim", 256))
        self.optimizer = optimizer
        self.register_buffer("mel_mean", torch.zeros(n_mels))
        self.register_buffer("mel_std", torch.ones(n_mels))
        self.register_buffer("scaler_fitted", torch.zeros((), dtype=torch.bool))
        self._gen = torch.Generator().manual_seed(seed)

    # ------------------------------------------------------------------ input scaling
    @torch.no_grad()
    def fit_scaler(self, batches) -> None:
        """Per-mel-bin mean/std over all frames and channels of ``(B, C, T, F)`` tensors."""
        n, s, ss = 0, 0.0, 0.0
        for x in batches:
            x = x.to(torch.float64).reshape(-1, x.shape[-1])
            n, s, ss = n + x.shape[0], s + x.sum(0), ss + (x**2).sum(0)
        mean = s / n
        std = (ss / n - mean**2).clamp_min(0).sqrt().clamp_min(1e-10)
        self.mel_mean.copy_(mean.float())
        self.mel_std.copy_(std.float())
        self.scaler_fitted.fill_(True)

    def on_train_start(self) -> None:
        if bool(self.scaler_fitted):
            return
        batches = []
        for i, b in enumerate(self.trainer.train_dataloader):
            if i >= self.hparams.scaler_batches:
                break
            batches.extend([b["view1"], b["view2"]])
        self.fit_scaler(batches)

    def _scale(self, mel: torch.Tensor) -> torch.Tensor:
        return (mel - self.mel_mean) / self.mel_std

    # ------------------------------------------------------------------ training
    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """Crop embeddings: ``(B, C, T, F)`` dB mel -> ``(B, 256)``."""
        return self.backbone(self._scale(mel))

    def pair_batch(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(left, right, same)``: each ``view2`` is kept (same = 1) or swapped for another song's (same = 0)."""
        v1, v2 = batch["view1"], batch["view2"]
        b = v1.shape[0]
        same = torch.rand(b, generator=self._gen) < 0.5
        if b < 2:
            same[:] = True
        shift = int(torch.randint(1, max(b, 2), (), generator=self._gen))
        partner = (torch.arange(b) + shift) % b  # a different song for every row
        right_idx = torch.where(same, torch.arange(b), partner).to(v2.device)
        return v1, v2[right_idx], same.long().to(v1.device)

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        left, right, same = self.pair_batch(batch)
        z = self(torch.cat([left, right]))
        logits = self.head(torch.cat(z.chunk(2), dim=-1))
        loss = nn.functional.cross_entropy(logits, same)
        acc = (logits.argmax(-1) == same).float().mean()
        self.log("train/loss", loss, prog_bar=True, batch_size=left.shape[0])
        self.log("train/same_song_acc", acc, batch_size=left.shape[0])
        return loss

    # ------------------------------------------------------------------ representation
    @torch.no_grad()
    def embed_song(self, mel: torch.Tensor, max_windows: int = 64) -> torch.Tensor:
        """``(C, T, F)`` dB mel of a whole song -> ``(512,)``: mean and std of the window embeddings."""
        windows = chunk_song(mel.to(self.device, torch.float32), self.hparams.crop_frames, False, time_axis=-2)
        z = torch.cat([self(w) for w in windows.split(max_windows)])
        return torch.cat([z.mean(0), z.std(0, unbiased=False)])
