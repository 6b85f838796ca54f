"""Paired cross-modal retrieval ranks, MRR, R@k and mean rank vs naive loops and torchmetrics."""

import numpy as np
import pytest
import torch
from torchmetrics.retrieval import RetrievalHitRate, RetrievalMRR

from mirbench.metrics.paired_retrieval import paired_ranks, paired_retrieval, rank_metrics


def _pairs(n=120, d=8, noise=1.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(n, d, generator=g)
    return a, a + noise * torch.randn(n, d, generator=g)


@pytest.mark.parametrize("distance", ["cosine", "euclidean", "dot"])
def test_ranks_match_loop(distance):
    a, b = _pairs()
    x, y = a.double().numpy(), b.double().numpy()
    if distance == "cosine":
        x, y = x / np.linalg.norm(x, axis=1, keepdims=True), y / np.linalg.norm(y, axis=1, keepdims=True)
    ref = []
    for i in range(len(x)):
        d = ((y - x[i]) ** 2).sum(1) if distance == "euclidean" else -(y @ x[i])
        ref.append(1 + sum(d[j] < d[i] for j in range(len(y)) if j != i))
    np.testing.assert_array_equal(paired_ranks(a, b, distance, chunk_size=17).numpy(), ref)


def test_metrics_match_loops_and_torchmetrics():
    a, b = _pairs()
    ranks = paired_ranks(a, b, "cosine")
    m = rank_metrics(ranks, (1, 5, 10))
    r = ranks.numpy()
    # tol: approx's default rel 1e-6 (and the next two lines): float64 means of 120 integer ranks, a few eps
    assert m["mrr"] == pytest.approx(sum(1 / v for v in r) / len(r))
    assert m["mean_rank"] == pytest.approx(sum(r) / len(r))
    assert m["median_rank"] == pytest.approx(np.median(r))
    # torchmetrics: every query scores all gallery items, target = the paired one
    n = len(a)
    sim = torch.nn.functional.normalize(a, dim=1) @ torch.nn.functional.normalize(b, dim=1).T
    target = torch.eye(n, dtype=torch.bool)
    idx = torch.arange(n)[:, None].expand(n, n)
    # tol: torchmetrics averages 120 float32 reciprocal ranks: within n u = 120 x 6e-8 = 7e-6 of exact (was 1e-6,
    # under that worst case); a formula error (1/r vs 1/(r + 1)) is O(0.1);
    # the ranks themselves are checked exactly above
    assert m["mrr"] == pytest.approx(float(RetrievalMRR()(sim.flatten(), target.flatten(), indexes=idx.flatten())), abs=1e-5)
    # tol: torchmetrics' float32 hit rate: an integer count divided once, within u (6e-8)
    for k in (1, 5, 10):
        hr = RetrievalHitRate(top_k=k)(sim.flatten(), target.flatten(), indexes=idx.flatten())
        assert m[f"recall_at_{k}"] == pytest.approx(float(hr), abs=1e-6)


def test_both_directions_and_ties():
    a, b = _pairs(n=60, noise=0.3)
    out = paired_retrieval(a, b, ks=(1, 5), names=("music", "video"))
    assert set(out) == {f"{d}_{m}" for d in ("music_to_video", "video_to_music")
                        for m in ("mrr", "mean_rank", "median_rank", "recall_at_1", "recall_at_5")}
    # tol: approx's default: the same float64 computation twice (exact), and the next line
    assert out["music_to_video_mrr"] == pytest.approx(rank_metrics(paired_ranks(a, b))["mrr"])
    assert out["video_to_music_mrr"] == pytest.approx(rank_metrics(paired_ranks(b, a))["mrr"])
    assert out["music_to_video_recall_at_1"] > 0.5
    # a collapsed embedding: pessimistic ties put the paired item last, optimistic first
    same = torch.ones(10, 4)
    assert paired_ranks(same, same).tolist() == [10] * 10
    assert paired_ranks(same, same, ties="optimistic").tolist() == [1] * 10
    with pytest.raises(ValueError):
        paired_ranks(a, b[:5])
