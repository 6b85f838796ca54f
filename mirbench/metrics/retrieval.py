"""Recall@K for multi-label music similarity, two definitions on one neighbour search (docs/protocols.md#lee-rk).

- :func:`label_recall` / :func:`label_recall_at_k`: the multi-label R@K of Lee et al. (ISMIR 2020, Sec. 4.3.2,
  Eq. 12): per query, the share of its labels found among the labels of its K nearest results,
  ``|y_q & (y_1 | ... | y_K)| / |y_q|``, averaged over the queries that carry a label (1 when all are covered).
- :func:`recall_hits` / :func:`recall_at_k`: the deep-metric-learning "hit rate" (Song et al. 2016): the fraction
  of queries with at least one relevant item among their K nearest neighbours. A different metric: tables name
  it ``hit_rate_at_K`` (HR@K), never R@K.

The query itself is excluded. torchmetrics' ``RetrievalRecall`` is yet another quantity (fraction of the
relevant items retrieved); ``RetrievalHitRate`` is the hit rate but needs the flat N x N score list, which is
slow and memory-hungry for N = 30k (``benchmarks/perf/retrieval_speed.py``). Here the query x gallery distances
are computed in blocks of query and gallery rows that stay in cache, and only the K nearest per row are kept.

Relevance of the hit rate for multi-hot tags ``(N, T)`` (``rule``):

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

from collections.abc import Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from mirbench.threads import ordered_map

DISTANCES = ("euclidean", "cosine", "dot")
RULES = ("share_any", "same_set", "share_in_category")
GALLERY_BLOCK = 1024  # gallery rows per block: a 1024 x 1024 float32 score block (4 MiB) stays in cache
_GROUP = 16  # entries per column group: minima over a (Q, 16, w/16) view are one vectorised pass


def as_tensor(x, device=None, dtype=None) -> torch.Tensor:
    """``x`` (array-like or tensor) as a detached tensor on ``device``."""
    if isinstance(x, torch.Tensor):
        t = x.detach()
    else:
        a = np.asarray(x)
        # a read-only array (np.load mmap, a broadcast view) would give a tensor torch may write into
        t = torch.as_tensor(a if a.flags.writeable else a.copy())
    return t.to(device=device if device is not None else t.device, dtype=dtype or t.dtype)


ROW_BLOCK = 4096  # rows per pass of the whole-matrix checks below: no (N, D) temporary


def squared_norms(x: torch.Tensor) -> torch.Tensor:
    """``x.pow(2).sum(1)`` bit for bit, ``ROW_BLOCK`` rows at a time (the whole ``(N, D)`` square is not held)."""
    return torch.cat([b.pow(2).sum(1) for b in x.split(ROW_BLOCK)]) if len(x) else x.new_zeros(0)


def l2_divisors(x: torch.Tensor) -> torch.Tensor:
    """``(N, 1)``: what ``F.normalize(x, dim=1)`` divides each row by, ``ROW_BLOCK`` rows at a time, so that
    ``x[a:b] / l2_divisors(x)[a:b]`` is ``F.normalize(x, dim=1)[a:b]`` bit for bit without a normalised copy."""
    return torch.cat([torch.linalg.vector_norm(b, 2, 1, keepdim=True).clamp_min(1e-12) for b in x.split(ROW_BLOCK)])


def all_finite(x: torch.Tensor) -> bool:
    """No NaN or inf in ``x``, checked ``ROW_BLOCK`` rows at a time."""
    return all(bool(torch.isfinite(b).all()) for b in x.split(ROW_BLOCK))


def prepare_gallery(x: torch.Tensor, distance: str) -> torch.Tensor:
    """Embeddings in the form :func:`ranking_distances` expects (L2-normalised for ``cosine``)."""
    if distance not in DISTANCES:
        raise ValueError(f"distance must be one of {DISTANCES}, got {distance!r}")
    x = x if x.dtype == torch.float64 else x.float()  # half precision: no CPU GEMM, coarse ties
    return F.normalize(x, dim=1) if distance == "cosine" else x


def ranking_distances(q: torch.Tensor, g: torch.Tensor, distance: str,
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



def row_scores(q: torch.Tensor, g: torch.Tensor, distance: str, g_sq: torch.Tensor | None = None,
               out: torch.Tensor | None = None) -> torch.Tensor:
    """``(Q, G)`` values that order each row like :func:`ranking_distances` (smaller = nearer), in one GEMM.

    A per-row constant does not change a row's order, so ``euclidean`` drops ``|q|^2`` and
    ``cosine`` the 1: ``|g|^2 - 2 q.g`` and ``-q.g``. ``out``: a contiguous ``(Q, G)`` buffer to write into.
    Each entry is one length-D dot product: MKL and OpenBLAS give a block of a few hundred columns or
    more the bits of the full-row product (tests check it up to float rounding at near-ties).
    """
    if distance == "euclidean":
        g_sq = g.pow(2).sum(1) if g_sq is None else g_sq
        bias = g_sq[None, :].to(q.dtype)
        return torch.addmm(bias, q, g.T, alpha=-2.0) if out is None else torch.addmm(bias, q, g.T, alpha=-2.0, out=out)
    d = q @ g.T if out is None else torch.mm(q, g.T, out=out)
    return d.neg_()


def block_edges(n: int, block: int) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` covering ``range(n)`` in blocks of ``block``; a last block under half a
    block joins the one before it, so no product gets a sliver of a few columns (a GEMM takes another
    kernel there, whose rounding may differ in the last bit)."""
    block = max(1, int(block))
    edges = list(range(0, n, block)) + [n]
    if len(edges) > 2 and edges[-1] - edges[-2] < block // 2:
        del edges[-2]
    return list(zip(edges[:-1], edges[1:]))


def gallery_blocks(q: torch.Tensor, g: torch.Tensor, distance: str, g_sq: torch.Tensor | None = None,
                   block: int = GALLERY_BLOCK) -> Iterator[tuple[int, torch.Tensor]]:
    """``(start, scores (Q, b))`` for the blocks :func:`block_edges` of the gallery, in gallery order.

    The scores are :func:`row_scores` of ``q`` against ``g[start:start + b]``, written into one reused
    buffer (valid until the next block): a block that stays in cache keeps the multiply near the GEMM
    peak, where one full ``Q x G`` product is bound by the memory traffic of its output.
    """
    if distance == "euclidean" and g_sq is None:
        g_sq = squared_norms(g)
    edges = block_edges(g.shape[0], block)
    buf = torch.empty(q.shape[0] * max(e - s for s, e in edges), dtype=q.dtype, device=q.device)
    for s, e in edges:
        out = buf[: q.shape[0] * (e - s)].view(q.shape[0], e - s)
        yield s, row_scores(q, g[s:e], distance, None if g_sq is None else g_sq[s:e], out=out)


_LOW32 = (1 << 32) - 1


def _order_keys(vals: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """int64 keys that sort like (float32 value, column): the value's bits made monotone, then the column.

    ``+ 0.0`` turns -0.0 into +0.0, so equal values get equal bits and the column breaks the tie.
    """
    bits = (vals + 0.0).view(torch.int32)
    return ((bits ^ ((bits >> 31) & 0x7FFFFFFF)).long() << 32) | cols


def _key_values(keys: torch.Tensor) -> torch.Tensor:
    """The float32 values of :func:`_order_keys` keys."""
    mono = (keys >> 32).int()
    return (mono ^ ((mono >> 31) & 0x7FFFFFFF)).view(torch.float32)


def _first_k(vals: torch.Tensor, cols: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` first entries of each row in (value, column) order: ``(values, columns)``, each ``(Q, k)``.

    float32: one sort of :func:`_order_keys` (columns below 2^31); other dtypes: a stable sort by column, then
    one by value.
    """
    if vals.dtype == torch.float32:
        keys = _order_keys(vals, cols).sort(1).values[:, :k]
        return _key_values(keys), keys & _LOW32
    order = cols.argsort(dim=1, stable=True)
    vals, cols = vals.gather(1, order), cols.gather(1, order)
    order = vals.argsort(dim=1, stable=True)[:, :k]
    return vals.gather(1, order), cols.gather(1, order)


def _block_candidates(d: torch.Tensor, s: int, gmin: torch.Tensor, bound: torch.Tensor, strict: bool
                      ) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Entries of the score block ``d`` ``(Q, w)`` (gallery columns from ``s``) below ``bound`` ``(Q, 1)``
    (``strict``) or up to it: ``[(values (Q, m), columns (Q, m))]`` padded with (+inf, 2^32 - 1).

    Column group j holds columns j, j + ng, ..., j + 15 ng (``ng = w // 16``); only groups whose minimum ``gmin``
    ``(Q, ng)`` passes the bound are read. Columns past ``16 ng`` are all returned.
    """
    nq, w = d.shape
    ng = gmin.shape[1]
    parts = []
    r, j = (gmin < bound if strict else gmin <= bound).nonzero(as_tuple=True)
    if len(r):
        cols = j[:, None] + ng * torch.arange(_GROUP, device=d.device)
        vals = torch.take(d, (r * w)[:, None] + cols)
        lim = bound.index_select(0, r)
        keep = (vals < lim if strict else vals <= lim).view(-1).nonzero().squeeze(1)
        rows = r.repeat_interleave(_GROUP).index_select(0, keep)
        counts = torch.bincount(rows, minlength=nq)
        m = int(counts.max())
        slot = rows * m + torch.arange(len(rows), device=d.device) - (counts.cumsum(0) - counts).index_select(0, rows)
        out_v = d.new_full((nq * m,), float("inf")).index_copy_(0, slot, vals.view(-1).index_select(0, keep))
        out_c = torch.full((nq * m,), _LOW32, dtype=torch.long, device=d.device)
        out_c.index_copy_(0, slot, cols.view(-1).index_select(0, keep) + s)
        parts.append((out_v.view(nq, m), out_c.view(nq, m)))
    if w > ng * _GROUP:
        parts.append((d[:, ng * _GROUP:], torch.arange(s + ng * _GROUP, s + w, device=d.device).expand(nq, -1)))
    return parts


def _chunk_neighbours(q: torch.Tensor, g: torch.Tensor, k: int, distance: str, g_sq: torch.Tensor | None,
                      self_start: int | None, block: int) -> torch.Tensor:
    """The k nearest ``(Q, k)`` in (value, index) order of each ``q`` row among ``g``, one gallery block at a time.

    Exactly the first k of a stable sort of each full row. In a block, only entries that can enter a row's list
    are read, found through the minima of 16-entry column groups: in the first block, entries up to the k-th
    smallest group minimum (k groups hold an entry at most that value); after it, entries strictly below the
    row's current k-th value (an equal one has a larger index and loses the tie). They are few: the candidates
    and the list are merged by one sort. A block too narrow for k groups is merged whole.
    """
    nq = q.shape[0]
    best: tuple[torch.Tensor, torch.Tensor] | None = None
    for s, d in gallery_blocks(q, g, distance, g_sq, block):
        w = d.shape[1]
        if self_start is not None:
            lo, hi = max(s - self_start, 0), min(s + w - self_start, nq)
            if lo < hi:
                r = torch.arange(lo, hi, device=d.device)
                d[r, r + (self_start - s)] = float("inf")
        ng = w // _GROUP
        full = best is not None and best[0].shape[1] == k
        if full or (best is None and ng >= k):
            grouped = d.view(nq, _GROUP, ng) if ng * _GROUP == w else d[:, :ng * _GROUP].reshape(nq, _GROUP, ng)
            gmin = grouped.amin(1)
            bound = best[0][:, -1:] if full else gmin.kthvalue(k, 1, keepdim=True).values
            parts = _block_candidates(d, s, gmin, bound, strict=full)
        else:
            parts = [(d, torch.arange(s, s + w, device=d.device).expand(nq, -1))]
        if parts:
            parts = ([best] if best is not None else []) + parts
            best = _first_k(torch.cat([v for v, _ in parts], 1), torch.cat([c for _, c in parts], 1), k)
    return best[1]


@torch.no_grad()
def nearest_neighbours(
    embeddings,
    k: int,
    distance: str = "euclidean",
    chunk_size: int = 1024,
    exclude_self: bool = True,
    device=None,
    gallery_block: int = GALLERY_BLOCK,
) -> torch.Tensor:
    """The ``k`` nearest neighbours ``(N, k)`` (int64, on the CPU) of every row of ``embeddings`` ``(N, D)``.

    Computed over chunks of ``chunk_size`` query rows and ``gallery_block`` gallery rows (memory
    ``chunk_size x gallery_block``); ordered by (distance, index); ``exclude_self`` drops the query
    from its own list. The block sizes change the speed, never the result. On the CPU the query chunks run on
    parallel threads, one intra-op thread each (:mod:`mirbench.threads`).
    """
    emb = prepare_gallery(as_tensor(embeddings, device), distance)
    n = emb.shape[0]
    k = min(int(k), n - int(exclude_self))
    if k < 1:
        raise ValueError(f"need at least one neighbour: N={n}, k={k}")
    if not all_finite(emb):
        raise ValueError("embeddings contain NaN or inf")
    g_sq = squared_norms(emb) if distance == "euclidean" else None

    def chunk(s: int) -> torch.Tensor:
        e = min(s + chunk_size, n)
        return _chunk_neighbours(emb[s:e], emb, k, distance, g_sq, s if exclude_self else None, gallery_block).cpu()

    starts = range(0, n, chunk_size)
    workers = min(torch.get_num_threads(), len(starts)) if emb.device.type == "cpu" else 1
    return torch.cat(list(ordered_map(chunk, ((s,) for s in starts), workers)))


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


def recall_hits(
    embeddings,
    relevance,
    ks: Sequence[int] = (1, 2, 4, 8),
    distance: str = "euclidean",
    chunk_size: int = 1024,
    rule: str = "share_any",
    tag_categories: Sequence[str] | None = None,
    category: str | None = None,
    device=None,
    gallery_block: int = GALLERY_BLOCK,
) -> tuple[dict[int, np.ndarray], np.ndarray]:
    """Per query: ``({k: (N,) bool, a relevant item within the k nearest}, (N,) bool answerable)`` (the query
    has a relevant item at all); arguments as :func:`recall_at_k`, whose value is their mean. Bootstrap
    intervals resample these instead of searching again."""
    ks = [int(k) for k in ks]
    if not ks or min(ks) < 1:
        raise ValueError(f"ks must be positive integers, got {ks}")
    rel = Relevance(relevance, rule, tag_categories, category)
    n = len(rel)
    if as_tensor(embeddings).shape[0] != n:
        raise ValueError(f"{as_tensor(embeddings).shape[0]} embeddings but {n} relevance rows")
    nn = nearest_neighbours(embeddings, max(ks), distance, chunk_size, device=device, gallery_block=gallery_block)
    hits = {k: np.zeros(n, dtype=bool) for k in ks}
    for s in range(0, n, chunk_size):
        q = torch.arange(s, min(s + chunk_size, n))
        first = rel(q, nn[q]).cummax(dim=1).values  # first[:, j]: a hit within the j + 1 nearest
        for k in ks:
            hits[k][s : s + len(q)] = first[:, min(k, first.shape[1]) - 1].numpy()
    return hits, rel.answerable.numpy().astype(bool)


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
    gallery_block: int = GALLERY_BLOCK,
) -> dict[int, float]:
    """DML hit rate ("Recall@K" of Song et al. 2016) ``{k: value in [0, 1]}`` of ``embeddings`` ``(N, D)``.

    ``relevance``: labels ``(N,)`` or multi-hot tags ``(N, T)`` with ``rule`` (module docstring);
    ``distance``: ``euclidean`` | ``cosine`` | ``dot``; K larger than N - 1 is clipped to N - 1.
    ``empty``: ``"skip"`` leaves out queries that have no relevant item, ``"miss"`` counts them as 0.
    Returns NaN for every K when no query can be scored. ``chunk_size`` x ``gallery_block``: the score
    block (speed and memory only, :func:`nearest_neighbours`). Per-query hits: :func:`recall_hits`.
    """
    if empty not in ("skip", "miss"):
        raise ValueError(f"empty must be 'skip' or 'miss', got {empty!r}")
    hits, answerable = recall_hits(embeddings, relevance, ks, distance, chunk_size, rule, tag_categories, category,
                                   device, gallery_block)
    denom = int(answerable.sum()) if empty == "skip" else len(answerable)
    return {k: (int((h & answerable).sum()) / denom if denom else float("nan")) for k, h in hits.items()}


def label_recall(
    embeddings,
    tags,
    ks: Sequence[int] = (1, 2, 4, 8),
    distance: str = "euclidean",
    chunk_size: int = 1024,
    device=None,
    gallery_block: int = GALLERY_BLOCK,
) -> tuple[dict[int, np.ndarray], np.ndarray]:
    """Per query, Lee et al.'s multi-label recall (ISMIR 2020, Eq. 12): ``({k: (N,) float64}, (N,) bool labelled)``.

    ``value[k][q]`` = the share of query q's tags ``tags`` ``(N, T)`` carried by at least one of its k nearest
    neighbours (the same search and tie rule as :func:`recall_hits`); ``labelled[q]``: q carries a tag (an
    untagged query has no score, 0 / 0, and is left out of the mean). K above N - 1 is clipped to N - 1.
    """
    ks = [int(k) for k in ks]
    if not ks or min(ks) < 1:
        raise ValueError(f"ks must be positive integers, got {ks}")
    t = as_tensor(tags).cpu()
    if t.ndim != 2:
        raise ValueError(f"Eq. 12 recall needs multi-hot tags (N, T), got shape {tuple(t.shape)}")
    t = t > 0
    n = t.shape[0]
    if as_tensor(embeddings).shape[0] != n:
        raise ValueError(f"{as_tensor(embeddings).shape[0]} embeddings but {n} tag rows")
    nn = nearest_neighbours(embeddings, max(ks), distance, chunk_size, device=device, gallery_block=gallery_block)
    n_labels = t.sum(1)
    values = {k: np.zeros(n, dtype=np.float64) for k in ks}
    for s in range(0, n, chunk_size):
        q = torch.arange(s, min(s + chunk_size, n))
        seen = t[nn[q]].cummax(dim=1).values  # (Q, K, T): a tag among the j + 1 nearest
        covered = (seen & t[q][:, None, :]).sum(-1).double() / n_labels[q].clamp_min(1)[:, None].double()
        for k in ks:
            values[k][s : s + len(q)] = covered[:, min(k, covered.shape[1]) - 1].numpy()
    return values, (n_labels > 0).numpy()


def label_recall_at_k(
    embeddings,
    tags,
    ks: Sequence[int] = (1, 2, 4, 8),
    distance: str = "euclidean",
    chunk_size: int = 1024,
    device=None,
    gallery_block: int = GALLERY_BLOCK,
) -> dict[int, float]:
    """Lee et al.'s R@K (ISMIR 2020, Eq. 12) ``{k: value in [0, 1]}``: the mean of :func:`label_recall` over the
    tagged queries; NaN for every K when no query carries a tag."""
    values, labelled = label_recall(embeddings, tags, ks, distance, chunk_size, device, gallery_block)
    m = int(labelled.sum())
    return {k: float(v[labelled].sum() / m) if m else float("nan") for k, v in values.items()}


def label_recall_chance(tags, ks: Sequence[int] = (1, 2, 4, 8)) -> dict[int, float]:
    """Eq. 12's R@K of a random order ``{k: value}``: its expectation when each query's K results are a uniform
    draw without replacement from the other N - 1 items (what an uninformative embedding scores on average).

    Tag t of query q is covered unless all K results miss it: ``1 - C(m - c, K) / C(m, K)``, with m = N - 1 and
    c the number of other items carrying t; averaged over the query's tags, then over the tagged queries.
    """
    from scipy.special import gammaln

    t = as_tensor(tags).cpu().numpy() > 0
    n = t.shape[0]
    m = n - 1
    labelled = t.sum(1) > 0
    others = t.sum(0)[None, :] - t  # (N, T): items other than q carrying each tag
    out = {}
    for k in (int(k) for k in ks):
        k = min(k, m)

        def log_choose(a: np.ndarray) -> np.ndarray:
            return gammaln(a + 1) - gammaln(k + 1) - gammaln(a - k + 1)

        miss = np.where(m - others >= k, np.exp(log_choose(m - others) - log_choose(np.asarray(m))), 0.0)
        covered = ((1.0 - miss) * t).sum(1)[labelled] / t.sum(1)[labelled]
        out[k] = float(covered.mean()) if labelled.any() else float("nan")
    return out
