"""HDPGMM music representation (Kim & Liem, "The Power of Deep without Going Deep?", ISMIR 2022):
the online-VI HDP Gaussian mixture of :mod:`mirbench.hdpgmm` as a LightningModule.

Training uses no optimiser (manual optimisation): each ``training_step`` is one online update on a
mini-batch of songs. At the start of the first fit, one pass over the training loader fits the frame
whitening, a second pass sets the hyper-priors and initial atoms. All state is in buffers, so
checkpoints resume exactly where they stopped (the update counter ``t`` drives ``rho_t`` and ``eta_t``).

Batches: :func:`mirbench.data.song_batches.collate_frames` dicts (raw 52-d frames; whitening is internal).
Song representation (``predict_step``/:meth:`embed`): ``log(max(y, eps))`` with ``y`` ``(K,)`` the mean
frame posterior over corpus atoms (docs/protocols.md#kim-hdpgmm).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from lightning.pytorch import LightningModule

from mirbench.data.base import DataInfo
from mirbench.hdpgmm.config import HDPGMMConfig
from mirbench.data.song_batches import frame_loader, frames_and_mask
from mirbench.hdpgmm.ovi import OnlineHDPGMM
from mirbench.hdpgmm.representation import CODE_LOG_EPS, log_features, song_log_representation
from mirbench.hdpgmm.whitening import Whitener
from mirbench.methods.single_process import require_one_process


class HDPGMMMethod(LightningModule):
    """Kim & Liem's HDPGMM: K = 256 corpus atoms, T = 32 song atoms, tau0 = 64, kappa = 0.6,
    splash eta0 = 0.1 (paper's best), E-step tol 1e-6 / 1000 steps (docs/protocols.md#kim-hdpgmm)."""

    def __init__(
        self,
        init: str = "random_assign",
        whiten: bool = True,
        log_eps: float = CODE_LOG_EPS,
        data_info: DataInfo | None = None,
        **hparams,
    ) -> None:
        """``init``: initial atoms (``"random_assign"``, the reference, or ``"kmeans++"``); ``whiten``: frame
        whitening before the model; ``log_eps``: the representation's floor; ``hparams``: the fields of
        :class:`mirbench.hdpgmm.config.HDPGMMConfig` (YAML ``model.init_args.<field>``, s1/s2/g1/g2 included),
        ``dim`` taken from ``data_info`` when it has an input shape."""
        super().__init__()
        if data_info is not None and data_info.input_shape:
            hparams["dim"] = int(data_info.input_shape[-1])
        self.save_hyperparameters(ignore=["data_info"])
        self.automatic_optimization = False
        self.model = OnlineHDPGMM(HDPGMMConfig(**hparams))
        dim = self.model.dim
        self.whitener = Whitener(dim) if whiten else None
        self.init, self.log_eps = init, log_eps

    # ------------------------------------------------------------------ fitting
    def configure_optimizers(self):
        return None

    def on_train_start(self) -> None:
        require_one_process(self, "online VI updates the global parameters in place from each batch")
        if bool(self.model.initialised):
            return
        self.initialise(self.trainer.train_dataloader)

    @torch.no_grad()
    def initialise(self, loader) -> None:
        """Fit the whitening and initialise the model from one or two passes over ``loader``."""
        if self.whitener is not None:
            for frames, mask in map(frames_and_mask, loader):
                self.whitener.update(frames[mask].to(self.device))
            self.whitener.finalise()
        batches = ((self._whiten(f), m.to(self.device)) for f, m in map(frames_and_mask, loader))
        self.model.initialise(batches, n_songs=len(loader.dataset), init=self.init)

    def _whiten(self, frames: torch.Tensor) -> torch.Tensor:
        frames = frames.to(self.device)
        return self.whitener(frames) if self.whitener is not None else frames

    def training_step(self, batch: dict, batch_idx: int) -> None:
        frames, mask = frames_and_mask(batch)
        with torch.no_grad():
            out = self.model.partial_fit(self._whiten(frames), mask)
        n = frames.shape[0]
        self.log("train/elbo", out["elbo"], batch_size=n, prog_bar=True)
        self.log("train/e_step_iters", float(out["e_step_iters"]), batch_size=n)
        self.log("train/rho", out["rho"], batch_size=n)
        self.log("train/eta", out["eta"], batch_size=n)

    def test_step(self, batch, batch_idx: int) -> None:
        """Nothing: the test protocol runs in a callback on whole songs (e.g. KimLiem2022Evaluation)."""
        return None

    # ------------------------------------------------------------------ representation
    @torch.no_grad()
    def forward(self, frames: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Song features ``log(max(y, eps))``: raw frames ``(B, L, D)``, mask ``(B, L)`` -> ``(B, K)`` float32."""
        eq_eta = self.model.expected_loglik(self._whiten(frames), mask.to(self.device))
        log_y = song_log_representation(eq_eta.to(torch.float64), mask.to(self.device))
        return log_features(log_y.exp(), self.log_eps).float()

    def predict_step(self, batch: dict, batch_idx: int, dataloader_idx: int = 0) -> torch.Tensor:
        return self(*frames_and_mask(batch))

    def embed(self, songs: Sequence[np.ndarray], batch_size: int = 64) -> np.ndarray:
        """Representations ``(J, K)`` of songs given as ``(N_j, D)`` raw frame arrays."""
        was_training = self.training
        self.eval()
        out = [self(b["frames"], b["mask"]).cpu() for b in frame_loader(songs, batch_size)]
        self.train(was_training)
        return torch.cat(out).numpy()

    def responsibilities(self, songs: Sequence[np.ndarray], batch_size: int = 64) -> np.ndarray:
        """Song-component matrix ``(J, K)`` of mean E-step responsibilities (for interpretation)."""
        out = [
            self.model.responsibilities(self._whiten(b["frames"]), b["mask"]).cpu()
            for b in frame_loader(songs, batch_size)
        ]
        return torch.cat(out).numpy()
