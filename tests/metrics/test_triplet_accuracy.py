"""Category triplet sampling, triplet accuracy (complete space / sub-space) and Dim-Sim vote agreement."""

import numpy as np
import pytest
import torch

from mirbench.metrics.triplet_accuracy import sample_category_triplets, triplet_accuracy, vote_accuracy

CATS = ["genre"] * 4 + ["mood"] * 3


def _tags(n=300, seed=0):
    rng = np.random.default_rng(seed)
    t = (rng.random((n, 7)) < 0.25).astype(np.float32)
    t[:20, :4] = 0  # items without any genre tag
    return t


@pytest.mark.parametrize("negative_tagged,max_rounds", [(False, 64), (True, 64), (False, 0)])
def test_sampled_triplets_follow_the_rule(negative_tagged, max_rounds):
    tags = _tags()
    a, p, n = sample_category_triplets(tags, CATS, "genre", 3000, np.random.default_rng(0), negative_tagged, max_rounds)
    g = tags[:, :4] > 0
    assert len(a) == len(p) == len(n) == 3000
    assert (a != p).all() and (a != n).all()
    assert g[a].any(1).all(), "anchors must carry a tag of the category"
    assert (g[a] & g[p]).any(1).all(), "positives share a genre tag with the anchor"
    assert not (g[a] & g[n]).any(1).any(), "negatives share none of the anchor's genre tags"
    if negative_tagged:
        assert g[n].any(1).all()
    else:
        assert (~g[n].any(1)).any(), "untagged items may be negatives"
    # deterministic given the generator, different for another seed
    again = sample_category_triplets(tags, CATS, "genre", 3000, np.random.default_rng(0), negative_tagged, max_rounds)
    assert all(np.array_equal(u, v) for u, v in zip((a, p, n), again))
    assert not np.array_equal(a, sample_category_triplets(tags, CATS, "genre", 3000, 1, negative_tagged)[0])


@pytest.mark.parametrize("max_rounds", [64, 0])
def test_positive_and_negative_are_uniform_given_anchor(max_rounds):
    # anchor 0 carries genre tags 0 and 1; its positives 1..6 carry one or both (a union, not a sum);
    # its negatives 7..11 carry tag 2 or no genre tag
    tags = np.zeros((12, 7), np.float32)
    tags[[0, 1, 2], 0] = 1
    tags[[0, 2, 3, 4, 5, 6], 1] = 1
    tags[[7, 8, 9], 2] = 1
    a, p, n = sample_category_triplets(tags, CATS, "genre", 60000, 0, max_rounds=max_rounds)
    pos = np.bincount(p[a == 0], minlength=12)
    neg = np.bincount(n[a == 0], minlength=12)
    assert set(np.flatnonzero(pos)) == set(range(1, 7)) and set(np.flatnonzero(neg)) == set(range(7, 12))
    assert pos[1:7].min() > 0.85 * pos[1:7].mean()
    assert neg[7:12].min() > 0.85 * neg[7:12].mean()


def test_no_valid_anchor_and_unknown_category():
    tags = np.zeros((5, 7), np.float32)
    tags[:, 0] = 1  # every item shares the only genre tag: no negative exists
    a, p, n = sample_category_triplets(tags, CATS, "genre", 10, 0)
    assert len(a) == 0
    assert np.isnan(triplet_accuracy(np.zeros((5, 2)), a, p, n))
    with pytest.raises(ValueError):
        sample_category_triplets(tags, CATS, "tempo", 10, 0)


def test_triplet_accuracy_loop_subspace_and_ties():
    rng = np.random.default_rng(1)
    emb = rng.normal(size=(50, 6))
    a, p, n = (rng.integers(0, 50, 400) for _ in range(3))
    for dims, dist in ((None, "euclidean"), (slice(2, 4), "euclidean"), (slice(0, 3), "cosine")):
        e = emb[:, dims] if dims is not None else emb
        if dist == "cosine":
            e = e / np.linalg.norm(e, axis=1, keepdims=True)
        ref = np.mean([np.linalg.norm(e[i] - e[j]) < np.linalg.norm(e[i] - e[k]) for i, j, k in zip(a, p, n)])
        # tol: approx's default: exact fractions of integer counts (float64 distances; a near tie within eps that
        # another order could flip is unlikely at 1e-13 per triplet)
        assert triplet_accuracy(torch.from_numpy(emb), a, p, n, dims, dist) == pytest.approx(ref)
    # a collapsed embedding: every distance ties, every triplet is wrong
    assert triplet_accuracy(np.ones((50, 6)), a, p, n) == 0.0


def test_vote_accuracy():
    anchor = np.array([[0.0, 0], [0, 0], [0, 0], [0, 0]])
    s1 = np.array([[1.0, 0], [1, 0], [3, 0], [1, 0]])
    s2 = np.array([[2.0, 0], [2, 0], [2, 0], [1, 0]])
    # triplet 0: song1 closer and voted; 1: song2 voted but farther; 2: song2 voted and closer;
    # 3: equal distances (wrong); 4th vote pair tied -> left out
    v1, v2 = np.array([1, 0, 2, 1]), np.array([0, 1, 5, 0])
    # tol: approx's default: exact fractions of counts (these two lines and the loop below)
    assert vote_accuracy(anchor, s1, s2, v1, v2) == pytest.approx(2 / 4)
    assert vote_accuracy(anchor, s1, s2, np.array([1, 0, 2, 3]), np.array([0, 1, 5, 3])) == pytest.approx(2 / 3)
    # naive loop on the clean (0/1 votes) format, both distances
    rng = np.random.default_rng(3)
    e = [rng.normal(size=(100, 4)) for _ in range(3)]
    target = rng.integers(0, 2, 100)
    for dist in ("euclidean", "cosine"):
        x = [v / np.linalg.norm(v, axis=1, keepdims=True) for v in e] if dist == "cosine" else e
        d1, d2 = (np.linalg.norm(x[0] - x[j], axis=1) for j in (1, 2))
        ref = np.mean([(d1[i] < d2[i]) if target[i] == 0 else (d2[i] < d1[i]) for i in range(100)])
        assert vote_accuracy(*e, 1 - target, target, distance=dist) == pytest.approx(ref)
