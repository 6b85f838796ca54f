"""Item-kNN recommendation protocol and nDCG@k."""

import numpy as np
import pytest
from scipy import sparse as sp
from sklearn.metrics import ndcg_score

from mirbench.evaluation.itemknn import itemknn_ndcg, keep_top_k, score_users, split_users, topk_cosine
from mirbench.metrics.ndcg import ndcg_at_k


def test_ndcg_matches_sklearn_on_small_cases():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(30, 25))
    rel = (rng.random((30, 25)) < 0.15).astype(int)
    rel[0] = 0
    for k in (1, 3, 10, 25, 500):
        ours = ndcg_at_k(scores, sp.csr_matrix(rel), k)
        assert np.isnan(ours[0])
        ref = [ndcg_score(rel[i : i + 1], scores[i : i + 1], k=k) for i in range(1, 30) if rel[i].sum()]
        # tol: float64 DCG sums of <= 30 terms vs sklearn's: ~n eps ~ 1e-14
        np.testing.assert_allclose(ours[1:][rel[1:].sum(1) > 0], ref, atol=1e-12)
    # hand case: relevant at ranks 2 and 4, two relevant items
    s = np.array([[4.0, 3.0, 2.0, 1.0]])
    r = np.array([[0, 1, 0, 1]])
    expect = (1 / np.log2(3) + 1 / np.log2(5)) / (1 + 1 / np.log2(3))
    # tol: approx's default rel 1e-6: float64, 2 terms
    assert ndcg_at_k(s, r, 4)[0] == pytest.approx(expect)
    # excluding seen items moves the relevant ones up
    assert ndcg_at_k(s, r, 4, exclude=np.array([[1, 0, 0, 0]]))[0] > expect


def _naive_ndcg(scores: np.ndarray, rel: np.ndarray, k: int) -> float:
    """One user, by a plain loop: rank by (score desc, item index asc), DCG over the top k."""
    ranked = sorted(range(len(scores)), key=lambda i: (-scores[i], i))[:k]
    dcg = sum(1.0 / np.log2(pos + 2) for pos, i in enumerate(ranked) if rel[i])
    ideal = sum(1.0 / np.log2(pos + 2) for pos in range(min(int(rel.sum()), k)))
    return dcg / ideal if ideal else float("nan")


def test_ndcg_breaks_ties_at_the_kth_score_by_lower_item_index():
    # items 0 and 1 tie with score 0 at rank 3: the documented rule keeps item 0 (relevant) -> DCG 1/log2(4)
    # tol: approx's default: float64, 1/log2(4) exactly up to a rounding
    assert ndcg_at_k(np.array([[0.0, 0.0, 2.0, 1.0]]), np.array([[1, 0, 0, 0]]), 3)[0] == pytest.approx(0.5)
    rng = np.random.default_rng(3)
    scores = rng.integers(0, 3, size=(60, 40)).astype(float)  # many ties, as item-kNN's exact zeros
    scores[rng.random(scores.shape) < 0.5] = 0.0
    rel = (rng.random((60, 40)) < 0.2).astype(int)
    for k in (1, 5, 17, 40, 60):
        ours = ndcg_at_k(scores, rel, k, chunk=7)
        ref = np.array([_naive_ndcg(scores[u], rel[u], k) for u in range(60)])
        # tol: float64 vs the naive loop, as above
        np.testing.assert_allclose(ours, ref, atol=1e-12, equal_nan=True)


def test_topk_cosine_matches_brute_force():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 6))
    sim = topk_cosine(x, 5, chunk=7)
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    full = xn @ xn.T
    np.fill_diagonal(full, 0.0)
    for i in (0, 13, 39):
        row = sim.getrow(i)
        assert row.nnz == 5
        # tol: float64 similarities kept unchanged (selection only): exact up to the sort
        np.testing.assert_allclose(np.sort(row.data), np.sort(full[i])[-5:], atol=1e-12)
    small = keep_top_k(sim, 2)
    assert np.diff(small.indptr).tolist() == [2] * 40
    # tol: as above
    np.testing.assert_allclose(np.sort(small.getrow(3).data), np.sort(full[3])[-2:], atol=1e-12)


def test_split_hides_thirty_percent_of_heldout_users_items():
    rng = np.random.default_rng(2)
    inter = sp.random(100, 60, density=0.2, format="csr", random_state=3)
    inter.data[:] = 1.0
    split = split_users(inter, rng)
    assert split.valid_history.shape == (10, 60) and split.test_history.shape == (10, 60)
    n = np.diff(split.valid_history.indptr) + np.diff(split.valid_hidden.indptr)
    kept = np.diff(split.valid_history.indptr)
    assert np.array_equal(kept, np.maximum((0.7 * n).astype(int), 1))
    assert (split.valid_history.multiply(split.valid_hidden)).nnz == 0


def _clustered_corpus(seed=0, n_items=120, n_users=200, n_groups=6):
    rng = np.random.default_rng(seed)
    group = rng.integers(0, n_groups, n_items)
    rows, cols = [], []
    for u in range(n_users):
        g = rng.integers(0, n_groups)
        items = rng.choice(np.flatnonzero(group == g), size=8, replace=False)
        rows += [u] * 8
        cols += items.tolist()
    inter = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_users, n_items))
    good = np.eye(n_groups)[group] + 0.05 * rng.normal(size=(n_items, n_groups))
    return inter, good, rng.normal(size=(n_items, n_groups))


def test_protocol_rewards_informative_features():
    inter, good, noise = _clustered_corpus()
    res_good = itemknn_ndcg(good, inter, k_range=(4, 8, 16), top_k=20, n_splits=2)
    res_noise = itemknn_ndcg(noise, inter, k_range=(4, 8, 16), top_k=20, n_splits=2)
    assert res_good.ndcg > 0.4 > 0.25 > res_noise.ndcg
    assert len(res_good.per_split) == 2 and all(k in (4, 8, 16) for k in res_good.best_k)
    masked = itemknn_ndcg(good, inter, k_range=(4, 8, 16), top_k=20, n_splits=2, mask_seen=True)
    assert masked.ndcg > res_good.ndcg  # seen items no longer crowd the top of the ranking


def test_score_users_is_history_times_similarity():
    sim = sp.csr_matrix(np.array([[0, 0.9, 0.1], [0.9, 0, 0.2], [0.1, 0.2, 0]]))
    hist = sp.csr_matrix(np.array([[1.0, 1.0, 0]]))
    hidden = sp.csr_matrix(np.array([[0, 0, 1.0]]))
    # scores = sim[0] + sim[1] = [0.9, 0.9, 0.3]: the two seen items outrank the hidden one
    # tol: approx's default: float64 DCG of one item, a rounding (and the next line)
    assert score_users(hist, hidden, sim, top_k=3) == pytest.approx(1 / np.log2(4))
    assert score_users(hist, hidden, sim, top_k=3, mask_seen=True) == pytest.approx(1.0)
