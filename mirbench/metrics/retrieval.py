"""Deep-metric-learning Recall@K for multi-label music similarity (Lee et al., ISMIR 2020; REFERENCE 1.4).

R@K = fraction of queries with at least one relevant item among their K nearest neighbours, the query
itself excluded (Song et al. 2016; the K = 1, 2, 4, 8 of Lee et al.). torchmetrics' ``RetrievalRecall``
is a different quantity (fraction of the relevant items retrieved); ``RetrievalHitRate`` is this one but
needs the flat N x N score list, which is slow and memory-hungry for N = 30k
(``benchmarks/perf/retrieval_speed.py``). Here the query x gallery distances are computed in chunks of
rows and only the K nearest per row are kept.

Relevance for multi-hot tags ``(N, T)`` (``rule``; which one Lee et al. used is not known, REFERENCE 1.4):

- ``"share_any"`` (default): the two items share >= 1 tag (the ICASSP 2020 similarity rule);
- ``"same_set"``: identical, non-empty tag sets;
- ``"share_in_category"``: share >= 1 tag of ``category`` (``tag_categories[t]`` names tag t's category).

Integer labels ``(N,)`` mean: relevant iff same label. An item without tags is relevant to nothing.
Queries with no relevant item among the other N - 1 cannot score and are left out of the mean
(pytorch-metric-learning's "lone query" convention); ``empty="miss"`` counts them as misses instead.

Neighbours are ordered by (distance, gallery index): ties go to the lower index, the order of a
stable sort of each row (and of scikit-learn's brute-force ``NearestNeighbors`` when there are no
ties), so results are deterministic on a given device; float32 rounding of near-equal distances may
differ between devices or BLAS builds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

DISTANCES = ("euclidean", "cosine", "dot")
RULES = ("share_any", "same_set", "share_in_category")


def as_tensor(x, device=None, dtype=None) -> torch.Tensor:
    """``x`` (array-like or tensor) as a detached tensor on ``device``."""
    t = x.detach() if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    return t.to(device=device if device is not None else t.device, dtype=dtype or t.dtype)


def prepare_gallery(x: torch.Tensor, distance: str) -> torch.Tensor:
    """Embeddings in the form :func:`pairwise_distance` expects (L2-normalised for ``cosine``)."""
    if distance not in DISTANCES:
        raise ValueError(f"distance must be one of {DISTANCES}, got {distance!r}")
    x = x if x.dtype == torch.float64 else x.float()  # half precision: no CPU GEMM, coarse ties
    return F.normalize(x, dim=1) if distance == "cosine" else x


def pairwise_distance(q: torch.Tensor, g: torch.Tensor, distance: str,
                      g_sq: torch.Tensor | None = None) -> torch.Tensor:
    """Distances ``(Q, G)`` that rank like ``distance``; inputs already passed through :func:`prepare_gallery`.

    ``euclidean`` is the squared distance (same order, no square root), ``cosine`` is ``1 - cos``,
    ``dot`` is the negative inner product.
    """
    if distance == "euclidean":
        g_sq = g.pow(2).sum(1) if g_sq is None else g_sq
        return (q.pow(2).sum(1, keepdim=True) + g_sq[None, :] - 2.0 * q @ g.T).clamp_min_(0.0)
    if distance == "cosine":
        return 1.0 - q @ g.T
    return -(q @ g.T)


def row_scores(q: torch.Tensor, g: torch.Tensor, distance: str, g_sq: torch.Tensor | None = None) -> torch.Tensor:
    """``(Q, G)`` values that order each row like :func:`pairwise_distance` (smaller = nearer), in one GEMM.

    A per-row constant does not change a row's order, so ``euclidean`` drops ``|q|^2`` and
    ``cosine`` the 1: ``|g|^2 - 2 q.g`` and ``-q.g``.
    """
    if distance == "euclidean":
        g_sq = g.pow(2).sum(1) if g_sq is None else g_sq
        return torch.addmm(g_sq[None, :].to(q.dtype), q, g.T, alpha=-2.0)
    return (q @ g.T).neg_()


def _topk_ordered(d: torch.Tensor, k: int) -> torch.Tensor:
    """Indices of the k smallest entries per row, in (value, column) order, ties to the lower column."""
    kk = min(k + 1, d.shape[1])
    vals, idx = torch.topk(d, kk, dim=1, largest=False, sorted=True)
    # topk's choice among entries tied with the k-th value is unspecified: redo those rows exactly
    ambiguous = vals[:, k] == vals[:, k - 1] if kk > k else torch.zeros(len(d), dtype=torch.bool, device=d.device)
    vals, idx = vals[:, :k], idx[:, :k]
    by_idx = idx.argsort(dim=1)
    idx, vals = idx.gather(1, by_idx), vals.gather(1, by_idx)
    idx = idx.gather(1, vals.argsort(dim=1, stable=True))
    if ambiguous.any():
        idx[ambiguous] = torch.sort(d[ambiguous], dim=1, stable=True).indices[:, :k]
    return idx


@torch.no_grad()
def nearest_neighbours(
    embeddings,
    k: int,
    distance: str = "euclidean",
    chunk_size: int = 1024,
    exclude_self: bool = True,
    device=None,
) -> torch.Tensor:
    """The ``k`` nearest neighbours ``(N, k)`` (int64, on the CPU) of every row of ``embeddings`` ``(N, D)``.

    Computed over chunks of ``chunk_size`` query rows (memory ``chunk_size x N``); ordered by
    (distance, index); ``exclude_self`` drops the query from its own list.
    """
    emb = prepare_gallery(as_tensor(embeddings, device), distance)
    n = emb.shape[0]
    k = min(int(k), n - int(exclude_self))
    if k < 1:
        raise ValueError(f"need at least one neighbour: N={n}, k={k}")
    if not torch.isfinite(emb).all():
        raise ValueError("embeddings contain NaN or inf")
    g_sq = emb.pow(2).sum(1) if distance == "euclidean" else None
    out = []
    for s in range(0, n, chunk_size):
        e = min(s + chunk_size, n)
        d = row_scores(emb[s:e], emb, distance, g_sq)
        if exclude_self:
            rows = torch.arange(e - s, device=d.device)
            d[rows, rows + s] = float("inf")
        out.append(_topk_ordered(d, k).cpu())
    return torch.cat(out)


class Relevance:
    """Who is relevant to whom, from integer labels ``(N,)`` or multi-hot tags ``(N, T)`` and a rule."""

    def __init__(self, relevance, rule: str = "share_any", tag_categories: Sequence[str] | None = None,
                 category: str | None = None) -> None:
        r = as_tensor(relevance).cpu()
        self.labels: torch.Tensor | None = None
        self.tags: torch.Tensor | None = None
        if r.ndim == 1:
            if r.is_floating_point() and not torch.equal(r, r.round()):
                raise ValueError("1-d relevance must hold integer labels")
            self.labels = r.long()
            _, inverse, counts = torch.unique(self.labels, return_inverse=True, return_counts=True)
            self.answerable = counts[inverse] >= 2
            return
        if r.ndim != 2:
            raise ValueError(f"relevance must be labels (N,) or multi-hot tags (N, T), got shape {tuple(r.shape)}")
        if rule not in RULES:
            raise ValueError(f"rule must be one of {RULES}, got {rule!r}")
        tags = r > 0
        if rule == "share_in_category":
            if tag_categories is None or category is None:
                raise ValueError("rule='share_in_category' needs tag_categories and category")
            if len(tag_categories) != tags.shape[1]:
                raise ValueError(f"{len(tag_categories)} tag categories for {tags.shape[1]} tags")
            cols = [i for i, c in enumerate(tag_categories) if c == category]
            if not cols:
                raise ValueError(f"no tag has category {category!r}; categories: {sorted(set(tag_categories))}")
            tags, rule = tags[:, cols], "share_any"
        self.tags, self.rule = tags, rule
        tagged = tags.any(1)
        if rule == "share_any":
            self.answerable = (tags & (tags.sum(0) >= 2)).any(1)
        else:
            _, inverse, counts = torch.unique(tags, dim=0, return_inverse=True, return_counts=True)
            self.answerable = tagged & (counts[inverse] >= 2)

    def __len__(self) -> int:
        return len(self.answerable)

    def __call__(self, queries: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """``(Q, K)`` bool: is ``items[i, j]`` relevant to ``queries[i]``? (index tensors)"""
        if self.labels is not None:
            return self.labels[queries][:, None] == self.labels[items]
        q, g = self.tags[queries][:, None, :], self.tags[items]
        if self.rule == "share_any":
            return (q & g).any(-1)
        return (q == g).all(-1) & g.any(-1)


def recall_at_k(
    embeddings,
    relevance,
    ks: Sequence[int] = (1, 2, 4, 8),
    distance: str = "euclidean",
    chunk_size: int = 1024,
    rule: str = "share_any",
    tag_categories: Sequence[str] | None = None,
    category: str | None = None,
    empty: str = "skip",
    device=None,
) -> dict[int, float]:
    """DML Recall@K ``{k: value in [0, 1]}`` of ``embeddings`` ``(N, D)`` against themselves.

    ``relevance``: labels ``(N,)`` or multi-hot tags ``(N, T)`` with ``rule`` (module docstring);
    ``distance``: ``euclidean`` | ``cosine`` | ``dot``; K larger than N - 1 is clipped to N - 1.
    ``empty``: ``"skip"`` leaves out queries that have no relevant item, ``"miss"`` counts them as 0.
    Returns NaN for every K when no query can be scored.
    """
    if empty not in ("skip", "miss"):
        raise ValueError(f"empty must be 'skip' or 'miss', got {empty!r}")
    ks = [int(k) for k in ks]
    if not ks or min(ks) < 1:
        raise ValueError(f"ks must be positive integers, got {ks}")
    rel = Relevance(relevance, rule, tag_categories, category)
    n = len(rel)
    if as_tensor(embeddings).shape[0] != n:
        raise ValueError(f"{as_tensor(embeddings).shape[0]} embeddings but {n} relevance rows")
    nn = nearest_neighbours(embeddings, max(ks), distance, chunk_size, device=device)
    hits = torch.zeros(len(ks), dtype=torch.long)
    for s in range(0, n, chunk_size):
        q = torch.arange(s, min(s + chunk_size, n))
        first = rel(q, nn[q]).cummax(dim=1).values  # first[:, j]: a hit within the j + 1 nearest
        scored = rel.answerable[q]
        for i, k in enumerate(ks):
            hits[i] += (first[:, min(k, first.shape[1]) - 1] & scored).sum()
    denom = int(rel.answerable.sum()) if empty == "skip" else n
    return {k: (float(hits[i]) / denom if denom else float("nan")) for i, k in enumerate(ks)}
