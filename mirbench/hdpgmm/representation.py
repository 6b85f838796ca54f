"""Song representation of Kim & Liem (ISMIR 2022; docs/protocols.md#kim-hdpgmm): per frame, normalise
``E_q[ln p(x_jn | k)]`` over the K corpus atoms; log-mean-exp over the song's frames; softmax over k.

Because each frame's normalised likelihoods sum to one, the result is the mean frame posterior
under a flat prior, ``y_jk = (1/N_j) sum_n softmax_k(E_q[ln p(x_jn | k)])`` (rows sum to 1); the probes
use ``log(max(y, eps))``.
"""

from __future__ import annotations

import math

import torch

from .linalg import log_normalise, masked_logsumexp

# eldrin/hdpgmm-music-experiments `process_feature`: eps = 10 * float64 eps; the paper text says 1e-8.
CODE_LOG_EPS = 10.0 * 2.220446049250313e-16


def song_log_representation(eq_eta: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``log y_jk``: ``eq_eta`` ``(M, L, K)``, ``mask`` ``(M, L)`` -> ``(M, K)`` (songs without frames: uniform)."""
    log_post = log_normalise(eq_eta, dim=-1)
    n = mask.sum(1).clamp_min(1).to(eq_eta.dtype)
    log_mean = masked_logsumexp(log_post, mask[..., None], dim=1) - torch.log(n)[:, None]
    empty = ~mask.any(1)
    if bool(empty.any()):
        log_mean[empty] = -math.log(eq_eta.shape[-1])
    return log_normalise(log_mean, dim=-1)


def log_features(y: torch.Tensor, eps: float = CODE_LOG_EPS) -> torch.Tensor:
    """``log(max(y, eps))``, the downstream input (eps: code 2.2e-15, paper text 1e-8)."""
    return torch.log(y.clamp_min(eps))
