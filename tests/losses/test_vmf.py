"""vMF sampler, log-normaliser and A_d against scipy (``scipy.stats.vonmises_fisher``, ``scipy.special``)."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import special, stats

from mirbench.losses.vmf import (kappa_for_resultant, kl_to_uniform, log_bessel_iv, log_normalizer,
                                 mean_resultant_length, sample_vmf)

N = 4000
Z = 4.0  # a 4-sigma band: a correct sampler fails one of these checks with probability ~1e-4


def _mu(d: int, seed: int) -> torch.Tensor:
    return F.normalize(torch.randn(d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64), dim=0)


@pytest.mark.parametrize("d", [3, 32, 128])
@pytest.mark.parametrize("r", [0.1, 0.5, 0.9])
def test_mean_resultant_length_matches_A_d_and_scipy_samples(d, r):
    kappa = kappa_for_resultant(r, d)
    mu = _mu(d, d)
    torch.manual_seed(0)
    x = sample_vmf(mu, torch.tensor(kappa, dtype=torch.float64), N)
    # tol: float64 unit vectors: |x| within ~d eps (1e-14)
    assert x.shape == (N, d) and torch.allclose(x.norm(dim=-1), torch.ones(N, dtype=torch.float64), atol=1e-12)
    w = (x @ mu).numpy()
    a = float(mean_resultant_length(torch.tensor(kappa, dtype=torch.float64), d))
    # tol: float64 vs scipy's Bessel ratio: both accurate to ~1e-14; 1e-9 leaves room for any libm
    assert a == pytest.approx(special.iv(d / 2, kappa) / special.iv(d / 2 - 1, kappa), rel=1e-9)
    assert abs(w.mean() - a) < Z * w.std() / math.sqrt(N)
    ref = stats.vonmises_fisher(mu.numpy(), kappa).rvs(N, random_state=0) @ mu.numpy()
    se = math.sqrt(w.var() / N + ref.var() / N)
    assert abs(w.mean() - ref.mean()) < Z * se
    assert abs((w**2).mean() - (ref**2).mean()) < Z * math.sqrt((w**2).var() / N + (ref**2).var() / N)
    assert stats.ks_2samp(w, ref).pvalue > 1e-4
    # the part orthogonal to mu is isotropic: its mean vanishes
    orth = x.numpy() - np.outer(w, mu.numpy())
    assert np.all(np.abs(orth.mean(0)) < Z * orth.std(0) / math.sqrt(N) + 1e-12)


def test_resultant_length_scale_at_d128():
    # the scale the head's kappa range is chosen for (module docstring)
    a = mean_resultant_length(torch.tensor([10.0, 50.0, 200.0], dtype=torch.float64), 128)
    # tol: values printed to 3 decimals in the reference
    assert a.numpy() == pytest.approx([0.078, 0.345, 0.731], abs=1e-3)
    for r in (0.1, 0.5, 0.95):  # Banerjee et al.'s approximation is within 2 % of the target
        assert float(mean_resultant_length(torch.tensor(kappa_for_resultant(r, 128), dtype=torch.float64), 128)) \
            == pytest.approx(r, rel=0.02)


@pytest.mark.parametrize("kappa", [50.0, 200.0])
def test_gradient_to_kappa_is_the_pathwise_derivative_of_A_d(kappa):
    """d/dkappa E<mu, x> = A_d'(kappa) = 1 - A^2 - (d-1) A / kappa; per-draw gradients give the error bar.

    The acceptance-correction term is omitted (module docstring); at d = 128 its bias is below 1 %.
    """
    d = 128
    k = torch.full((N,), kappa, dtype=torch.float64, requires_grad=True)
    mu = _mu(d, 1).expand(N, d)
    torch.manual_seed(1)
    w = (sample_vmf(mu, k, 1)[0] * mu).sum(-1)
    (g,) = torch.autograd.grad(w.sum(), k)
    a = float(mean_resultant_length(torch.tensor(kappa, dtype=torch.float64), d))
    slope = 1 - a * a - (d - 1) * a / kappa
    assert abs(float(g.mean()) - slope) < 0.01 * slope + Z * float(g.std()) / math.sqrt(N)


def test_gradient_to_mu_flows():
    mu = _mu(8, 2).requires_grad_(True)
    x = sample_vmf(F.normalize(mu, dim=0), torch.tensor(5.0, dtype=torch.float64), 16)
    (x[:, 0].sum()).backward()
    assert torch.isfinite(mu.grad).all() and mu.grad.abs().sum() > 0


def test_seeded_generator_is_reproducible():
    mu, k = _mu(32, 3), torch.tensor(20.0, dtype=torch.float64)
    a = sample_vmf(mu, k, 64, generator=torch.Generator().manual_seed(5))
    b = sample_vmf(mu, k, 64, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b)


@pytest.mark.parametrize("d", [3, 32, 128])
@pytest.mark.parametrize("kappa", [0.5, 10.0, 200.0, 5000.0])
def test_log_normalizer_and_kl_match_scipy(d, kappa):
    mu = _mu(d, 0).numpy()
    dist = stats.vonmises_fisher(mu, kappa)
    k = torch.tensor([kappa], dtype=torch.float64)
    # tol: float64 vs scipy's vMF: ~1e-14 each; 1e-9 for any libm
    assert float(log_normalizer(k, d)) == pytest.approx(float(dist.logpdf(mu)) - kappa, rel=1e-9, abs=1e-9)
    log_area = math.log(2) + d / 2 * math.log(math.pi) - math.lgamma(d / 2)
    # tol: float64 vs scipy's entropy formula: both ~1e-14; the bounds leave room for any libm
    assert float(kl_to_uniform(k, d)) == pytest.approx(log_area - float(dist.entropy()), rel=1e-7, abs=1e-9)


def test_log_bessel_gradients_and_asymptotic_branch():
    k = torch.tensor([0.7, 3.0, 40.0, 900.0], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: log_bessel_iv(15.0, t), (k,))
    assert torch.autograd.gradcheck(lambda t: kl_to_uniform(t, 64), (k,))
    assert torch.autograd.gradcheck(lambda t: mean_resultant_length(t, 64), (k,))
    # where scipy's scaled Bessel underflows (v = 511, kappa = 1) the Debye expansion takes over
    import mpmath

    exact = float(mpmath.log(mpmath.besseli(511, 1)))
    # tol: the Debye expansion at order 511 (below): its truncation error, not rounding, sets 1e-4
    assert float(log_bessel_iv(511.0, torch.tensor(1.0, dtype=torch.float64))) == pytest.approx(exact, rel=1e-4)
