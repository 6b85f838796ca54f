"""Contrastive, normalised-softmax, prototypical and NT-Xent losses against naive loops and pytorch-metric-learning."""

import math

import pytest
import torch
import torch.nn.functional as F
from pytorch_metric_learning import losses as pml_losses

from mirbench.losses.contrastive import ContrastiveLoss, all_pairs
from mirbench.losses.normsoftmax import NormalizedSoftmaxLoss
from mirbench.losses.ntxent import NTXentLoss
from mirbench.losses.prototypical import prototypes, prototypical_loss


def test_contrastive_naive_loop():
    g = torch.Generator().manual_seed(0)
    x1, x2 = torch.randn(12, 4, generator=g, dtype=torch.float64), torch.randn(12, 4, generator=g, dtype=torch.float64)
    similar = (torch.rand(12, generator=g) < 0.5).double()
    total = 0.0
    for i in range(12):
        d = float(torch.linalg.vector_norm(x1[i] - x2[i]))
        # Hadsell's form with y = 1 - similar: (1 - y) D^2 / 2 + y max(0, m - D)^2 / 2
        y = 1.0 - float(similar[i])
        total += 0.5 * (1 - y) * d**2 + 0.5 * y * max(0.0, 2.0 - d) ** 2
    expect = torch.tensor(total / 12, dtype=torch.float64)
    # tol: assert_close's defaults here and below: float64 1e-7 (the naive loops agree to ~n eps), float32 1.3e-6 / 1e-5
    # (a few float32 roundings of O(1) terms)
    torch.testing.assert_close(ContrastiveLoss(margin=2.0)(x1, x2, similar), expect)


def test_all_pairs_single_and_multi_label():
    i, j, s = all_pairs(torch.tensor([0, 1, 0]))
    assert list(zip(i.tolist(), j.tolist(), s.tolist())) == [(0, 1, 0.0), (0, 2, 1.0), (1, 2, 0.0)]
    i, j, s = all_pairs(torch.tensor([[1, 0], [1, 1], [0, 1]]))
    assert s.tolist() == [1.0, 0.0, 1.0]


def test_normsoftmax_matches_pml():
    g = torch.Generator().manual_seed(1)
    emb, labels = torch.randn(20, 6, generator=g), torch.randint(0, 5, (20,), generator=g)
    ours = NormalizedSoftmaxLoss(num_classes=5, embedding_size=6, temperature=0.1)
    pml = pml_losses.NormalizedSoftmaxLoss(num_classes=5, embedding_size=6, temperature=0.1)
    with torch.no_grad():
        pml.W.copy_(ours.W.T)
    # tol: float32, another library's order of a softmax over 5 classes of 20 items: ~n u |terms| = 100 x 6e-8 ~ 6e-6
    # relative at worst
    torch.testing.assert_close(ours(emb, labels), pml(emb, labels), rtol=1e-5, atol=1e-6)


def test_normsoftmax_unnormalised_weights():
    loss = NormalizedSoftmaxLoss(3, 4, normalize_weights=False)
    emb = torch.randn(5, 4)
    torch.testing.assert_close(loss.logits(emb), F.normalize(emb, dim=1) @ loss.W.T)


def test_prototypical_naive_loop():
    g = torch.Generator().manual_seed(2)
    support, s_lab = torch.randn(9, 3, generator=g, dtype=torch.float64), torch.tensor([2, 0, 5, 2, 0, 5, 2, 0, 5])
    query, q_lab = torch.randn(4, 3, generator=g, dtype=torch.float64), torch.tensor([5, 0, 2, 2])
    protos, classes = prototypes(support, s_lab)
    assert classes.tolist() == [0, 2, 5]
    total = 0.0
    for q, c in zip(query, q_lab.tolist()):
        logits = [-float(((q - support[s_lab == k].mean(0)) ** 2).sum()) for k in (0, 2, 5)]
        total += -(logits[[0, 2, 5].index(c)] - math.log(sum(math.exp(v) for v in logits)))
    expect = torch.tensor(total / 4, dtype=torch.float64)
    torch.testing.assert_close(prototypical_loss(support, s_lab, query, q_lab), expect)
    with pytest.raises(ValueError, match="no support"):
        prototypical_loss(support, s_lab, query, torch.tensor([1, 0, 2, 2]))


def test_ntxent_matches_pml_and_naive():
    g = torch.Generator().manual_seed(3)
    z_i, z_j = torch.randn(6, 5, generator=g, dtype=torch.float64), torch.randn(6, 5, generator=g, dtype=torch.float64)
    ours = NTXentLoss(temperature=0.5)(z_i, z_j)
    emb, labels = torch.cat([z_i, z_j]), torch.arange(6).repeat(2)
    torch.testing.assert_close(ours, pml_losses.NTXentLoss(temperature=0.5)(emb, labels))
    z = F.normalize(emb, dim=1)
    total = 0.0
    for a in range(12):
        twin = (a + 6) % 12
        den = sum(math.exp(float(z[a] @ z[k]) / 0.5) for k in range(12) if k != a)
        total += -math.log(math.exp(float(z[a] @ z[twin]) / 0.5) / den)
    torch.testing.assert_close(ours, torch.tensor(total / 12, dtype=torch.float64))
