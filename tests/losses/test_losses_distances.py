"""pairwise/paired distances against torch.cdist and direct formulas."""

import pytest
import torch
import torch.nn.functional as F

from mirbench.losses.distances import paired_distance, pairwise_distance


@pytest.fixture
def xy():
    g = torch.Generator().manual_seed(0)
    return torch.randn(7, 5, generator=g, dtype=torch.float64), torch.randn(4, 5, generator=g, dtype=torch.float64)


def test_pairwise_kinds(xy):
    x, y = xy
    torch.testing.assert_close(pairwise_distance(x, y, "euclidean"), torch.cdist(x, y))
    torch.testing.assert_close(pairwise_distance(x, y, "squared_euclidean"), torch.cdist(x, y) ** 2)
    cos = F.normalize(x, dim=1) @ F.normalize(y, dim=1).T
    torch.testing.assert_close(pairwise_distance(x, y, "cosine"), 1 - cos)


def test_paired_matches_pairwise_diagonal(xy):
    x, _ = xy
    y = torch.randn_like(x)
    for kind in ("euclidean", "squared_euclidean", "cosine"):
        torch.testing.assert_close(paired_distance(x, y, kind), pairwise_distance(x, y, kind).diagonal())


def test_zero_distance_has_finite_gradient():
    x = torch.randn(3, 4, requires_grad=True)
    pairwise_distance(x, x, "euclidean").sum().backward()
    assert torch.isfinite(x.grad).all()
    assert pairwise_distance(x, x, "euclidean").diagonal().abs().max() < 1e-3


def test_unknown_kind():
    with pytest.raises(ValueError, match="distance kind"):
        pairwise_distance(torch.zeros(1, 2), torch.zeros(1, 2), "manhattan")
