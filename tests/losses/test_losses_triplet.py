"""TripletMarginLoss against torch.nn.TripletMarginLoss, pytorch-metric-learning and a naive loop."""

import pytest
import torch
import torch.nn.functional as F
from pytorch_metric_learning import distances as pml_distances
from pytorch_metric_learning import losses as pml_losses
from pytorch_metric_learning import reducers as pml_reducers

from mirbench.losses.triplet import TripletMarginLoss


@pytest.fixture
def apn():
    g = torch.Generator().manual_seed(1)
    return tuple(torch.randn(16, 8, generator=g, dtype=torch.float64) for _ in range(3))


def test_matches_torch_unnormalised(apn):
    a, p, n = apn
    ours = TripletMarginLoss(margin=1.0, distance="euclidean", normalize=False)(a, p, n)
    ref = torch.nn.TripletMarginLoss(margin=1.0, p=2.0, eps=0.0)(a, p, n)
    # tol: assert_close's dtype defaults here and below (float64 1e-7, float32 1.3e-6): the same formula in another
    # order
    torch.testing.assert_close(ours, ref)


@pytest.mark.parametrize("distance,power", [("euclidean", 1), ("squared_euclidean", 2)])
def test_matches_pml_normalised(apn, distance, power):
    a, p, n = apn
    emb = torch.cat([a, p, n])
    idx = torch.arange(16)
    triplets = (idx, idx + 16, idx + 32)
    lp = pml_distances.LpDistance(power=power, normalize_embeddings=True)
    pml = pml_losses.TripletMarginLoss(margin=0.2, distance=lp, reducer=pml_reducers.MeanReducer())
    ref = pml(emb, torch.zeros(48, dtype=torch.long), indices_tuple=triplets)
    ours = TripletMarginLoss(margin=0.2, distance=distance, normalize=True)(a, p, n)
    # tol: float32 vs pml's float32 normalise-then-distance: a mean of 16 hinge terms, each a few u of an O(1) distance:
    # ~16 x 4 u ~ 4e-6
    torch.testing.assert_close(ours, ref.to(ours.dtype), rtol=1e-5, atol=1e-6)


def test_naive_loop_with_mask(apn):
    a, p, n = apn
    mask = (torch.arange(8) < 4).double()
    loss = TripletMarginLoss(margin=0.3, distance="squared_euclidean", normalize=True)
    total = 0.0
    for i in range(16):
        ai, pi, ni = (F.normalize(t[i], dim=0) * mask for t in (a, p, n))
        total += max(0.0, float(((ai - pi) ** 2).sum() - ((ai - ni) ** 2).sum()) + 0.3)
    torch.testing.assert_close(loss(a, p, n, mask=mask), torch.tensor(total / 16, dtype=torch.float64))
    per_item = mask.expand(16, 8)
    torch.testing.assert_close(loss(a, p, n, mask=per_item), loss(a, p, n, mask=mask))


def test_forward_indices_equals_gathered_forward():
    g = torch.Generator().manual_seed(2)
    e = torch.randn(10, 6, generator=g, dtype=torch.float64, requires_grad=True)
    a, p, n = (torch.randint(0, 10, (25,), generator=g) for _ in range(3))
    for distance in ("euclidean", "squared_euclidean", "cosine"):
        loss = TripletMarginLoss(margin=0.5, distance=distance, normalize=True)
        torch.testing.assert_close(loss.forward_indices(e, a, p, n), loss(e[a], e[p], e[n]))


def test_no_triplets_gives_zero_with_graph():
    e = torch.randn(4, 3, requires_grad=True)
    empty = torch.zeros(0, dtype=torch.long)
    out = TripletMarginLoss().forward_indices(e, empty, empty, empty)
    out.backward()
    assert out.item() == 0.0 and e.grad is not None
