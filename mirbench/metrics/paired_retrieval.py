"""Cross-modal paired retrieval (Nakatsuka et al., ISMIR 2024 poster; REFERENCE 3): item i of modality
A is paired with item i of modality B; every A item queries all B items and vice versa.

``r_i`` = 1-based rank of the paired item; MRR = mean(1 / r_i), R@k = mean(r_i <= k), mean rank =
mean(r_i) (lower is better), median rank = median(r_i). Ties with the paired item are counted
against it by default (``ties="pessimistic"``: r_i = #{j : d_ij <= d_ii}), so a collapsed embedding
gets rank N rather than a lucky one; ``"optimistic"`` = 1 + #{j : d_ij < d_ii}.
Distances are computed over chunks of query rows (memory ``chunk_size x N``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from mirbench.metrics.retrieval import as_tensor, prepare_gallery, row_scores


@torch.no_grad()
def paired_ranks(
    query,
    gallery,
    distance: str = "cosine",
    chunk_size: int = 1024,
    ties: str = "pessimistic",
    device=None,
) -> torch.Tensor:
    """1-based rank ``(N,)`` (int64, CPU) of ``gallery[i]`` among all of ``gallery`` for ``query[i]``.

    ``query`` ``(N, D)``, ``gallery`` ``(N, D)`` (same D, paired by row); ``distance``:
    ``cosine`` | ``euclidean`` | ``dot``.
    """
    if ties not in ("pessimistic", "optimistic"):
        raise ValueError(f"ties must be 'pessimistic' or 'optimistic', got {ties!r}")
    q = prepare_gallery(as_tensor(query, device), distance)
    g = prepare_gallery(as_tensor(gallery, device if device is not None else q.device), distance)
    if q.shape != g.shape:
        raise ValueError(f"paired query and gallery must have the same shape, got {tuple(q.shape)} and {tuple(g.shape)}")
    g = g.to(q.dtype)
    g_sq = g.pow(2).sum(1) if distance == "euclidean" else None
    n = q.shape[0]
    out = []
    for s in range(0, n, chunk_size):
        e = min(s + chunk_size, n)
        d = row_scores(q[s:e], g, distance, g_sq)
        rows = torch.arange(e - s, device=d.device)
        own = d[rows, rows + s][:, None]
        rank = (d <= own).sum(1) if ties == "pessimistic" else (d < own).sum(1) + 1
        out.append(rank.cpu())
    return torch.cat(out).long()


def rank_metrics(ranks, ks: Sequence[int] = (1, 5, 10)) -> dict[str, float]:
    """``{"mrr", "mean_rank", "median_rank", "recall_at_{k}"...}`` from 1-based ranks ``(N,)``."""
    r = np.asarray(ranks.cpu() if isinstance(ranks, torch.Tensor) else ranks, dtype=np.float64)
    if r.size == 0:
        raise ValueError("no ranks")
    out = {"mrr": float(np.mean(1.0 / r)), "mean_rank": float(r.mean()), "median_rank": float(np.median(r))}
    out.update({f"recall_at_{int(k)}": float(np.mean(r <= k)) for k in ks})
    return out


def paired_retrieval(
    a,
    b,
    ks: Sequence[int] = (1, 5, 10),
    distance: str = "cosine",
    names: tuple[str, str] = ("a", "b"),
    chunk_size: int = 1024,
    ties: str = "pessimistic",
    device=None,
) -> dict[str, float]:
    """Both directions of paired retrieval between ``a`` ``(N, D)`` and ``b`` ``(N, D)``.

    Keys ``"{A}_to_{B}_{metric}"`` and ``"{B}_to_{A}_{metric}"`` with ``names = (A, B)`` (e.g.
    ``music_to_video_mrr``) and the metrics of :func:`rank_metrics`.
    """
    out = {}
    for (na, qa), (nb, gb) in (((names[0], a), (names[1], b)), ((names[1], b), (names[0], a))):
        ranks = paired_ranks(qa, gb, distance, chunk_size, ties, device)
        out.update({f"{na}_to_{nb}_{k}": v for k, v in rank_metrics(ranks, ks).items()})
    return out
