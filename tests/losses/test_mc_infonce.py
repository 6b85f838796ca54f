"""MCInfoNCE and the InfoNCE baseline against naive per-sample python loops."""

import math

import pytest
import torch
import torch.nn.functional as F

from mirbench.losses.infonce import InfoNCELoss
from mirbench.losses.mc_infonce import MCInfoNCELoss, mc_infonce_from_draws


def _naive_mc_infonce(z, y, t):
    s, b, _ = z.shape

    def direction(q, g):
        total = 0.0
        for i in range(b):
            per_draw = []
            for k in range(s):
                pos = t * float(q[k, i] @ g[k, i])
                negs = [math.exp(t * float(q[k, i] @ g[k, j])) for j in range(b) if j != i]
                per_draw.append(pos - math.log(math.exp(pos) + sum(negs) / len(negs)))
            total += -math.log(sum(math.exp(v) for v in per_draw) / s)
        return total / b

    return 0.5 * (direction(z, y) + direction(y, z))


def test_mc_infonce_matches_a_naive_loop():
    g = torch.Generator().manual_seed(0)
    z = F.normalize(torch.randn(5, 6, 4, generator=g, dtype=torch.float64), dim=-1)
    y = F.normalize(z + 0.7 * torch.randn(5, 6, 4, generator=g, dtype=torch.float64), dim=-1)
    for t in (1.0, 7.5):
        # tol: float64 vs a python loop over a few hundred terms: ~n eps ~ 1e-13 relative; 1e-10 holds on any kernel
        assert float(mc_infonce_from_draws(z, y, t)) == pytest.approx(_naive_mc_infonce(z, y, t), rel=1e-10)


def test_mc_infonce_is_symmetric_in_the_modalities():
    g = torch.Generator().manual_seed(1)
    z, y = (F.normalize(torch.randn(3, 8, 5, generator=g), dim=-1) for _ in range(2))
    # tol: the symmetric loss summed in the transposed order: float32 logsumexp rows of the batch, ~n u ~ 1e-6 relative
    assert float(mc_infonce_from_draws(z, y, 4.0)) == pytest.approx(float(mc_infonce_from_draws(y, z, 4.0)), rel=1e-6)


def test_mc_infonce_loss_backpropagates_to_means_kappas_and_temperature():
    torch.manual_seed(0)
    mu_m = F.normalize(torch.randn(8, 16), dim=-1).requires_grad_(True)
    mu_v = F.normalize(torch.randn(8, 16), dim=-1).requires_grad_(True)
    k_m = torch.full((8,), 20.0, requires_grad=True)
    k_v = torch.full((8,), 20.0, requires_grad=True)
    loss_fn = MCInfoNCELoss(n_samples=4)
    loss = loss_fn(mu_m, k_m, mu_v, k_v)
    loss.backward()
    for p in (mu_m, mu_v, k_m, k_v, loss_fn.scale.log_scale):
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0


def test_infonce_matches_a_naive_loop_and_ignores_kappa():
    g = torch.Generator().manual_seed(2)
    m, v = torch.randn(6, 5, generator=g, dtype=torch.float64), torch.randn(6, 5, generator=g, dtype=torch.float64)
    loss_fn = InfoNCELoss(init_scale=3.0).double()
    mn, vn = F.normalize(m, dim=-1), F.normalize(v, dim=-1)
    t = float(loss_fn.scale().detach())  # 3 up to the float32 rounding of its stored log
    naive = 0.0
    for q, gal in ((mn, vn), (vn, mn)):
        for i in range(6):
            logits = [t * float(q[i] @ gal[j]) for j in range(6)]
            naive += -(logits[i] - math.log(sum(math.exp(x) for x in logits))) / 12
    kappa = torch.ones(6, dtype=torch.float64)
    with torch.no_grad():
        # tol: float64 vs a naive loop, ~n eps (1e-13)
        assert float(loss_fn(m, kappa, v, kappa)) == pytest.approx(naive, rel=1e-10)
        assert float(loss_fn(m, 100 * kappa, v, kappa)) == pytest.approx(naive, rel=1e-10)


def test_scale_is_clamped_and_batches_of_one_are_refused():
    loss_fn = InfoNCELoss(init_scale=500.0, max_scale=100.0)
    # tol: approx's default rel 1e-6: exp(log(100)) in float32 is within 2 u
    assert float(loss_fn.scale().detach()) == pytest.approx(100.0)
    with pytest.raises(ValueError, match="at least 2"):
        mc_infonce_from_draws(torch.ones(2, 1, 3), torch.ones(2, 1, 3), 1.0)
