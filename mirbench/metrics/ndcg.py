"""nDCG@k with binary relevance, as used for recommendation by Kim & Liem (ISMIR 2022;
eldrin/hdpgmm-music-experiments ``ndcg``): ``DCG = sum_{i<k} rel_i / log2(i + 2)`` over the top-k
ranked items, normalised by the ideal DCG over ``min(#relevant, k)`` positions.

Equals ``sklearn.metrics.ndcg_score(relevance, scores, k=k)`` per user when scores have no ties
(sklearn averages over tied scores; here ties are broken by item index).
"""

from __future__ import annotations

import numpy as np
from scipy import sparse as sp


def _dense_rows(m, rows: slice) -> np.ndarray:
    block = m[rows]
    return np.asarray(block.todense()) if sp.issparse(block) else np.asarray(block)


def _top_k(sc: np.ndarray, k: int) -> np.ndarray:
    """Indices ``(U, k)`` of the k highest scores per row, ordered by (score desc, item index asc).

    ``argpartition`` picks arbitrarily among items tied with the k-th score; rows where such a tie crosses
    the boundary are redone with a stable full sort, so the lower item index always wins.
    """
    n_items = sc.shape[1]
    if k >= n_items:
        return np.argsort(-sc, axis=1, kind="stable")
    part = np.argpartition(-sc, k - 1, axis=1)[:, :k]
    part_scores = np.take_along_axis(sc, part, axis=1)
    order = np.lexsort((part, -part_scores), axis=1)
    top = np.take_along_axis(part, order, axis=1)
    kth = part_scores.min(axis=1, keepdims=True)
    ambiguous = (sc == kth).sum(1) > (part_scores == kth).sum(1)
    if ambiguous.any():
        top[ambiguous] = np.argsort(-sc[ambiguous], axis=1, kind="stable")[:, :k]
    return top


def ndcg_at_k(
    scores: np.ndarray,
    relevant,
    k: int,
    exclude=None,
    chunk: int = 1024,
) -> np.ndarray:
    """Per-user nDCG@k: ``scores`` ``(U, I)``, ``relevant`` ``(U, I)`` binary (dense or sparse),
    ``exclude`` optional ``(U, I)`` mask of items removed from the ranking (e.g. already seen).
    Users without relevant items get NaN."""
    scores = np.asarray(scores, dtype=np.float64)
    n_users, n_items = scores.shape
    k = min(k, n_items)
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    cum_discount = np.concatenate([[0.0], np.cumsum(discount)])
    out = np.full(n_users, np.nan)
    for s in range(0, n_users, chunk):
        rows = slice(s, min(s + chunk, n_users))
        sc = scores[rows].copy()
        rel = _dense_rows(relevant, rows) > 0
        if exclude is not None:
            sc[_dense_rows(exclude, rows) > 0] = -np.inf
        top = _top_k(sc, k)
        dcg = (np.take_along_axis(rel, top, axis=1) * discount).sum(1)
        n_rel = rel.sum(1)
        idcg = cum_discount[np.minimum(n_rel, k)]
        with np.errstate(invalid="ignore", divide="ignore"):
            out[rows] = np.where(n_rel > 0, dcg / idcg, np.nan)
    return out
