"""Cross-modal paired retrieval (Nakatsuka et al., ISMIR 2024 poster; docs/protocols.md#nakatsuka): item i of modality
A is paired with item i of modality B; every A item queries all B items and vice versa.

``r_i`` = 1-based rank of the paired item; MRR = mean(1 / r_i), R@k = mean(r_i <= k), mean rank =
mean(r_i) (lower is better), median rank = median(r_i). Ties with the paired item are counted
against it by default (``ties="pessimistic"``: r_i = #{j : d_ij <= d_ii}), so a collapsed embedding
gets rank N rather than a lucky one; ``"optimistic"`` = 1 + #{j : d_ij < d_ii}.
Distances are computed over blocks of query and gallery rows (memory ``chunk_size x gallery_block``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from mirbench.metrics.retrieval import (DISTANCES, GALLERY_BLOCK, as_tensor, block_edges, l2_divisors, prepare_gallery,
                                       row_scores, squared_norms)


@torch.no_grad()
def paired_ranks(
    query,
    gallery,
    distance: str = "cosine",
    chunk_size: int = 1024,
    ties: str = "pessimistic",
    device=None,
    gallery_block: int = GALLERY_BLOCK,
) -> torch.Tensor:
    """1-based rank ``(N,)`` (int64, CPU) of ``gallery[i]`` among all of ``gallery`` for ``query[i]``.

    ``query`` ``(N, D)``, ``gallery`` ``(N, D)`` (same D, paired by row); ``distance``:
    ``cosine`` | ``euclidean`` | ``dot``. Scores are computed in ``chunk_size x gallery_block`` blocks
    (speed and memory only; a paired score is compared with the very product it came from).
    """
    if ties not in ("pessimistic", "optimistic"):
        raise ValueError(f"ties must be 'pessimistic' or 'optimistic', got {ties!r}")
    if distance not in DISTANCES:
        raise ValueError(f"distance must be one of {DISTANCES}, got {distance!r}")
    q = as_tensor(query, device)
    g = as_tensor(gallery, device if device is not None else q.device)
    if q.shape != g.shape:
        raise ValueError(f"paired query and gallery must have the same shape, got {tuple(q.shape)} and "
                         f"{tuple(g.shape)}")
    # rows are prepared (cast, L2-normalised for cosine) a query chunk and a gallery block at a time: the bits of
    # preparing them whole (row-wise operations), without two (N, D) copies
    dtype = prepare_gallery(q[:0], distance).dtype
    cast = prepare_gallery(g, "dot")  # the cast alone (no copy for float32 / float64)
    g_div = l2_divisors(cast) if distance == "cosine" else None
    g_sq = squared_norms(cast.to(dtype)) if distance == "euclidean" else None
    out = [_chunk_ranks(prepare_gallery(q[s:s + chunk_size], distance), cast, g_div, s, distance, g_sq, ties,
                        max(1, int(gallery_block))).cpu()
           for s in range(0, q.shape[0], chunk_size)]
    return torch.cat(out).long()


def _chunk_ranks(q: torch.Tensor, g: torch.Tensor, g_div: torch.Tensor | None, start: int, distance: str,
                 g_sq: torch.Tensor | None, ties: str, block: int) -> torch.Tensor:
    """Ranks of the queries ``q`` (rows ``start...`` of the query set), one gallery block at a time.

    The paired scores are read from the very blocks that are counted (computed first and kept), so a
    score is compared with its own bits whatever the GEMM does with other shapes. ``q`` is prepared
    (:func:`prepare_gallery`), ``g`` only cast: each block is divided by its rows' ``g_div`` (cosine) as it is read.
    """
    nq = q.shape[0]
    blocks = block_edges(g.shape[0], block)

    def gallery(b: int, e: int) -> torch.Tensor:
        return (g[b:e] if g_div is None else g[b:e] / g_div[b:e]).to(q.dtype)

    held = {b: row_scores(q, gallery(b, e), distance, None if g_sq is None else g_sq[b:e])
            for b, e in blocks if b < start + nq and e > start}
    own = torch.empty(nq, 1, dtype=q.dtype, device=q.device)
    for b, d in held.items():
        cols = torch.arange(max(b, start), min(b + d.shape[1], start + nq), device=q.device)
        own[cols - start, 0] = d[cols - start, cols - b]
    buf = torch.empty(nq * max(e - b for b, e in blocks), dtype=q.dtype, device=q.device)
    rank = torch.zeros(nq, dtype=torch.long, device=q.device)
    for b, e in blocks:
        d = held.pop(b, None)
        if d is None:
            out = buf[: nq * (e - b)].view(nq, e - b)
            d = row_scores(q, gallery(b, e), distance, None if g_sq is None else g_sq[b:e], out=out)
        # rows whose block minimum is beyond the paired score count nothing here (one cheap pass)
        low = d.amin(1, keepdim=True)
        rows = ((low <= own) if ties == "pessimistic" else (low < own)).squeeze(1).nonzero().squeeze(1)
        if len(rows) == 0:
            continue
        sub, o = (d, own) if 2 * len(rows) > nq else (d[rows], own[rows])
        beaten = (sub <= o) if ties == "pessimistic" else (sub < o)
        count = beaten.view(torch.uint8).sum(1, dtype=torch.int32).long()  # a bool sum is slower
        if sub is d:
            rank += count
        else:
            rank[rows] += count
    return rank if ties == "pessimistic" else rank + 1


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
