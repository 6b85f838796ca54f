"""The contract of the Kim & Liem (ISMIR 2022) self-supervised baselines (KIM, CLMR): trained on pairs of
crops of a song, tested by a callback on whole songs (:class:`mirbench.evaluation.kimliem2022.KimLiem2022Evaluation`).

A subclass sets ``self.optimizer`` and defines ``forward`` (crops -> embeddings), ``training_step`` and
``embed_song`` (one whole song -> ``(d,)``); this base gives the optimiser, ``predict_step`` and ``embed``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from lightning.pytorch import LightningModule


class SongSSLMethod(LightningModule):
    """Base of the crop-pair methods; batches ``{"view1", "view2"}`` (fit) or ``{"x"}`` (predict)."""

    def configure_optimizers(self):
        return self.optimizer(self.parameters())

    def test_step(self, batch, batch_idx: int) -> None:
        """Nothing: the test protocol runs in a callback on whole songs (e.g. KimLiem2022Evaluation)."""
        return None

    def predict_step(self, batch: dict, batch_idx: int, dataloader_idx: int = 0) -> torch.Tensor:
        return self(batch["x"] if "x" in batch else batch["view1"])

    def embed_song(self, song: torch.Tensor) -> torch.Tensor:
        """One whole song in the method's input view -> ``(d,)``."""
        raise NotImplementedError

    def embed(self, songs: Sequence[np.ndarray]) -> np.ndarray:
        """``(J, d)`` representations of whole songs, in eval mode (the training mode is restored)."""
        was_training = self.training
        self.eval()
        out = torch.stack([self.embed_song(torch.as_tensor(np.asarray(s))) for s in songs]).cpu().numpy()
        self.train(was_training)
        return out
