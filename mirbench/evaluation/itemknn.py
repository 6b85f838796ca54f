"""Content-based item-kNN recommendation protocol of Kim & Liem (ISMIR 2022; docs/protocols.md#kim-probes;
eldrin/hdpgmm-music-experiments ``src/experiment/{common,itemknn}.py``).

Items are songs with representations ``X`` ``(I, d)``. Item-item cosine similarity, self-similarity
set to 0, each item's top-K neighbours kept. Per random split: 10 % validation and 10 % test users;
for each of them ``max(int(0.7 n_u), 1)`` interactions stay as history and the rest (about 30 %) is
hidden. Scores ``S = binarise(history) @ topK(sim)``; nDCG@500 with binary relevance against the
hidden items; K in {16, ..., 512} chosen on the validation users, reported on the test users; the
result is averaged over 5 splits. Already-seen items are *not* removed from the ranking (the
paper's choice; ``mask_seen=True`` removes them). Training users play no role: nothing is learned
from interactions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import sparse as sp

from mirbench.metrics.bootstrap import mean_replicates
from mirbench.metrics.ndcg import ndcg_at_k

K_RANGE = (16, 32, 64, 128, 256, 512)


def topk_cosine(x: np.ndarray, k: int, chunk: int = 1024) -> sp.csr_matrix:
    """Row-wise top-``k`` cosine similarity ``(I, I)`` (CSR), self-similarity zeroed before selection."""
    x = np.asarray(x, dtype=np.float64)
    xn = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    n = x.shape[0]
    k = min(k, n)
    indices, values = [], []
    for s in range(0, n, chunk):
        sim = xn[s : s + chunk] @ xn.T
        sim[np.arange(sim.shape[0]), np.arange(s, s + sim.shape[0])] = 0.0
        idx = np.argpartition(-sim, k - 1, axis=1)[:, :k] if k < n else np.tile(np.arange(n), (sim.shape[0], 1))
        indices.append(idx)
        values.append(np.take_along_axis(sim, idx, axis=1))
    indices, values = np.concatenate(indices), np.concatenate(values)
    indptr = np.arange(0, n * k + 1, k)
    return sp.csr_matrix((values.ravel(), indices.ravel(), indptr), shape=(n, n))


def keep_top_k(sim: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Keep each row's ``k`` largest entries of a row-wise top-K matrix (equal row lengths)."""
    width = int(np.diff(sim.indptr).max()) if sim.nnz else 0
    if k >= width:
        return sim
    vals = sim.data.reshape(-1, width)
    idx = sim.indices.reshape(-1, width)
    sel = np.argpartition(-vals, k - 1, axis=1)[:, :k]
    indptr = np.arange(0, sim.shape[0] * k + 1, k)
    return sp.csr_matrix(
        (np.take_along_axis(vals, sel, 1).ravel(), np.take_along_axis(idx, sel, 1).ravel(), indptr), shape=sim.shape
    )


@dataclass
class UserSplit:
    """History and hidden interactions of the validation and test users (rows in user order)."""

    valid_history: sp.csr_matrix
    valid_hidden: sp.csr_matrix
    test_history: sp.csr_matrix
    test_hidden: sp.csr_matrix


def split_users(
    interactions: sp.csr_matrix,
    rng: np.random.Generator,
    valid_user_ratio: float = 0.1,
    test_user_ratio: float = 0.1,
    keep_ratio: float = 0.7,
) -> UserSplit:
    """Draw validation/test users and hide part of each one's items (see the module docstring)."""
    interactions = sp.csr_matrix(interactions)
    n_users = interactions.shape[0]
    perm = rng.permutation(n_users)
    n_valid = max(int(n_users * valid_user_ratio), 1)
    n_test = max(int(n_users * test_user_ratio), 1)
    start = n_users - n_valid - n_test
    parts = []
    for users in (perm[start : start + n_valid], perm[start + n_valid :]):
        rows = interactions[users]
        hist, hidden = [], []
        for u in range(rows.shape[0]):
            items = rows.indices[rows.indptr[u] : rows.indptr[u + 1]]
            vals = rows.data[rows.indptr[u] : rows.indptr[u + 1]]
            order = rng.permutation(len(items))
            n_keep = max(int(keep_ratio * len(items)), 1) if len(items) else 0
            hist.append((items[order[:n_keep]], vals[order[:n_keep]]))
            hidden.append((items[order[n_keep:]], vals[order[n_keep:]]))
        parts.append(tuple(_rows_to_csr(r, interactions.shape[1]) for r in (hist, hidden)))
    return UserSplit(parts[0][0], parts[0][1], parts[1][0], parts[1][1])


def _rows_to_csr(rows: list[tuple[np.ndarray, np.ndarray]], n_items: int) -> sp.csr_matrix:
    indptr = np.concatenate([[0], np.cumsum([len(i) for i, _ in rows])])
    indices = np.concatenate([i for i, _ in rows]) if rows else np.zeros(0, int)
    data = np.concatenate([v for _, v in rows]) if rows else np.zeros(0)
    return sp.csr_matrix((data.astype(np.float64), indices, indptr), shape=(len(rows), n_items))


def _binary(m: sp.csr_matrix) -> sp.csr_matrix:
    m = m.copy()
    m.data[:] = 1.0
    return m


def user_ndcg(
    history: sp.csr_matrix, hidden: sp.csr_matrix, sim: sp.csr_matrix, top_k: int = 500, mask_seen: bool = False
) -> np.ndarray:
    """nDCG@``top_k`` per user ``(U,)`` (NaN for users without hidden items), scores ``binarise(history) @ sim``."""
    scores = np.asarray((_binary(history) @ sim).todense())
    return ndcg_at_k(scores, _binary(hidden), top_k, exclude=history if mask_seen else None)


def score_users(
    history: sp.csr_matrix, hidden: sp.csr_matrix, sim: sp.csr_matrix, top_k: int = 500, mask_seen: bool = False
) -> float:
    """Mean nDCG@``top_k`` over users with hidden items (:func:`user_ndcg`)."""
    per_user = user_ndcg(history, hidden, sim, top_k, mask_seen)
    return float(np.nanmean(per_user)) if np.isfinite(per_user).any() else float("nan")


@dataclass
class ItemKNNResult:
    ndcg: float  # mean test nDCG over splits
    per_split: list[float] = field(default_factory=list)
    best_k: list[int] = field(default_factory=list)
    valid: list[dict[int, float]] = field(default_factory=list)
    test_users: list[np.ndarray] = field(default_factory=list)  # per split: nDCG of each test user (NaN: none hidden)

    def replicates(self) -> np.ndarray:
        """Bootstrap replicates of :attr:`ndcg` over the test users: each split's users resampled, then the
        mean over splits (:mod:`mirbench.metrics.bootstrap`)."""
        per_split = [mean_replicates(np.nan_to_num(u), np.isfinite(u)) for u in self.test_users]
        with np.errstate(invalid="ignore"):
            return np.nanmean(np.stack(per_split), axis=0).astype(np.float32)


def itemknn_ndcg(
    features: np.ndarray,
    interactions: sp.csr_matrix,
    k_range: tuple[int, ...] = K_RANGE,
    top_k: int = 500,
    n_splits: int = 5,
    valid_user_ratio: float = 0.1,
    test_user_ratio: float = 0.1,
    keep_ratio: float = 0.7,
    mask_seen: bool = False,
    seed: int = 2022,
) -> ItemKNNResult:
    """The full protocol: ``features`` ``(I, d)`` aligned with the columns of ``interactions`` ``(U, I)``.

    ``keep_ratio`` = 0.7: the share of a held-out user's items kept as history (30 % hidden)."""
    n_items = features.shape[0]
    if interactions.shape[1] != n_items:
        raise ValueError(f"{interactions.shape[1]} interaction columns for {n_items} items")
    ks = [k for k in k_range if k < n_items] or [n_items - 1]
    full = topk_cosine(features, max(ks))
    sims = {k: keep_top_k(full, k) for k in ks}
    rng = np.random.default_rng(seed)
    res = ItemKNNResult(float("nan"))
    for _ in range(n_splits):
        split = split_users(interactions, rng, valid_user_ratio, test_user_ratio, keep_ratio)
        valid = {k: score_users(split.valid_history, split.valid_hidden, sims[k], top_k, mask_seen) for k in ks}
        best = max(ks, key=lambda k: (np.nan_to_num(valid[k], nan=-1.0), -k))
        res.valid.append(valid)
        res.best_k.append(best)
        users = user_ndcg(split.test_history, split.test_hidden, sims[best], top_k, mask_seen)
        res.test_users.append(users)
        res.per_split.append(float(np.nanmean(users)) if np.isfinite(users).any() else float("nan"))
    res.ndcg = float(np.nanmean(res.per_split))
    return res
