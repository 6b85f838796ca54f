"""PCME++: the closed-form sampled distance between Gaussian embeddings, trained with pairwise BCE.

Chun (ICLR 2024), "Improved probabilistic image-text representations", eq. (2)-(3): for Gaussian
embeddings Z ~ N(mu, diag sigma^2), Z' ~ N(mu', diag sigma'^2), the expected squared distance of two
draws has the closed form (no sampling)

    d(Z, Z') = |mu - mu'|^2 + |sigma^2 + sigma'^2|_1,

and a pair matches with probability sigmoid(-a d + b), a > 0 and b learnable (Chun: both initialised
at 5), trained by binary cross-entropy over every cross-modal pair of the batch (the diagonal
matches). Optionally Chun's VIB term beta * KL(N(mu, sigma^2) || N(0, I)) (Chun: beta = 1e-4).

The two-tower heads give vMF(mu, kappa) with a unit mu; the Gaussian used here is its tangent-space
(large-kappa) approximation, isotropic with sigma^2 = 1 / kappa per dimension, so the uncertainty term
is D (1/kappa + 1/kappa'). Pseudo-positives and mixed-sample augmentation of PCME++ are not used.
Positives and negatives are averaged separately and the two means summed with weight 1/2 (our
choice: with all B^2 in-batch pairs, B - 1 negatives per positive would otherwise swamp the positives).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def balanced_bce(logits: torch.Tensor) -> torch.Tensor:
    """(B, B) match logits, the diagonal matching: (mean BCE over matches + mean over non-matches) / 2."""
    eye = torch.eye(logits.shape[0], dtype=torch.bool, device=logits.device)
    pos = F.softplus(-logits[eye]).mean()  # -log sigmoid(x)
    neg = F.softplus(logits[~eye]).mean()  # -log(1 - sigmoid(x))
    return 0.5 * (pos + neg)


def csd(mu1: torch.Tensor, var1: torch.Tensor, mu2: torch.Tensor, var2: torch.Tensor) -> torch.Tensor:
    """Closed-form sampled distance of every pair: mu (B, D), var (B, D) and (B', D) -> (B, B')."""
    return torch.cdist(mu1, mu2).pow(2) + var1.sum(-1, keepdim=True) + var2.sum(-1)[None, :]


class PCMEppLoss(nn.Module):
    """PCME++ (Chun 2024); ``forward(music_mu (B, D), music_kappa (B,), video_mu, video_kappa)`` -> scalar.

    Args:
        init_scale: a, the initial negative scale of the distance (Chun: 5).
        init_shift: b, the initial shift (Chun: 5).
        vib_beta: weight of the VIB regulariser (Chun: 1e-4; 0 disables it).
    """

    def __init__(self, init_scale: float = 5.0, init_shift: float = 5.0, vib_beta: float = 0.0) -> None:
        super().__init__()
        self.log_a = nn.Parameter(torch.tensor(float(init_scale)).log())
        self.b = nn.Parameter(torch.tensor(float(init_shift)))
        self.vib_beta = float(vib_beta)
        self.terms: dict[str, torch.Tensor] = {}

    def forward(self, music_mu: torch.Tensor, music_kappa: torch.Tensor, video_mu: torch.Tensor,
                video_kappa: torch.Tensor) -> torch.Tensor:
        d = music_mu.shape[-1]
        var_m = (1.0 / music_kappa).unsqueeze(-1).expand(-1, d)
        var_v = (1.0 / video_kappa).unsqueeze(-1).expand(-1, d)
        dist = csd(music_mu, var_m, video_mu, var_v)
        loss = balanced_bce(-self.log_a.exp() * dist + self.b)
        if self.vib_beta:
            loss = loss + self.vib_beta * 0.5 * (gaussian_kl(music_mu, var_m) + gaussian_kl(video_mu, var_v))
        self.terms = {"scale": self.log_a.exp().detach(), "shift": self.b.detach()}
        return loss


def gaussian_kl(mu: torch.Tensor, var: torch.Tensor) -> torch.Tensor:
    """Mean over items of KL(N(mu, diag var) || N(0, I))."""
    return 0.5 * (var + mu**2 - 1.0 - var.log()).sum(-1).mean()
