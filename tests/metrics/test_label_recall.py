"""Lee et al.'s multi-label R@K (ISMIR 2020, Eq. 12) vs a naive loop written from the equation."""

import numpy as np
import pytest

from mirbench.metrics.retrieval import label_recall, label_recall_at_k, label_recall_chance, recall_at_k


def naive_eq12(x, tags, ks, distance="euclidean"):
    """R@K = 1/N sum_q |y_q & union of the top-K results' labels| / |y_q|, one query at a time in float64:
    stable sort of the distances (ties to the lower index), query removed, untagged queries left out."""
    x = np.asarray(x, dtype=np.float64)
    if distance == "cosine":
        x = x / np.linalg.norm(x, axis=1, keepdims=True)
    y = np.asarray(tags) > 0
    out, n_q = np.zeros(len(ks)), 0
    for q in range(len(x)):
        if not y[q].any():
            continue
        n_q += 1
        d = ((x - x[q]) ** 2).sum(1) if distance == "euclidean" else 1 - x @ x[q]
        order = [j for j in np.argsort(d, kind="stable") if j != q]
        for m, k in enumerate(ks):
            union = np.zeros(y.shape[1], dtype=bool)
            for j in order[:k]:
                union |= y[j]
            out[m] += (y[q] & union).sum() / y[q].sum()
    return {k: out[m] / n_q for m, k in enumerate(ks)}


def _data(n=240, d=6, t=12, p=0.25, seed=0, ties=True, integer=True):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype(np.float32)
    if ties:  # duplicate rows: equal distances, resolved by the lower index
        if integer:  # small integers: more ties, exact in float32 (sums of integers < 2^24) as in the float64 loop
            x = np.round(x * 2) + np.eye(d, dtype=np.float32)[0]  # no zero vector (cosine)
        x[n // 2 :] = x[: n - n // 2]
    tags = (rng.random((n, t)) < p).astype(np.float32)
    tags[::17] = 0  # untagged queries: no score
    return x, tags


@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
@pytest.mark.parametrize("ties", [True, False])
def test_eq12_matches_naive_loop(distance, ties):
    # cosine normalises: integer rows would give near-ties that float32 and float64 round apart, so duplicates only
    x, tags = _data(ties=ties, integer=distance == "euclidean")
    ks = (1, 2, 4, 8)
    ours = label_recall_at_k(x, tags, ks, distance, chunk_size=37, gallery_block=50)
    ref = naive_eq12(x, tags, ks, distance)
    for k in ks:
        # the same neighbour lists, then exact rational sums: only the float64 summation order differs
        assert ours[k] == pytest.approx(ref[k], abs=1e-12)


def test_eq12_per_query_values_and_bounds():
    x, tags = _data(n=120, ties=False)
    values, labelled = label_recall(x, tags, (1, 8))
    assert labelled.sum() == (tags.sum(1) > 0).sum()
    for k in (1, 8):
        v = values[k][labelled]
        assert ((v >= 0) & (v <= 1)).all()
    assert (values[8] >= values[1]).all()  # a larger union covers at least as much


def test_eq12_differs_from_hit_rate():
    """One shared tag makes a DML hit; Eq. 12 counts the share of the query's labels covered."""
    x = np.array([[0.0], [1.0], [5.0]], dtype=np.float32)
    tags = np.array([[1, 1, 0, 0], [1, 0, 0, 0], [0, 0, 1, 1]], dtype=np.float32)
    assert recall_at_k(x, tags, (1,))[1] == 1.0  # every query's nearest shares a tag, or has no relevant item
    eq12 = label_recall_at_k(x, tags, (1, 2))
    # query 0: nearest 1 covers 1 of 2 labels; query 1: nearest 0 covers 1 of 1; query 2: nearest 1 covers 0 of 2
    # tol: approx's default rel 1e-6 (and the next line): a float64 mean of 3 rationals, a few eps
    assert eq12[1] == pytest.approx((0.5 + 1.0 + 0.0) / 3)
    assert eq12[2] == pytest.approx((0.5 + 1.0 + 0.0) / 3)


def test_eq12_input_errors():
    x, tags = _data(n=20, ties=False)
    with pytest.raises(ValueError, match="multi-hot"):
        label_recall_at_k(x, tags[:, 0])
    with pytest.raises(ValueError, match="tag rows"):
        label_recall_at_k(x, tags[:5])
    assert np.isnan(label_recall_at_k(x, np.zeros_like(tags))[1])


def test_chance_level_equals_random_orders():
    """The closed form against Eq. 12 averaged over many random embeddings (uniformly random neighbour lists)."""
    rng = np.random.default_rng(3)
    tags = (rng.random((40, 7)) < 0.3).astype(np.float32)
    tags[0] = 0
    exact = label_recall_chance(tags, (1, 2, 4, 8))
    sims = [label_recall_at_k(rng.normal(size=(40, 3)), tags, (1, 2, 4, 8)) for _ in range(1500)]
    for k in (1, 2, 4, 8):
        mc = np.array([s[k] for s in sims])
        # Monte Carlo mean of 1,500 draws: 4 standard errors
        assert abs(mc.mean() - exact[k]) < 4 * mc.std() / np.sqrt(len(mc)), k
    # tol: approx's default: 1 - C(m - c, K) / C(m, K) with m - c < K is 1, up to float64 round-off of the ratio
    assert label_recall_chance(tags, (39,))[39] == pytest.approx(1.0)  # every other item: all tags covered
