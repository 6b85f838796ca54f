"""Distances between embeddings, shared by every loss, miner and protocol.

``kind`` is one of ``euclidean`` (L2), ``squared_euclidean`` (the slides' D = ||f(x1) - f(x2)||^2,
docs/protocols.md#tutorial-losses) or ``cosine`` (1 - cosine similarity, a distance in [0, 2]). All are "smaller is
closer", so a miner's ``d_an - d_ap`` means the same thing for every kind.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

KINDS = ("euclidean", "squared_euclidean", "cosine")


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"distance kind must be one of {KINDS}, got {kind!r}")
    return kind


def _sqrt(sq: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """sqrt with a finite gradient at 0 (identical points give distance 0 and gradient 0)."""
    pos = sq > eps
    return torch.where(pos, sq.clamp_min(eps).sqrt(), torch.zeros_like(sq))


def pairwise_distance(x: torch.Tensor, y: torch.Tensor, kind: str = "euclidean") -> torch.Tensor:
    """All distances between the rows of ``x`` (N, D) and ``y`` (M, D): (N, M)."""
    check_kind(kind)
    if kind == "cosine":
        return 1.0 - F.normalize(x, dim=-1) @ F.normalize(y, dim=-1).T
    # ||x||^2 + ||y||^2 - 2 x.y, clamped: rounding can make it slightly negative
    sq = ((x * x).sum(-1)[:, None] + (y * y).sum(-1)[None, :] - 2.0 * x @ y.T).clamp_min(0.0)
    return sq if kind == "squared_euclidean" else _sqrt(sq)


def paired_distance(x: torch.Tensor, y: torch.Tensor, kind: str = "euclidean") -> torch.Tensor:
    """Row-by-row distances of ``x`` and ``y`` (both (N, D)): (N,)."""
    check_kind(kind)
    if kind == "cosine":
        return 1.0 - (F.normalize(x, dim=-1) * F.normalize(y, dim=-1)).sum(-1)
    sq = ((x - y) ** 2).sum(-1)
    return sq if kind == "squared_euclidean" else _sqrt(sq)
