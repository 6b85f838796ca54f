"""PCME++ and HIB on vMF embeddings against naive per-pair loops."""

import math

import pytest
import torch
import torch.nn.functional as F
from scipy import special

from mirbench.losses.hib import HIBLoss, match_log_probs
from mirbench.losses.pcme import PCMEppLoss, csd, vmf_csd
from mirbench.losses.vmf import sample_vmf


def _sig(x):
    return 1.0 / (1.0 + math.exp(-x))


def _data(b=5, d=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    m = F.normalize(torch.randn(b, d, generator=g, dtype=torch.float64), dim=-1)
    v = F.normalize(m + 0.8 * torch.randn(b, d, generator=g, dtype=torch.float64), dim=-1)
    km = 5 + 50 * torch.rand(b, generator=g, dtype=torch.float64)
    kv = 5 + 50 * torch.rand(b, generator=g, dtype=torch.float64)
    return m, km, v, kv


@pytest.mark.parametrize("distance", ["vmf", "gaussian"])
def test_pcmepp_matches_a_naive_loop(distance):
    m, km, v, kv = _data()
    b, d = m.shape
    loss_fn = PCMEppLoss(init_scale=2.0, init_shift=1.5, distance=distance).double()
    a, s = float(loss_fn.log_a.exp().detach()), float(loss_fn.b.detach())
    A = lambda k: float(special.iv(d / 2, k) / special.iv(d / 2 - 1, k))  # noqa: E731
    pos, neg = [], []
    for i in range(b):
        for j in range(b):
            if distance == "gaussian":
                dist = float(((m[i] - v[j]) ** 2).sum()) + d * (1 / float(km[i]) + 1 / float(kv[j]))
            else:
                dist = 2 - 2 * A(float(km[i])) * A(float(kv[j])) * float(m[i] @ v[j])
            p = _sig(-a * dist + s)
            (pos if i == j else neg).append(-math.log(p) if i == j else -math.log(1 - p))
    naive = 0.5 * (sum(pos) / len(pos) + sum(neg) / len(neg))
    with torch.no_grad():
        # tol: float64 vs a naive per-pair loop: ~n eps relative (1e-13); 1e-10 holds on any kernel
        assert float(loss_fn(m, km, v, kv)) == pytest.approx(naive, rel=1e-10)


def test_vmf_csd_is_the_expected_squared_distance_of_vmf_draws():
    g = torch.Generator().manual_seed(5)
    mu = F.normalize(torch.randn(2, 16, generator=g, dtype=torch.float64), dim=-1)
    k = torch.tensor([5.0, 40.0], dtype=torch.float64)
    n = 20000
    x = sample_vmf(mu[0], k[0], n, generator=g)
    y = sample_vmf(mu[1], k[1], n, generator=g)
    sq = ((x - y) ** 2).sum(-1)
    assert abs(float(vmf_csd(mu[:1], k[:1], mu[1:], k[1:])) - float(sq.mean())) < 4 * float(sq.std()) / math.sqrt(n)


def test_csd_is_the_expected_squared_distance_of_gaussian_draws():
    g = torch.Generator().manual_seed(1)
    mu1, mu2 = torch.randn(1, 4, generator=g, dtype=torch.float64), torch.randn(1, 4, generator=g, dtype=torch.float64)
    v1, v2 = torch.rand(1, 4, generator=g, dtype=torch.float64), torch.rand(1, 4, generator=g, dtype=torch.float64)
    n = 20000
    z1 = mu1 + v1.sqrt() * torch.randn(n, 4, generator=g, dtype=torch.float64)
    z2 = mu2 + v2.sqrt() * torch.randn(n, 4, generator=g, dtype=torch.float64)
    sq = ((z1 - z2) ** 2).sum(-1)
    assert abs(float(csd(mu1, v1, mu2, v2)) - float(sq.mean())) < 4 * float(sq.std()) / math.sqrt(n)


def test_hib_match_probabilities_match_a_naive_loop():
    g = torch.Generator().manual_seed(2)
    z = F.normalize(torch.randn(3, 4, 5, generator=g, dtype=torch.float64), dim=-1)
    y = F.normalize(torch.randn(3, 4, 5, generator=g, dtype=torch.float64), dim=-1)
    a, b = torch.tensor(2.0, dtype=torch.float64), torch.tensor(0.5, dtype=torch.float64)
    log_p, log_q = match_log_probs(z, y, a, b)
    for i in range(4):
        for j in range(4):
            p = sum(_sig(-2.0 * float((z[k, i] - y[kk, j]).norm()) + 0.5) for k in range(3) for kk in range(3)) / 9
            # tol: float64 log-sigmoid vs its direct value: a few eps
            assert math.exp(float(log_p[i, j])) == pytest.approx(p, rel=1e-10)
            assert math.exp(float(log_q[i, j])) == pytest.approx(1 - p, rel=1e-10)


def test_hib_loss_with_kl_backpropagates():
    torch.manual_seed(0)
    m, km, v, kv = (t.float() for t in _data(b=6, d=16, seed=3))
    m.requires_grad_(True)
    km.requires_grad_(True)
    loss_fn = HIBLoss(n_samples=4, kl_weight=1e-2)
    loss = loss_fn(m, km, v, kv)
    loss.backward()
    assert torch.isfinite(loss) and "kl" in loss_fn.terms
    assert torch.isfinite(m.grad).all() and torch.isfinite(km.grad).all() and km.grad.abs().sum() > 0
    assert loss_fn.log_a.grad is not None and loss_fn.b.grad is not None


@pytest.mark.parametrize("distance", ["vmf", "gaussian"])
def test_pcmepp_with_vib_backpropagates_to_kappa(distance):
    m, km, v, kv = _data(seed=4)
    km.requires_grad_(True)
    PCMEppLoss(vib_beta=1e-4, distance=distance).double()(m, km, v, kv).backward()
    assert torch.isfinite(km.grad).all() and km.grad.abs().sum() > 0
