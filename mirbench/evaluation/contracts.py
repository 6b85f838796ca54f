"""What the protocols ask of a model, as typed protocols (structural: a model implements the methods, it does not
inherit). Each protocol module checks the optional capabilities with ``isinstance`` on these.

Lee et al. 2020 (:mod:`mirbench.evaluation.lee2020`): every model is a :class:`ClipEmbedder`; a classification or
proxy model is also a :class:`TagScorer` (AUC from its logits, not from tag centroids); a disentangled model has
:class:`Subspaces` (the sub-space triplet accuracies). Kim & Liem 2022 (:mod:`mirbench.evaluation.kimliem2022`):
every model is a :class:`SongEmbedder`; the HDPGMM also gives :class:`Responsibilities` (the interpretability
table).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import torch


@runtime_checkable
class ClipEmbedder(Protocol):
    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, D)`` embeddings of a batch of clips."""


@runtime_checkable
class TagScorer(Protocol):
    def tag_logits(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, T)`` tag logits of a batch of clips."""


@runtime_checkable
class Subspaces(Protocol):
    def subspaces(self) -> dict[str, slice]:
        """``{category: slice of the embedding}``: the block of each disentangled category."""


@runtime_checkable
class SongEmbedder(Protocol):
    def embed(self, songs: Sequence[np.ndarray]) -> np.ndarray:
        """``(J, d)`` representations of songs given in the datamodule's view."""


@runtime_checkable
class Responsibilities(Protocol):
    def responsibilities(self, songs: Sequence[np.ndarray]) -> np.ndarray:
        """``(J, K)`` song-component matrix (rows sum to 1)."""
