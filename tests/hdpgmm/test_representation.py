"""Song representation and whitening of the HDPGMM."""

import numpy as np
import torch

from mirbench.hdpgmm.representation import CODE_LOG_EPS, log_features, song_log_representation
from mirbench.hdpgmm.whitening import Whitener


def test_representation_is_mean_frame_posterior_and_matches_reference_formula():
    g = torch.Generator().manual_seed(0)
    eq_eta = torch.randn(3, 5, 4, dtype=torch.float64, generator=g) * 3
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [0, 0, 0, 0, 0]], dtype=torch.bool)
    log_y = song_log_representation(eq_eta * mask[..., None], mask)
    y = log_y.exp()
    # tol: allclose's default (rtol 1e-5, atol 1e-8): float64 softmax/log-mean-exp, a few eps (and the lines below)
    assert torch.allclose(y.sum(1), torch.ones(3, dtype=torch.float64))
    for j, n in enumerate([5, 2]):
        post = torch.softmax(eq_eta[j, :n], -1)
        assert torch.allclose(y[j], post.mean(0))
        # the reference's recipe: softmax_k(log-mean-exp_n(log_softmax_k))
        lme = torch.logsumexp(torch.log_softmax(eq_eta[j, :n], -1), 0) - np.log(n)
        assert torch.allclose(y[j], torch.softmax(lme, -1))
    assert torch.allclose(y[2], torch.full((4,), 0.25, dtype=torch.float64))
    feats = log_features(torch.tensor([0.5, 0.0]))
    # tol: float32 log(eps) vs numpy's float64: within u (6e-8)
    assert feats[0] == np.log(0.5) and np.isclose(float(feats[1]), np.log(CODE_LOG_EPS), rtol=1e-6)


def test_whitener_gives_zero_mean_identity_covariance():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4, 4))
    x = torch.as_tensor(rng.normal(size=(5000, 4)) @ a + 3.0, dtype=torch.float32)
    w = Whitener(4)
    for chunk in x.split(1000):
        w.update(chunk)
    w.finalise()
    z = w(x).double()
    assert w(x).dtype == torch.float32
    # tol: float32 whitening (offset 3, a 4 x 4 mix): per-element error a few u x |x| |W| ~ 1e-6; the float64
    # mean of 5000 such values stays ~100x below 1e-4, and their covariance below 1e-3
    assert torch.allclose(z.mean(0), torch.zeros(4, dtype=torch.float64), atol=1e-4)
    assert torch.allclose(torch.cov(z.T, correction=0), torch.eye(4, dtype=torch.float64), atol=1e-3)
