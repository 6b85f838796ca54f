"""Symmetric InfoNCE between two modalities with a learnable temperature (the deterministic baseline).

CLIP's objective (Radford et al., ICML 2021, "Learning transferable visual models from natural
language supervision", Fig. 3): for B paired items with unit embeddings m_i (music) and v_i (video),
logits L_ij = t <m_i, v_j>, and

    loss = 1/2 [ CE(L, diag) + CE(L^T, diag) ],   t = exp(log_scale), clamped to <= max_scale.

t is learned; CLIP initialises it at 1 / 0.07 and clamps it at 100, as here. The other items of the
batch are the negatives. The vMF concentrations are ignored (a point embedding: the means only).
Same interface as every loss of the two-tower family: ``forward(music_mu (B, D), music_kappa (B,),
video_mu (B, D), video_kappa (B,))`` -> scalar.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def symmetric_cross_entropy(logits: torch.Tensor) -> torch.Tensor:
    """(B, B) logits with the pairs on the diagonal -> mean of the row-wise and column-wise CE."""
    target = torch.arange(logits.shape[0], device=logits.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


class LearnableScale(nn.Module):
    """A positive scalar t = exp(log t), clamped to ``max_scale`` when read (CLIP's logit scale)."""

    def __init__(self, init: float, max_scale: float | None = None) -> None:
        super().__init__()
        if init <= 0:
            raise ValueError(f"the initial scale must be > 0, got {init}")
        self.log_scale = nn.Parameter(torch.tensor(math.log(init)))
        self.max_scale = max_scale

    def forward(self) -> torch.Tensor:
        t = self.log_scale.exp()
        return t.clamp(max=self.max_scale) if self.max_scale is not None else t


class InfoNCELoss(nn.Module):
    """Symmetric cross-modal InfoNCE on the means (CLIP).

    Args:
        init_scale: initial inverse temperature t (CLIP: 1 / 0.07).
        max_scale: upper clamp of t (CLIP: 100).
        learn_scale: learn t (else fixed at ``init_scale``).
    """

    uses_kappa = False  # the means only: the method leaves the kappa layers untrained (frozen)

    def __init__(self, init_scale: float = 1 / 0.07, max_scale: float = 100.0, learn_scale: bool = True) -> None:
        super().__init__()
        self.scale = LearnableScale(init_scale, max_scale)
        self.scale.log_scale.requires_grad_(learn_scale)
        self.terms: dict[str, torch.Tensor] = {}

    def forward(self, music_mu: torch.Tensor, music_kappa: torch.Tensor, video_mu: torch.Tensor,
                video_kappa: torch.Tensor) -> torch.Tensor:
        t = self.scale()
        loss = symmetric_cross_entropy(t * F.normalize(music_mu, dim=-1) @ F.normalize(video_mu, dim=-1).T)
        self.terms = {"scale": t.detach()}
        return loss
