"""The LMNN objective and its closed-form gradient against a naive triple loop on a tiny problem."""

import itertools

import pytest
import torch

from mirbench.losses.lmnn import lmnn_candidates, lmnn_loss, lmnn_loss_and_grad, lmnn_target_neighbors


def naive(x, L, y, k, margin, reg):
    """Loss and gradient (d/dL of ||L u||^2 = 2 L u u^T) by looping over every pair and triplet."""
    n = x.shape[0]
    loss, grad, active = 0.0, torch.zeros_like(L), 0
    d = lambda a, b: float(((L @ (x[a] - x[b])) ** 2).sum())  # noqa: E731
    dd = lambda a, b: 2.0 * L @ torch.outer(x[a] - x[b], x[a] - x[b])  # noqa: E731
    for i in range(n):
        same = sorted((float(((x[i] - x[j]) ** 2).sum()), j) for j in range(n) if j != i and y[j] == y[i])
        for _, j in same[:k]:
            loss += reg * d(i, j)
            grad += reg * dd(i, j)
            for l in range(n):
                if y[l] != y[i] and margin + d(i, j) - d(i, l) > 0:
                    active += 1
                    loss += (1 - reg) * (margin + d(i, j) - d(i, l))
                    grad += (1 - reg) * (dd(i, j) - dd(i, l))
    return loss, grad, active


@pytest.fixture
def tiny():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(14, 3, generator=g, dtype=torch.float64)
    y = torch.tensor([0] * 5 + [1] * 5 + [2] * 4)
    L = torch.eye(3, dtype=torch.float64) + 0.3 * torch.randn(3, 3, generator=g, dtype=torch.float64)
    return x, y, L


@pytest.mark.parametrize("reg", [0.5, 0.2])
def test_loss_and_grad_match_naive_loop(tiny, reg):
    x, y, L = tiny
    targets = lmnn_target_neighbors(x, y, 2)
    loss, grad, active = lmnn_loss_and_grad(x, L, y, targets, margin=1.0, regularization=reg)
    ref_loss, ref_grad, ref_active = naive(x, L, y, 2, 1.0, reg)
    assert active == ref_active > 0
    # tol: float64 on a tiny problem: sums of < 100 terms err by ~n eps (1e-14) relative; 1e-10 leaves 1e4x room for any
    # kernel; the gradients by assert_close's float64 default (1e-7)
    assert loss == pytest.approx(ref_loss, rel=1e-10)
    torch.testing.assert_close(grad, ref_grad)
    # a reduced output dimension (L not square) and chunked anchors give the same
    L2 = L[:2]
    out = lmnn_loss_and_grad(x, L2, y, targets, 1.0, reg, chunk_size=3)
    ref = naive(x, L2, y, 2, 1.0, reg)
    # tol: float64, as above
    assert out[0] == pytest.approx(ref[0], rel=1e-10) and out[2] == ref[2]
    torch.testing.assert_close(out[1], ref[1])


def test_dense_loss_autograd_matches_closed_form(tiny):
    x, y, L = tiny
    targets = lmnn_target_neighbors(x, y, 3)
    L_req = L.clone().requires_grad_(True)
    dense = lmnn_loss(x @ L_req.T, y, targets, 1.0, 0.5)
    dense.backward()
    loss, grad, _ = lmnn_loss_and_grad(x, L, y, targets, 1.0, 0.5)
    # tol: float64, as above
    assert float(dense.detach()) == pytest.approx(loss, rel=1e-10)
    torch.testing.assert_close(L_req.grad, grad)


def test_target_neighbors_brute_force(tiny):
    x, y, _ = tiny
    t = lmnn_target_neighbors(x, y, 3)
    for i in range(len(x)):
        same = [j for j in range(len(x)) if j != i and y[j] == y[i]]
        expect = sorted(same, key=lambda j: (float(((x[i] - x[j]) ** 2).sum()), j))[:3]
        assert t[i].tolist() == expect
    with pytest.raises(ValueError, match="more than k"):
        lmnn_target_neighbors(x, y, 4)


def test_candidates_cover_every_pair_within_radius():
    g = torch.Generator().manual_seed(1)
    z = 100 * torch.randn(40, 4, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (40,), generator=g)
    radius = torch.rand(40, generator=g, dtype=torch.float64) * 4e4
    got = set(zip(*(t.tolist() for t in lmnn_candidates(z, y, radius, chunk_size=7))))
    d = torch.cdist(z, z) ** 2
    want = {(i, l) for i, l in itertools.product(range(40), repeat=2) if y[i] != y[l] and d[i, l] < radius[i]}
    assert want <= got
    assert all(y[i] != y[l] for i, l in got)
    assert len(got - want) <= 0.05 * len(want) + 2  # only the rounding slack
