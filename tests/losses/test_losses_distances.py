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
    # tol: float64: two formulas of one distance differ by a few eps x |terms| (~1e-15), inside assert_close's float64
    # default (rtol 1e-7)
    torch.testing.assert_close(pairwise_distance(x, y, "euclidean"), torch.cdist(x, y))
    torch.testing.assert_close(pairwise_distance(x, y, "squared_euclidean"), torch.cdist(x, y) ** 2)
    cos = F.normalize(x, dim=1) @ F.normalize(y, dim=1).T
    torch.testing.assert_close(pairwise_distance(x, y, "cosine"), 1 - cos)


def test_paired_matches_pairwise_diagonal(xy):
    x, _ = xy
    y = torch.randn_like(x)
    for kind in ("euclidean", "squared_euclidean", "cosine"):
        # tol: float64, as above
        torch.testing.assert_close(paired_distance(x, y, kind), pairwise_distance(x, y, kind).diagonal())


def test_zero_distance_has_finite_gradient():
    x = torch.randn(3, 4, requires_grad=True)
    pairwise_distance(x, x, "euclidean").sum().backward()
    assert torch.isfinite(x.grad).all()
    # tol: |x|^2 + |x|^2 - 2 x.x in float32, the two sums in different orders (elementwise vs a GEMM kernel): each
    # within about d u |x|^2 of exact, so the squared distance within 4 d u |x|^2 and the distance its square root
    bound = (4 * x.shape[1] * 2.0 ** -24 * (x * x).sum(-1)).sqrt()
    assert (pairwise_distance(x, x, "euclidean").diagonal() <= bound).all()


def test_unknown_kind():
    with pytest.raises(ValueError, match="distance kind"):
        pairwise_distance(torch.zeros(1, 2), torch.zeros(1, 2), "manhattan")
