"""Multimodal MCInfoNCE: InfoNCE between vMF draws, averaged over draws in probability space.

Kirchhof, Kasneci, Oh (ICML 2023), "Probabilistic contrastive learning recovers the correct aleatoric
uncertainty of ambiguous inputs" (their MCInfoNCE), written here for two modalities. Each item i has
vMF(mu_i, kappa_i) in each modality; z^s_i (music) and y^s_i (video) are the s-th of S reparameterised
draws (:func:`mirbench.losses.vmf.sample_vmf`). With one learnable inverse temperature t, for the music
-> video direction and draw s,

    l^s_i = t <z^s_i, y^s_i> - log( exp(t <z^s_i, y^s_i>) + 1/N sum_{j != i} exp(t <z^s_i, y^s_j>) ),

N = B - 1 in-batch negatives from the other modality, the same draw index s for query, positive and
negatives (Kirchhof's implementation), and

    L_{m->v} = - 1/B sum_i log( 1/S sum_s exp(l^s_i) )      (log-mean-exp over the draws),

and the loss is (L_{m->v} + L_{v->m}) / 2, the video -> music term swapping the roles of z and y.
Kirchhof et al. use S = 512 draws, 32 negatives, batch 512 and t initialised at 20; the default S = 16
here is a CPU budget (the loss is an S-sample Monte-Carlo estimate; more draws lower its bias).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from mirbench.losses.infonce import LearnableScale
from mirbench.losses.vmf import sample_vmf


def mc_infonce_from_draws(z: torch.Tensor, y: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
    """Symmetric MCInfoNCE of draws z (S, B, D) (music) and y (S, B, D) (video), both unit; B >= 2."""
    s, b, _ = z.shape
    if b < 2:
        raise ValueError("MCInfoNCE needs at least 2 items per batch (the negatives are the other items)")
    logits = t * torch.einsum("sid,sjd->sij", z, y)  # (S, B, B): music query i, video item j
    eye = torch.eye(b, dtype=torch.bool, device=z.device)
    pos = torch.diagonal(logits, dim1=1, dim2=2)  # (S, B)

    def direction(lg: torch.Tensor) -> torch.Tensor:
        neg = torch.logsumexp(lg.masked_fill(eye, float("-inf")), dim=-1) - math.log(b - 1)
        per_draw = pos - torch.logaddexp(pos, neg)  # l^s_i
        return -(torch.logsumexp(per_draw, dim=0) - math.log(s)).mean()

    return 0.5 * (direction(logits) + direction(logits.transpose(1, 2)))


class MCInfoNCELoss(nn.Module):
    """Symmetric multimodal MCInfoNCE (Kirchhof et al. 2023) on vMF embeddings.

    ``forward(music_mu (B, D), music_kappa (B,), video_mu (B, D), video_kappa (B,))`` -> scalar.

    Args:
        n_samples: S, vMF draws per item and modality (Kirchhof et al.: 512).
        init_scale: initial inverse temperature t (Kirchhof et al.: 20).
        max_scale: upper clamp of t.
        learn_scale: learn t.
    """

    def __init__(self, n_samples: int = 16, init_scale: float = 20.0, max_scale: float = 100.0,
                 learn_scale: bool = True) -> None:
        super().__init__()
        if n_samples < 1:
            raise ValueError(f"n_samples must be >= 1, got {n_samples}")
        self.n_samples = int(n_samples)
        self.scale = LearnableScale(init_scale, max_scale)
        self.scale.log_scale.requires_grad_(learn_scale)
        self.terms: dict[str, torch.Tensor] = {}

    def draws(self, mu: torch.Tensor, kappa: torch.Tensor) -> torch.Tensor:
        """(S, B, D) reparameterised vMF draws."""
        return sample_vmf(mu, kappa, self.n_samples)

    def forward(self, music_mu: torch.Tensor, music_kappa: torch.Tensor, video_mu: torch.Tensor,
                video_kappa: torch.Tensor) -> torch.Tensor:
        t = self.scale()
        loss = mc_infonce_from_draws(self.draws(music_mu, music_kappa), self.draws(video_mu, video_kappa), t)
        self.terms = {"scale": t.detach()}
        return loss

    def extra_repr(self) -> str:
        return f"n_samples={self.n_samples}"
