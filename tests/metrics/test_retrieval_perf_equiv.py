"""The gallery-blocked neighbour search and paired ranks give exactly what the one-product-per-chunk code gave."""

import numpy as np
import pytest
import torch

from mirbench.metrics.paired_retrieval import paired_ranks
from mirbench.metrics.retrieval import nearest_neighbours, prepare_gallery, recall_at_k, row_scores


def old_topk_ordered(d: torch.Tensor, k: int) -> torch.Tensor:
    """The previous selection, on a full row: top-k, ties at the k-th value redone by a stable sort."""
    kk = min(k + 1, d.shape[1])
    vals, idx = torch.topk(d, kk, dim=1, largest=False, sorted=True)
    ambiguous = vals[:, k] == vals[:, k - 1] if kk > k else torch.zeros(len(d), dtype=torch.bool)
    vals, idx = vals[:, :k], idx[:, :k]
    by_idx = idx.argsort(dim=1)
    idx, vals = idx.gather(1, by_idx), vals.gather(1, by_idx)
    idx = idx.gather(1, vals.argsort(dim=1, stable=True))
    if ambiguous.any():
        idx[ambiguous] = torch.sort(d[ambiguous], dim=1, stable=True).indices[:, :k]
    return idx


def old_nearest_neighbours(x, k, distance="euclidean", chunk_size=1024, exclude_self=True) -> torch.Tensor:
    """The previous search: one ``chunk x N`` product per query chunk, then a top-k of the full rows."""
    emb = prepare_gallery(torch.as_tensor(x), distance)
    n = emb.shape[0]
    k = min(int(k), n - int(exclude_self))
    g_sq = emb.pow(2).sum(1) if distance == "euclidean" else None
    out = []
    for s in range(0, n, chunk_size):
        e = min(s + chunk_size, n)
        d = row_scores(emb[s:e], emb, distance, g_sq)
        if exclude_self:
            rows = torch.arange(e - s)
            d[rows, rows + s] = float("inf")
        out.append(old_topk_ordered(d, k))
    return torch.cat(out)


def old_paired_ranks(q, g, distance="cosine", chunk_size=1024, ties="pessimistic") -> torch.Tensor:
    q, g = prepare_gallery(torch.as_tensor(q), distance), prepare_gallery(torch.as_tensor(g), distance)
    g_sq = g.pow(2).sum(1) if distance == "euclidean" else None
    out = []
    for s in range(0, len(q), chunk_size):
        e = min(s + chunk_size, len(q))
        d = row_scores(q[s:e], g, distance, g_sq)
        rows = torch.arange(e - s)
        own = d[rows, rows + s][:, None]
        out.append((d <= own).sum(1) if ties == "pessimistic" else (d < own).sum(1) + 1)
    return torch.cat(out).long()


def _clustered(n=700, d=16, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(12, d))
    return (centres[rng.integers(0, 12, n)] + 0.3 * rng.normal(size=(n, d))).astype(dtype)


def _same_up_to_rounding(got, ref, x, distance):
    """Equal lists, except where two neighbours swap whose distances agree to float32 rounding (a BLAS may
    round a product of another width differently in the last bit)."""
    if torch.equal(got, ref):
        return True
    e = prepare_gallery(torch.as_tensor(x).double(), distance)
    rows = (got != ref).any(1).nonzero().squeeze(1)
    def dist(nn):
        q, g = e[rows, None, :], e[nn[rows]]
        return ((q - g) ** 2).sum(-1) if distance == "euclidean" else -(q * g).sum(-1)

    d_got, d_ref = dist(got), dist(ref)
    # tol: derived, was 1e-5 (1 + |d|), under the worst case below: |q|^2 + |g|^2 - 2 q.g (or -q.g of unit vectors)
    # in x's dtype is within 2 (d + 1) u (|q|^2 + |g|^2) of exact, so two neighbours can swap only when their exact
    # distances differ by under the sum of two such errors (float32, d = 16: ~1.5e-4, against gaps of ~0.1 for a wrong
    # neighbour)
    u = np.finfo(np.asarray(x).dtype).eps / 2
    sq = (e**2).sum(-1)
    bound = 2 * (e.shape[1] + 2) * u * (2 * sq[rows, None] + sq[got[rows]] + sq[ref[rows]])
    return bool(((d_got - d_ref).abs() <= bound).all())


@pytest.mark.parametrize("distance", ["euclidean", "cosine", "dot"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_blocked_search_equals_full_rows(distance, dtype):
    x = _clustered(dtype=dtype)
    for k in (1, 8, 40):
        ref = old_nearest_neighbours(x, k, distance, chunk_size=128)
        assert torch.equal(nearest_neighbours(x, k, distance, chunk_size=128), ref)  # one block: the same product
        for chunk, block in ((128, 64), (100, 50), (1024, 333), (37, 200), (128, 128), (256, 256), (300, 672)):
            got = nearest_neighbours(x, k, distance, chunk_size=chunk, gallery_block=block)
            assert _same_up_to_rounding(got, ref, x, distance), (k, chunk, block)


def test_blocked_search_with_ties_and_duplicates():
    rng = np.random.default_rng(5)
    x = rng.integers(0, 3, size=(400, 3)).astype(np.float32)  # exact distances, many ties, duplicates
    for exclude_self in (True, False):
        for k in (1, 5, 30):
            ref = old_nearest_neighbours(x, k, chunk_size=64, exclude_self=exclude_self)
            for block in (1, 4, 50, 64, 128, 160, 1000):
                got = nearest_neighbours(x, k, chunk_size=64, exclude_self=exclude_self, gallery_block=block)
                assert torch.equal(got, ref), (exclude_self, k, block)


def test_every_merge_path_against_a_stable_sort():
    """Blocks of 16-column groups: the group-minimum start, the sparse merges and the top-k fallbacks."""
    rng = np.random.default_rng(7)
    for x in (rng.normal(size=(1500, 8)).astype(np.float32), rng.integers(0, 4, size=(1500, 2)).astype(np.float32)):
        d = ((x[:, None, :].astype(np.float64) - x[None]) ** 2).sum(-1)  # exact for the integer points
        np.fill_diagonal(d, np.inf)
        for k in (1, 3, 8, 16):
            want = old_nearest_neighbours(x, k, chunk_size=256)
            for block in (64, 128, 256):
                got = nearest_neighbours(x, k, chunk_size=256, gallery_block=block)
                assert _same_up_to_rounding(got, want, x, "euclidean"), (k, block)
            if x.dtype == np.float32 and (x == x.round()).all():
                np.testing.assert_array_equal(want.numpy(), np.argsort(d, axis=1, kind="stable")[:, :k])


def test_recall_unchanged_by_blocks():
    x = _clustered(n=900, seed=3)
    tags = (np.random.default_rng(4).random((900, 20)) < 0.1).astype(np.float32)
    ref = recall_at_k(x, tags, (1, 2, 4, 8), gallery_block=10**9)
    for block in (16, 256):
        assert recall_at_k(x, tags, (1, 2, 4, 8), gallery_block=block) == ref


@pytest.mark.parametrize("distance", ["cosine", "euclidean", "dot"])
@pytest.mark.parametrize("ties", ["pessimistic", "optimistic"])
def test_blocked_paired_ranks_equal_full_rows(distance, ties):
    a = _clustered(n=600, seed=1)
    b = a + 0.5 * _clustered(n=600, seed=2)
    ref = old_paired_ranks(a, b, distance, 100, ties)
    assert torch.equal(paired_ranks(a, b, distance, 100, ties), ref)  # one block: the same product
    for chunk, block in ((100, 64), (64, 100), (33, 250)):
        got = paired_ranks(a, b, distance, chunk, ties, gallery_block=block)
        assert (got - ref).abs().max() <= 1  # a score one ulp off its full-row value can move a rank by one
        assert (got != ref).float().mean() < 0.01
    xi = np.random.default_rng(6).integers(-2, 3, size=(300, 4)).astype(np.float32)  # exact products, many ties
    for block in (1, 7, 64):
        assert torch.equal(paired_ranks(xi, xi[::-1].copy(), "dot", 50, ties, gallery_block=block),
                           old_paired_ranks(xi, xi[::-1].copy(), "dot", 50, ties))
    same = np.ones((50, 4), np.float32)  # all tied with the paired item
    assert torch.equal(paired_ranks(same, same, distance, 16, ties, gallery_block=7),
                       old_paired_ranks(same, same, distance, 16, ties))
