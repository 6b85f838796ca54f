"""Two-tower probabilistic embeddings on the hypersphere for music <-> video retrieval.

The method family of Nakatsuka, Hamasaki, Goto (ISMIR 2024), "Harnessing the power of distributions:
probabilistic representation learning on hypersphere for multimodal MIR": each item is a vMF
distribution on S^{D-1} in a shared space, one tower per modality; the loss pulls a positive pair's
distributions together and pushes the other pairs apart. Only the loss differs between the table's
rows (``loss`` is a typed argument; YAML ``class_path``): the deterministic baseline
(:class:`~mirbench.losses.infonce.InfoNCELoss`), MCInfoNCE, SSW, MCInfoNCE + SSW (the proposed),
PCME++ and HIB (:mod:`mirbench.losses`). Every loss is called as
``loss(music_mu, music_kappa, video_mu, video_kappa)`` -> scalar.

Batch contract (dict; what :class:`mirbench.data.yt8m_musicvideo.YT8MMusicVideoDataModule` gives with
``sequences=True``)::

    "audio": (B, T, 128) float   per-second audio features (YouTube-8M: VGGish-128, dequantised)
    "rgb":   (B, T, 1024) float  per-second visual features (YouTube-8M: Inception, PCA 1024)
    "mask":  (B, T) bool         optional, True = padded second (no mask: every second is real)
    "item":  (B,) long           id of the paired item (row i of "audio" and of "rgb" is one pair)

(B, 128) / (B, 1024) clip-level features are accepted as T = 1. Extra keys are ignored.

Evaluation: :meth:`HypersphereMethod.embed_music` and :meth:`HypersphereMethod.embed_video` give
``(mu (B, D) unit, kappa (B,))``; the retrieval protocol scores with them. ``test_step`` only logs
the loss; ``predict_step`` returns the embeddings of both modalities and the items.
"""

from __future__ import annotations

import torch
from lightning.pytorch import LightningModule
from lightning.pytorch.cli import OptimizerCallable
from torch import nn

from mirbench.backbones.temporal import TemporalEncoder
from mirbench.data.base import DataInfo
from mirbench.heads.vmf import VMFHead

AUDIO_DIM, RGB_DIM = 128, 1024  # YouTube-8M frame features (the batch contract)


class HypersphereMethod(LightningModule):
    """Music tower + video tower, a vMF head on each, the loss injected.

    Args:
        music_encoder, video_encoder: ``(x (B, T, F), mask (B, T) | None) -> (B, out_dim)``, each with an
            ``out_dim`` attribute; ``None``: a :class:`mirbench.backbones.temporal.TemporalEncoder` with
            its defaults for the contract's 128-d audio / 1024-d rgb frames.
        loss: one of the two-tower losses of :mod:`mirbench.losses` (its own parameters, such as a
            learnable temperature, are trained with the model); a loss with ``uses_kappa = False``
            (:class:`~mirbench.losses.infonce.InfoNCELoss`) leaves the heads' kappa layers frozen.
        embedding_dim: D, the sphere's ambient dimension.
        kappa_min, kappa_max, kappa_init: kappa range and init of both heads; ``None``: set from
            expected cosines (0.1, 0.95, 0.5) for D (:class:`mirbench.heads.vmf.VMFHead`).
        optimizer: ``torch.optim`` factory (default Adam, lr 1e-3).
        data_info: linked from the datamodule by the CLI (unused: the frame sizes are the encoders').
    """

    def __init__(self, loss: nn.Module, music_encoder: nn.Module | None = None, video_encoder: nn.Module | None = None,
                 embedding_dim: int = 128,
                 kappa_min: float | None = None, kappa_max: float | None = None, kappa_init: float | None = None,
                 optimizer: OptimizerCallable = torch.optim.Adam, data_info: DataInfo | None = None) -> None:
        super().__init__()
        self.music_encoder = music_encoder if music_encoder is not None else TemporalEncoder(AUDIO_DIM)
        self.video_encoder = video_encoder if video_encoder is not None else TemporalEncoder(RGB_DIM)
        self.loss = loss
        kappa = dict(kappa_min=kappa_min, kappa_max=kappa_max, kappa_init=kappa_init)
        self.music_head = VMFHead(self.music_encoder.out_dim, embedding_dim, **kappa)
        self.video_head = VMFHead(self.video_encoder.out_dim, embedding_dim, **kappa)
        if not getattr(loss, "uses_kappa", True):
            # a loss of the means only (the deterministic baseline) gives kappa no gradient; frozen, the kappa
            # layers stay in the state dict and the numbers stay those of a trainable kappa (Adam skips a
            # parameter without a gradient either way), and DDP does not wait for their gradients ("parameters
            # that were not used in producing the loss")
            for head in (self.music_head, self.video_head):
                head.kappa.requires_grad_(False)
        self.embedding_dim = int(embedding_dim)
        self.optimizer = optimizer
        self.data_info = data_info

    # ------------------------------------------------------------------ embeddings
    @staticmethod
    def _mask(batch: dict) -> torch.Tensor | None:
        mask = batch.get("mask")
        return None if mask is None else mask.to(torch.bool)

    def embed_music(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mu (B, D) unit, kappa (B,))`` of the batch's audio."""
        return self.music_head(self.music_encoder(batch["audio"].float(), self._mask(batch)))

    def embed_video(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mu (B, D) unit, kappa (B,))`` of the batch's rgb frames."""
        return self.video_head(self.video_encoder(batch["rgb"].float(), self._mask(batch)))

    def forward(self, batch: dict) -> dict[str, torch.Tensor]:
        (mu_m, k_m), (mu_v, k_v) = self.embed_music(batch), self.embed_video(batch)
        return {"music_mu": mu_m, "music_kappa": k_m, "video_mu": mu_v, "video_kappa": k_v}

    # ------------------------------------------------------------------ steps
    eval_seed = 12345  # seeds the vMF draws of validation / test losses (batch_idx added)

    def _step(self, batch: dict, stage: str, batch_idx: int = 0) -> torch.Tensor | None:
        b = batch["audio"].shape[0]
        if b < 2:  # every loss of the family needs an in-batch negative; a last batch of one is skipped
            return None
        out = self(batch)
        if stage == "train":
            loss = self.loss(out["music_mu"], out["music_kappa"], out["video_mu"], out["video_kappa"])
        else:  # the same vMF draws for a batch at every evaluation, and the training stream untouched
            cuda = [self.device.index or 0] if self.device.type == "cuda" else []
            with torch.random.fork_rng(devices=cuda):
                torch.manual_seed(self.eval_seed + batch_idx)
                loss = self.loss(out["music_mu"], out["music_kappa"], out["video_mu"], out["video_kappa"])
        if not torch.isfinite(loss.detach()):
            raise FloatingPointError(f"{stage} loss is {float(loss.detach())} at step {self.global_step} of "
                                     f"{type(self.loss).__name__}; lower the learning rate or check the inputs")
        logs = {f"{stage}/loss": loss.detach(),
                f"{stage}/kappa_music": out["music_kappa"].detach().mean(),
                f"{stage}/kappa_video": out["video_kappa"].detach().mean()}
        logs.update({f"{stage}/{k}": v for k, v in getattr(self.loss, "terms", {}).items()})
        self.log_dict(logs, batch_size=b, prog_bar=False, on_step=stage == "train", on_epoch=stage != "train",
                      sync_dist=stage != "train")  # epoch means over all ranks (ModelCheckpoint monitors val/loss)
        return loss

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor | None:
        return self._step(batch, "train", batch_idx)

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        self._step(batch, "val", batch_idx)

    def test_step(self, batch: dict, batch_idx: int) -> None:
        self._step(batch, "test", batch_idx)

    def predict_step(self, batch: dict, batch_idx: int, dataloader_idx: int = 0) -> dict[str, torch.Tensor]:
        out = self(batch)
        if "item" in batch:
            out["item"] = batch["item"]
        return out

    def configure_optimizers(self):
        return self.optimizer(self.parameters())
