"""Nearest neighbours against a naive per-query loop on integer embeddings with many exact ties."""

import numpy as np
import pytest
import torch

from mirbench.metrics.retrieval import as_tensor, nearest_neighbours, ranking_distances


def naive_neighbours(x: np.ndarray, k: int, distance: str) -> np.ndarray:
    """Per query: every other item's exact distance, sorted by (distance, index)."""
    out = []
    for i in range(len(x)):
        if distance == "euclidean":
            d = [int(((x[i] - x[j]) ** 2).sum()) for j in range(len(x))]
        else:  # dot
            d = [-int(x[i] @ x[j]) for j in range(len(x))]
        out.append(sorted((d[j], j) for j in range(len(x)) if j != i)[:k])
    return np.array([[j for _, j in row] for row in out])


@pytest.mark.parametrize("distance", ["euclidean", "dot"])
def test_ties_go_to_the_lower_index_query_excluded(distance):
    rng = np.random.default_rng(3)
    x = rng.integers(-1, 2, size=(300, 4)).astype(np.float32)  # 81 distinct points: many exact ties
    ref = naive_neighbours(x.astype(np.int64), 8, distance)
    for chunk, block in [(1024, 1024), (37, 64), (128, 32)]:
        got = nearest_neighbours(x, 8, distance, chunk_size=chunk, gallery_block=block).numpy()
        np.testing.assert_array_equal(got, ref)


def test_read_only_array_no_warning():
    x = np.ones((3, 2), np.float32)
    x.flags.writeable = False
    with __import__("warnings").catch_warnings():
        __import__("warnings").simplefilter("error")
        assert torch.equal(as_tensor(x), torch.ones(3, 2))


def test_ranking_distances_is_squared_l2():
    x = torch.randn(5, 3, dtype=torch.float64)
    # tol: float64 |x|^2 + |y|^2 - 2 x.y vs cdist's differences: a few eps x |x|^2, inside assert_close's float64
    # default (rtol 1e-7, atol 1e-7; the diagonal's ~1e-16 falls in atol)
    torch.testing.assert_close(ranking_distances(x, x, "euclidean"), torch.cdist(x, x) ** 2)
