"""Triplet agreement: category triplets from tags (Lee et al., ICASSP 2020 / ISMIR 2020) and Dim-Sim votes.

- :func:`sample_category_triplets`: held-out triplets along one dimension (genre, mood, ...): anchor and
  positive share >= 1 tag of the category, the negative shares none of the anchor's tags of that
  category (ICASSP 2020 sec. 3; 40,000 per dimension there; docs/protocols.md#lee-triplets).
- :func:`sample_track_triplets`: track triplets (ISMIR 2020 Table 4 "Track"): two clips of one track vs a clip
  of another track.
- :func:`triplet_accuracy`: mean of ``d(a, p) < d(a, n)`` in the complete space or a sub-space
  (``dims``, the masked block of a disentangled model). Equal distances count as wrong, so a collapsed
  embedding scores 0, not 0.5.
- :func:`vote_accuracy`: Dim-Sim (ICASSP 2020 Table 2 "User"): the song with more votes must be
  strictly closer to the anchor; triplets with tied votes are left out.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from mirbench.metrics.retrieval import as_tensor


def _category_tags(tags, tag_categories: Sequence[str], category: str) -> np.ndarray:
    tags = np.asarray(tags.cpu() if isinstance(tags, torch.Tensor) else tags) > 0
    if tags.ndim != 2 or len(tag_categories) != tags.shape[1]:
        raise ValueError(f"tags (N, T) with one category per tag expected; got {tags.shape} and {len(tag_categories)}")
    cols = [i for i, c in enumerate(tag_categories) if c == category]
    if not cols:
        raise ValueError(f"no tag has category {category!r}; categories: {sorted(set(tag_categories))}")
    return tags[:, cols]


def _kth_true(mask: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Per row, the column of the ``u[i]``-th (0-based) True entry of ``mask``."""
    return (np.cumsum(mask, axis=1) > u[:, None]).argmax(axis=1)


def _sample_positives(t: np.ndarray, anchors: np.ndarray, rng: np.random.Generator, max_rounds: int) -> np.ndarray:
    """A uniform item j != a from the union of the members of a's tags, for every anchor a.

    Draw a tag of a with probability proportional to its size, a uniform member m of it, and keep m
    with probability 1 / (number of a's tags m carries): every member of the union is then equally likely.
    """
    cnt = t.sum(0)
    members = np.concatenate([np.flatnonzero(t[:, c]) for c in range(t.shape[1])])
    offsets = np.concatenate([[0], np.cumsum(cnt)[:-1]])
    out, todo = np.full(len(anchors), -1, np.int64), np.arange(len(anchors))
    for _ in range(max_rounds):
        if not todo.size:
            return out
        ta = t[anchors[todo]]
        cw = np.cumsum(ta * cnt, axis=1)
        tag = (cw > (rng.random(len(todo)) * cw[:, -1])[:, None]).argmax(1)
        m = members[offsets[tag] + np.minimum((rng.random(len(todo)) * cnt[tag]).astype(np.int64), cnt[tag] - 1)]
        ok = (m != anchors[todo]) & (rng.random(len(todo)) * (ta & t[m]).sum(1) < 1.0)
        out[todo[ok]] = m[ok]
        todo = todo[~ok]
    raise RuntimeError(f"positive sampling did not finish in {max_rounds} rounds")


def _sample_negatives(t: np.ndarray, anchors: np.ndarray, pool: np.ndarray, rng: np.random.Generator,
                      max_rounds: int, chunk_size: int = 512) -> np.ndarray:
    """A uniform item of ``pool`` sharing no tag with a, for every anchor a (rejection sampling, then an
    exact draw over the full candidate mask for the anchors still without one after ``max_rounds``)."""
    out, todo = np.full(len(anchors), -1, np.int64), np.arange(len(anchors))
    for _ in range(max_rounds):
        if not todo.size:
            return out
        m = pool[rng.integers(0, len(pool), len(todo))]
        ok = ~(t[anchors[todo]] & t[m]).any(1)
        out[todo[ok]] = m[ok]
        todo = todo[~ok]
    tp = t[pool].astype(np.float32)
    for s in range(0, len(todo), chunk_size):
        rows = todo[s : s + chunk_size]
        mask = (t[anchors[rows]].astype(np.float32) @ tp.T) == 0
        counts = mask.sum(1)
        out[rows] = pool[_kth_true(mask, np.minimum((rng.random(len(rows)) * counts).astype(np.int64), counts - 1))]
    return out


def sample_category_triplets(
    tags,
    tag_categories: Sequence[str],
    category: str,
    n: int,
    rng: np.random.Generator | int | None = None,
    negative_tagged: bool = False,
    max_rounds: int = 64,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` triplets ``(anchor, positive, negative)`` of row indices into ``tags`` ``(N, T)``.

    Anchors are drawn uniformly with replacement among the items that carry a tag of ``category`` and
    have at least one positive and one negative; the positive (another item sharing >= 1 of the
    anchor's ``category`` tags) and the negative (an item sharing none) are uniform given the anchor.
    ``negative_tagged``: negatives must carry some tag of the category (default: any item qualifies).
    ``max_rounds``: rejection-sampling rounds for negatives before an exact draw. Deterministic given
    ``rng``. Returns three int64 arrays of length ``n`` (empty when no anchor qualifies).
    """
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    t = _category_tags(tags, tag_categories, category)
    tagged = t.any(1)
    pool = np.flatnonzero(tagged) if negative_tagged else np.arange(len(t))
    # items sharing a tag with each distinct tag set (the anchor itself included): few sets, one pass each
    patterns, inverse = np.unique(t, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    tf = t.astype(np.float32)
    shared = np.concatenate([((tf @ patterns[s : s + 256].T.astype(np.float32)) > 0).sum(0)
                             for s in range(0, len(patterns), 256)]).astype(np.int64)[inverse]
    valid = np.flatnonzero(tagged & (shared > 1) & (len(pool) - shared > 0))
    if len(valid) == 0 or n <= 0:
        empty = np.zeros(0, np.int64)
        return empty, empty.copy(), empty.copy()
    anchors = valid[rng.integers(0, len(valid), size=int(n))].astype(np.int64)
    positives = _sample_positives(t, anchors, rng, max_rounds=100_000)
    return anchors, positives, _sample_negatives(t, anchors, pool, rng, max_rounds)


def sample_track_triplets(track, n: int, rng: np.random.Generator | int | None = None
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` track triplets (Lee et al. ISMIR 2020, Sec. 4.3.4 / Table 4 "Track"): anchor and positive are two
    different clips of one track, the negative a clip of another track; indices into ``track`` ``(N,)`` (the
    track id of every clip).

    Anchors are uniform among the clips whose track has another clip; the positive is uniform among the other
    clips of the anchor's track, the negative uniform among the clips of the other tracks. Deterministic given
    ``rng``; three empty arrays when no track has two clips or there is one track only.
    """
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    _, tid, counts = np.unique(np.asarray(track).reshape(-1), return_inverse=True, return_counts=True)
    tid = tid.reshape(-1)
    valid = np.flatnonzero(counts[tid] >= 2)
    if len(valid) == 0 or len(counts) < 2 or n <= 0:
        empty = np.zeros(0, np.int64)
        return empty, empty.copy(), empty.copy()
    order = np.argsort(tid, kind="stable")  # clips grouped by track
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    anchors = valid[rng.integers(0, len(valid), size=int(n))]
    a_t = tid[anchors]
    rank = np.empty(len(tid), np.int64)
    rank[order] = np.arange(len(tid)) - start[tid[order]]  # position of each clip within its track
    # positive: one of the other counts - 1 clips of the track (skip the anchor's own position)
    j = rng.integers(0, counts[a_t] - 1)
    positives = order[start[a_t] + j + (j >= rank[anchors])]
    # negative: one of the N - counts clips outside the track (skip the track's block in the grouped order)
    m = rng.integers(0, len(tid) - counts[a_t])
    negatives = order[m + counts[a_t] * (m >= start[a_t])]
    return anchors.astype(np.int64), positives.astype(np.int64), negatives.astype(np.int64)


def _distances(x: torch.Tensor, y: torch.Tensor, distance: str) -> torch.Tensor:
    if distance == "euclidean":
        return (x - y).norm(dim=1)
    if distance == "cosine":
        return 1.0 - (F.normalize(x, dim=1) * F.normalize(y, dim=1)).sum(1)
    raise ValueError(f"distance must be 'euclidean' or 'cosine', got {distance!r}")


def triplet_correct(
    embeddings,
    anchor,
    positive,
    negative,
    dims: slice | Sequence[int] | None = None,
    distance: str = "euclidean",
) -> np.ndarray:
    """Per triplet ``(M,)`` bool: ``d(a, p) < d(a, n)`` (strict: ties are wrong).

    ``embeddings`` ``(N, D)``; index arrays of equal length; ``dims`` restricts the distance to a
    sub-space (for ``cosine``, the sub-vectors are normalised).
    """
    emb = as_tensor(embeddings).cpu().double()
    if dims is not None:
        emb = emb[:, dims]
    a, p, n = (torch.as_tensor(np.asarray(v), dtype=torch.long).reshape(-1) for v in (anchor, positive, negative))
    if not (len(a) == len(p) == len(n)):
        raise ValueError(f"triplet index arrays differ in length: {len(a)}, {len(p)}, {len(n)}")
    if len(a) == 0:
        return np.zeros(0, dtype=bool)
    return (_distances(emb[a], emb[p], distance) < _distances(emb[a], emb[n], distance)).numpy()


def triplet_accuracy(
    embeddings,
    anchor,
    positive,
    negative,
    dims: slice | Sequence[int] | None = None,
    distance: str = "euclidean",
) -> float:
    """Fraction of triplets with ``d(a, p) < d(a, n)`` (:func:`triplet_correct`); NaN without triplets."""
    right = triplet_correct(embeddings, anchor, positive, negative, dims, distance)
    return float(right.mean()) if len(right) else float("nan")


def vote_correct(
    emb_anchor,
    emb_1,
    emb_2,
    song1_vote,
    song2_vote,
    dims: slice | Sequence[int] | None = None,
    distance: str = "euclidean",
) -> tuple[np.ndarray, np.ndarray]:
    """Dim-Sim agreement per triplet: ``(right, scored)``, both ``(M,)`` bool.

    ``right[i]``: the more-voted song of triplet i is strictly closer to the anchor; ``scored[i]``: the votes
    differ (a tied vote says nothing and is left out). Embeddings ``(M, D)`` each (row i = triplet i); votes
    ``(M,)`` (counts, or 0/1 in the clean set).
    """
    a, s1, s2 = (as_tensor(v).cpu().double() for v in (emb_anchor, emb_1, emb_2))
    if dims is not None:
        a, s1, s2 = a[:, dims], s1[:, dims], s2[:, dims]
    v1, v2 = (as_tensor(v).cpu().double().reshape(-1) for v in (song1_vote, song2_vote))
    d1, d2 = _distances(a, s1, distance), _distances(a, s2, distance)
    right = torch.where(v1 > v2, d1 < d2, d2 < d1)
    return right.numpy(), (v1 != v2).numpy()


def vote_accuracy(
    emb_anchor,
    emb_1,
    emb_2,
    song1_vote,
    song2_vote,
    dims: slice | Sequence[int] | None = None,
    distance: str = "euclidean",
) -> float:
    """Dim-Sim agreement: fraction of the scored triplets (:func:`vote_correct`) whose more-voted song is
    strictly closer to the anchor; NaN when no triplet has differing votes."""
    right, scored = vote_correct(emb_anchor, emb_1, emb_2, song1_vote, song2_vote, dims, distance)
    return float(right[scored].mean()) if scored.any() else float("nan")
