"""VQCodebook baseline of Kim & Liem (ISMIR 2022): standard-scale the frames, learn K code words with
mini-batch k-means over all training frames, and describe a song by its normalised code histogram
(eldrin/hdpgmm-music-experiments ``src/models.py: VQCodebook``; main table K = 256). The probes take
``log(max(h, eps))`` as for the HDPGMM (``process_feature``; docs/protocols.md#kim-baselines).

Fitting: the first pass over the training loader fits the scaler (``on_train_start``); each
``training_step`` is one ``MiniBatchKMeans.partial_fit`` on the batch's frames (k-means++ seeding on
the first batch). :meth:`fit_frames` instead runs sklearn's full ``MiniBatchKMeans.fit`` on all frames
at once, as the reference does. Scaler and code words live in buffers (checkpointable); the k-means
estimator itself is pickled into the checkpoint so that ``partial_fit`` continues after a resume.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from lightning.pytorch import LightningModule
from sklearn.cluster import MiniBatchKMeans

from mirbench.data.base import DataInfo
from mirbench.data.song_batches import frame_loader, frames_and_mask
from mirbench.hdpgmm.representation import CODE_LOG_EPS
from mirbench.methods.single_process import require_one_process


class VQCodebookMethod(LightningModule):
    """Scaled frames -> ``n_clusters`` k-means code words -> per-song normalised histogram ``(K,)``."""

    def __init__(
        self,
        n_clusters: int = 256,
        dim: int = 52,
        log_features: bool = True,
        log_eps: float = CODE_LOG_EPS,
        seed: int = 0,
        data_info: DataInfo | None = None,
    ) -> None:
        super().__init__()
        if data_info is not None and data_info.input_shape:
            dim = int(data_info.input_shape[-1])
        self.save_hyperparameters(ignore=["data_info"])
        self.automatic_optimization = False
        self.register_buffer("mean", torch.zeros(dim, dtype=torch.float64))
        self.register_buffer("scale", torch.ones(dim, dtype=torch.float64))
        self.register_buffer("centers", torch.zeros(n_clusters, dim, dtype=torch.float64))
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))
        self.register_buffer("scaled", torch.zeros((), dtype=torch.bool))
        self.kmeans = MiniBatchKMeans(n_clusters=n_clusters, random_state=seed, n_init=3)

    def configure_optimizers(self):
        return None

    # ------------------------------------------------------------------ fitting
    @torch.no_grad()
    def fit_scaler(self, frames: Sequence[torch.Tensor]) -> None:
        """Mean and std (sklearn ``StandardScaler``: population std, 1 where zero) of all frames."""
        n, s, ss = 0, 0.0, 0.0
        for f in frames:
            f = f.to(torch.float64)
            n, s, ss = n + f.shape[0], s + f.sum(0), ss + (f**2).sum(0)
        mean = s / n
        std = (ss / n - mean**2).clamp_min(0.0).sqrt()
        self.mean.copy_(mean)
        self.scale.copy_(torch.where(std > 0, std, torch.ones_like(std)))
        self.scaled.fill_(True)

    def _scale(self, frames: torch.Tensor) -> torch.Tensor:
        return (frames.to(torch.float64) - self.mean) / self.scale

    def fit_frames(self, songs: Sequence[np.ndarray]) -> "VQCodebookMethod":
        """Reference path: scaler + ``MiniBatchKMeans.fit`` on the concatenation of all songs' frames."""
        frames = torch.as_tensor(np.concatenate([np.asarray(s) for s in songs]), dtype=torch.float64)
        self.fit_scaler([frames])
        self.kmeans.fit(self._scale(frames).numpy())
        self._sync_centers()
        return self

    def on_train_start(self) -> None:
        require_one_process(self, "mini-batch k-means updates the code words in place from each batch")
        if not bool(self.scaled):
            loader = self.trainer.train_dataloader
            self.fit_scaler(f[m] for f, m in map(frames_and_mask, loader))

    def training_step(self, batch: dict, batch_idx: int) -> None:
        frames, mask = frames_and_mask(batch)
        x = self._scale(frames[mask]).cpu().numpy()
        if x.shape[0] < self.hparams.n_clusters and not bool(self.fitted):
            return None  # k-means++ seeding needs at least K frames
        self.kmeans.partial_fit(x)
        self._sync_centers()
        self.log("train/inertia_per_frame", float(-self.kmeans.score(x)) / len(x), batch_size=frames.shape[0])

    def test_step(self, batch, batch_idx: int) -> None:
        """Nothing: the test protocol runs in a callback on whole songs (e.g. KimLiem2022Evaluation)."""
        return None

    def _sync_centers(self) -> None:
        self.centers.copy_(torch.as_tensor(self.kmeans.cluster_centers_, dtype=torch.float64))
        self.fitted.fill_(True)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["vq_kmeans"] = self.kmeans  # sklearn state (counts, steps) to continue partial_fit

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        if "vq_kmeans" in checkpoint:
            self.kmeans = checkpoint["vq_kmeans"]

    # ------------------------------------------------------------------ representation
    @torch.no_grad()
    def forward(self, frames: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Histograms (or their logs): ``(B, L, D)``, ``(B, L)`` -> ``(B, K)`` float32. Empty songs: uniform."""
        if not bool(self.fitted):
            raise RuntimeError("VQCodebookMethod is not fitted")
        x = self._scale(frames.to(self.centers.device))
        # nearest code word by squared distance, without forming (B, L, K, D)
        d2 = (x**2).sum(-1, keepdim=True) - 2.0 * x @ self.centers.T + (self.centers**2).sum(-1)
        code = d2.argmin(-1)
        k = self.centers.shape[0]
        hist = torch.zeros(x.shape[0], k, dtype=torch.float64, device=x.device)
        hist.scatter_add_(1, code, mask.to(hist.device, torch.float64))
        total = hist.sum(1, keepdim=True)
        hist = torch.where(total > 0, hist / total.clamp_min(1.0), torch.full_like(hist, 1.0 / k))
        if self.hparams.log_features:
            hist = torch.log(hist.clamp_min(self.hparams.log_eps))
        return hist.float()

    def predict_step(self, batch: dict, batch_idx: int, dataloader_idx: int = 0) -> torch.Tensor:
        return self(*frames_and_mask(batch))

    def embed(self, songs: Sequence[np.ndarray], batch_size: int = 64) -> np.ndarray:
        """``(J, K)`` features of songs given as ``(N_j, D)`` frame arrays."""
        return torch.cat([self(b["frames"], b["mask"]).cpu() for b in frame_loader(songs, batch_size)]).numpy()
