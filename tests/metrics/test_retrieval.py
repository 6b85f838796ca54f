"""DML Recall@K vs a brute-force loop, scikit-learn NearestNeighbors and pytorch-metric-learning."""

import numpy as np
import pytest
import torch
from sklearn.neighbors import NearestNeighbors

from mirbench.metrics.retrieval import nearest_neighbours, recall_at_k

CATS = ["genre"] * 4 + ["mood"] * 3 + ["era"] * 3


def _data(n=300, d=8, t=10, p=0.2, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)).astype(np.float32), (rng.random((n, t)) < p).astype(np.float32)


def _relevant_row(rule, rel, i, cats=None, category=None):
    """Relevance of every item to query i (one query at a time, straight from the rule's wording)."""
    if rule == "labels":
        return rel == rel[i]
    t = rel > 0
    if rule == "share_in_category":
        t = t[:, [c == category for c in cats]]
        rule = "share_any"
    if rule == "share_any":
        return (t & t[i]).any(1)
    return (t == t[i]).all(1) & t[i].any()


def brute_recall(x, rel, ks, rule, distance="euclidean", empty="skip", **kw):
    """Python loop: full float64 distances, stable sort (ties to the lower index), query removed."""
    x = np.asarray(x, dtype=np.float64)
    if distance == "cosine":
        x = x / np.linalg.norm(x, axis=1, keepdims=True)
    n = len(x)
    hits, scored = np.zeros(len(ks)), 0
    for i in range(n):
        d = ((x - x[i]) ** 2).sum(1) if distance == "euclidean" else 1 - x @ x[i]
        order = np.array([j for j in np.argsort(d, kind="stable") if j != i])
        relv = _relevant_row(rule, rel, i, **kw)[order]
        if not relv.any():
            scored += empty == "miss"
            continue
        scored += 1
        for m, k in enumerate(ks):
            hits[m] += relv[:k].any()
    return {k: hits[m] / scored for m, k in enumerate(ks)}


@pytest.mark.parametrize("rule", ["share_any", "same_set", "share_in_category"])
@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_matches_brute_force(rule, distance):
    x, tags = _data(p=0.3 if rule != "same_set" else 0.15)
    kw = dict(cats=CATS, category="mood") if rule == "share_in_category" else {}
    ks = (1, 2, 4, 8)
    ours = recall_at_k(x, tags, ks, distance, chunk_size=37, rule=rule, tag_categories=CATS, category="mood")
    ref = brute_recall(x, tags, ks, rule, distance, **kw)
    for k in ks:
        # tol: float64 means of 0/1 hits over answerable queries: the same rationals summed in another order, a few eps;
        # one query moves R@K by >= 1/n
        assert ours[k] == pytest.approx(ref[k], abs=1e-12)


def test_integer_labels_and_empty_miss():
    x, _ = _data(n=200)
    labels = np.random.default_rng(1).integers(0, 40, size=200)
    labels[:3] = [1000, 1001, 1002]  # lone labels: unanswerable queries
    for empty in ("skip", "miss"):
        ours = recall_at_k(x, labels, (1, 3, 5), empty=empty, chunk_size=64)
        ref = brute_recall(x, labels, (1, 3, 5), "labels", empty=empty)
        # tol: as above
        assert ours == pytest.approx(ref, abs=1e-12)


def test_ties_are_deterministic_and_chunk_independent():
    # integer points: exact distances with many ties and duplicate points
    rng = np.random.default_rng(2)
    x = rng.integers(0, 3, size=(250, 3)).astype(np.float32)
    tags = (rng.random((250, 6)) < 0.25).astype(np.float32)
    ref = brute_recall(x, tags, (1, 2, 4, 8), "share_any")
    for chunk in (1, 16, 1024):
        # tol: as above
        assert recall_at_k(x, tags, chunk_size=chunk) == pytest.approx(ref, abs=1e-12)
    nn = nearest_neighbours(x, 8, chunk_size=16)
    d = ((x[:, None, :] - x[None]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    np.testing.assert_array_equal(nn.numpy(), np.argsort(d, axis=1, kind="stable")[:, :8])


def test_neighbours_match_sklearn():
    x, tags = _data(n=400, d=16)
    k = 8
    ours = nearest_neighbours(x, k, chunk_size=50).numpy()
    sk = NearestNeighbors(n_neighbors=k + 1, algorithm="brute").fit(x).kneighbors(x, return_distance=False)
    sk = np.array([[j for j in row if j != i][:k] for i, row in enumerate(sk)])
    np.testing.assert_array_equal(ours, sk)
    # R@K from sklearn's neighbour lists with the share-a-tag rule
    t = tags > 0
    hit = (t[:, None, :] & t[sk]).any(-1)
    answerable = (t & (t.sum(0) >= 2)).any(1)
    r = recall_at_k(x, tags, (1, 2, 4, 8))
    for kk in (1, 2, 4, 8):
        # tol: as above
        assert r[kk] == pytest.approx(hit[answerable, :kk].any(1).mean(), abs=1e-12)


def test_query_chunks_on_two_threads_give_the_one_thread_lists():
    x, _ = _data(n=400, d=16)
    x[200:210] = x[190:200]  # exact ties across chunk boundaries
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = nearest_neighbours(x, 8, chunk_size=48, gallery_block=64)
        torch.set_num_threads(2)  # the 9 query chunks on two threads (mirbench.threads)
        two = nearest_neighbours(x, 8, chunk_size=48, gallery_block=64)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    assert torch.equal(one, two)
    d = ((x[:, None, :].astype(np.float64) - x[None]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    assert (one.numpy()[:, 0] == np.argsort(d, axis=1, kind="stable")[:, 0]).mean() > 0.99


@pytest.mark.parametrize("multi_label", [True, False])
def test_r_at_1_matches_pml_precision_at_1(multi_label):
    from pytorch_metric_learning.distances import LpDistance
    from pytorch_metric_learning.utils.accuracy_calculator import AccuracyCalculator
    from pytorch_metric_learning.utils.inference import CustomKNN

    x, tags = _data(n=300, d=8, t=10, p=0.15, seed=3)
    knn = CustomKNN(LpDistance(normalize_embeddings=False))
    if multi_label:
        def share_any(a, b):
            return ((a > 0) & (b > 0)).any(-1)
        calc = AccuracyCalculator(include=("precision_at_1",), knn_func=knn, label_comparison_fn=share_any, device=torch.device("cpu"))
        labels = tags
    else:
        calc = AccuracyCalculator(include=("precision_at_1",), knn_func=knn, device=torch.device("cpu"))
        labels = tags.argmax(1)
    pml = calc.get_accuracy(torch.from_numpy(x), torch.from_numpy(labels))["precision_at_1"]
    # tol: pml's float32 precision@1: an integer count of hits divided once, within u (6e-8);
    # one query moves it by 1/300
    assert recall_at_k(x, labels, (1,))[1] == pytest.approx(pml, abs=1e-6)


def test_k_clipped_and_errors():
    x, tags = _data(n=5)
    tags[:] = 0
    tags[:, 0] = 1
    assert recall_at_k(x, tags, (1, 10)) == {1: 1.0, 10: 1.0}
    with pytest.raises(ValueError):
        recall_at_k(x, tags, rule="share_in_category")
    with pytest.raises(ValueError):
        recall_at_k(x, tags[:4])
    assert np.isnan(recall_at_k(x, np.zeros_like(tags))[1])
