"""Closed-form pieces of the HDPGMM vs direct formulas and Monte Carlo."""

import math

import numpy as np
import pytest
import torch
from scipy.special import digamma
from torch.distributions import Beta, Gamma, MultivariateNormal, Wishart

from mirbench.hdpgmm.likelihood import derive, expected_loglik, expected_loglik_exact, loglik_coefficients, nw_elbo_term
from mirbench.hdpgmm.linalg import quad_features, safe_cholesky, triu_indices, unpack_symmetric
from mirbench.hdpgmm.mstep import blend_nw, learning_rate, nw_posterior, splash_ratio
from mirbench.hdpgmm.priors import HyperPriors
from mirbench.hdpgmm.sticks import gamma_elbo_term, stick_elbo_term, stick_expectations, stick_posterior_counts

F64 = torch.float64
pytestmark = pytest.mark.filterwarnings("ignore:Singular sample detected")


def _nw(seed=0, K=2, D=3):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(K, D, D, dtype=F64, generator=g)
    winv = a @ a.transpose(1, 2) + D * torch.eye(D, dtype=F64)
    m = torch.randn(K, D, dtype=F64, generator=g)
    beta = torch.linspace(2.0, 7.0, K, dtype=F64)
    nu = torch.linspace(D + 4.0, D + 12.0, K, dtype=F64)
    return m, beta, nu, winv


def test_safe_cholesky_adds_jitter_only_where_needed():
    good = torch.eye(3, dtype=F64) * 2
    singular = torch.ones(3, 3, dtype=F64)  # rank 1
    chol = safe_cholesky(torch.stack([good, singular]))
    # tol: allclose's default (rtol 1e-5, atol 1e-8): float64 Cholesky of the same matrix, a few eps
    assert torch.allclose(chol[0], torch.linalg.cholesky(good))
    rec = chol[1] @ chol[1].T
    # tol: a behavioural bound, not float error: the jitter added (1e-10 x 10^i of the mean diagonal) stays <= 1e-6
    assert torch.allclose(rec, singular, atol=1e-6)
    with pytest.raises(torch.linalg.LinAlgError):
        safe_cholesky(-torch.eye(2, dtype=F64), max_tries=3)


def test_quad_features_give_quadratic_forms_and_stats():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(7, 4, dtype=F64, generator=g)
    rows, cols = triu_indices(4)
    phi = quad_features(x)
    assert phi.shape == (7, 4 * 5 // 2 + 4 + 1)
    outer = unpack_symmetric(phi[:, : rows.numel()], rows, cols, 4)
    # tol: allclose's default: float64 products of the same pairs (exact)
    assert torch.allclose(outer, x[:, :, None] * x[:, None, :])


def test_stick_expectations_match_direct_formula_and_monte_carlo():
    a = torch.tensor([[1.5, 2.0, 0.7]], dtype=F64)
    b = torch.tensor([[3.0, 0.5, 1.2]], dtype=F64)
    elog_v, elog_1mv, elog_pi = stick_expectations(a, b)
    an, bn = a.numpy()[0], b.numpy()[0]
    direct_v = digamma(an) - digamma(an + bn)
    direct_1mv = digamma(bn) - digamma(an + bn)
    direct_pi = [direct_v[t] + direct_1mv[:t].sum() for t in range(3)] + [direct_1mv.sum()]
    # tol: float64 digamma differences and sums of <= 4 terms: a few eps
    np.testing.assert_allclose(elog_pi.numpy()[0], direct_pi, rtol=1e-12)
    v = Beta(a[0], b[0]).sample((100000,))
    log_pi = torch.log(torch.cat([v, torch.ones(len(v), 1, dtype=F64)], 1)) + torch.cat(
        [torch.zeros(len(v), 1, dtype=F64), torch.cumsum(torch.log1p(-v), 1)], 1
    )
    # tol: Monte Carlo, 5 standard errors of the 1e5-draw mean (was 0.03, a guess)
    se = float(log_pi.std(0).max()) / math.sqrt(len(v))
    np.testing.assert_allclose(log_pi.mean(0).numpy(), elog_pi.numpy()[0], atol=5 * se)
    # tol: a behavioural bound, not float error: exp E[log pi] sums below 1 (Jensen); 0.5 only checks its scale
    assert torch.allclose(elog_pi.exp().sum(), torch.tensor(1.0, dtype=F64), atol=0.5)  # Jensen: sum <= 1
    head, tail = stick_posterior_counts(torch.tensor([[3.0, 2.0, 1.0, 4.0]]))
    assert head.tolist() == [[3.0, 2.0, 1.0]] and tail.tolist() == [[7.0, 5.0, 4.0]]


def test_stick_and_gamma_elbo_terms_match_monte_carlo():
    torch.manual_seed(0)
    a, b = torch.tensor([2.0, 1.3], dtype=F64), torch.tensor([0.8, 3.0], dtype=F64)
    shape, rate, s1, s2 = torch.tensor(3.0, dtype=F64), torch.tensor(2.0, dtype=F64), 1.5, 0.7
    n = 100000
    c = Gamma(shape, rate).sample((n,))
    v = Beta(a, b).sample((n,))
    log_p = Beta(torch.ones(2, dtype=F64), c[:, None].expand(-1, 2)).log_prob(v).sum(1)
    log_q = Beta(a, b).log_prob(v).sum(1)
    mc = (log_p - log_q).mean()
    # tol: Monte Carlo, 5 standard errors of the n-draw mean (was 0.02: 3.1 standard errors here, 14 for the gamma term)
    se = float((log_p - log_q).std()) / math.sqrt(n)
    assert float(stick_elbo_term(a, b, shape, rate)) == pytest.approx(float(mc), abs=5 * se)
    lr_g = Gamma(torch.tensor(s1, dtype=F64), torch.tensor(s2, dtype=F64)).log_prob(c) - Gamma(shape, rate).log_prob(c)
    # tol: as above, 5 standard errors
    assert float(gamma_elbo_term(shape, rate, s1, s2)) == pytest.approx(float(lr_g.mean()), abs=5 * float(lr_g.std()) / math.sqrt(n))


def test_expected_loglik_gemm_exact_and_monte_carlo_agree():
    torch.manual_seed(1)
    m, beta, nu, winv = _nw()
    der = derive(nu, winv)
    x = torch.randn(4, 3, dtype=F64)
    rows, cols = triu_indices(3)
    gemm = expected_loglik(x, loglik_coefficients(m, beta, der, rows, cols), chunk=3)
    exact = expected_loglik_exact(x, m, beta, nu, der)
    # tol: float64 GEMM of P = 10 terms vs the term-by-term formula: ~P eps |terms| ~ 1e-14; 1e-10 for any kernel
    assert torch.allclose(gemm, exact, atol=1e-10)
    gemm32 = expected_loglik(x.float(), loglik_coefficients(m, beta, der, rows, cols).float())
    # tol: float32 inputs and GEMM: within (P + 3) u |phi| @ |theta| = 1.7e-5 here (values ~ -8; observed 8e-7)
    assert gemm32.dtype == torch.float32 and torch.allclose(gemm32.double(), exact, atol=1e-4)
    w = torch.linalg.inv(winv)
    for k in range(2):
        lam = Wishart(df=nu[k], covariance_matrix=w[k]).sample((20000,))
        lam = 0.5 * (lam + lam.transpose(1, 2))
        mu = MultivariateNormal(m[k], precision_matrix=beta[k] * lam).sample()
        lp = MultivariateNormal(mu, precision_matrix=lam).log_prob(x[:, None, :])
        se = lp.std(1) / math.sqrt(lp.shape[1])
        assert ((lp.mean(1) - exact[:, k]).abs() < 5 * se + 1e-3).all()


def test_nw_elbo_term_is_minus_kl_by_monte_carlo():
    torch.manual_seed(2)
    m, beta, nu, winv = _nw(seed=3)
    der = derive(nu, winv)
    prior = HyperPriors(torch.zeros(3, dtype=F64), 2 * torch.eye(3, dtype=F64), beta0=2.0, nu0=5.0)
    closed = float(nw_elbo_term(m, beta, nu, winv, der, prior))
    w, w0 = torch.linalg.inv(winv), torch.linalg.inv(prior.w0inv)
    total, var = 0.0, 0.0
    for k in range(2):
        lam = Wishart(df=nu[k], covariance_matrix=w[k]).sample((20000,))
        lam = 0.5 * (lam + lam.transpose(1, 2))
        mu = MultivariateNormal(m[k], precision_matrix=beta[k] * lam).sample()
        log_q = Wishart(df=nu[k], covariance_matrix=w[k]).log_prob(lam) + MultivariateNormal(m[k], precision_matrix=beta[k] * lam).log_prob(mu)
        log_p = Wishart(df=torch.tensor(prior.nu0, dtype=F64), covariance_matrix=w0).log_prob(lam) + MultivariateNormal(
            prior.m0, precision_matrix=prior.beta0 * lam
        ).log_prob(mu)
        d = log_p - log_q
        total, var = total + float(d.mean()), var + float(d.var()) / len(d)
    # tol: Monte Carlo, 5 standard errors (computed above) plus 1e-3 for the symmetrised Wishart draws
    assert closed == pytest.approx(total, abs=5 * math.sqrt(var) + 1e-3)
    # at the prior itself the KL vanishes
    at_prior = derive(torch.tensor([5.0], dtype=F64), prior.w0inv[None])
    zero = nw_elbo_term(prior.m0[None], torch.tensor([2.0], dtype=F64), torch.tensor([5.0], dtype=F64), prior.w0inv[None], at_prior, prior)
    # tol: float64 at the prior: the KL's O(10) terms cancel to a few eps
    assert abs(float(zero)) < 1e-10


def test_nw_posterior_matches_bishop_and_blend_limits():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(50, 3, dtype=F64, generator=g) + 2.0
    r = torch.rand(50, 2, dtype=F64, generator=g)
    n, sx, sxx = r.sum(0), r.T @ x, torch.einsum("nk,nd,ne->kde", r, x, x)
    prior = HyperPriors(torch.ones(3, dtype=F64), 3 * torch.eye(3, dtype=F64), beta0=2.0, nu0=5.0)
    m, beta, nu, winv = nw_posterior(n, sx, sxx, prior, cov_reg=0.0)
    for k in range(2):  # Bishop (10.60)-(10.63)
        xbar = sx[k] / n[k]
        s = (r[:, k, None] * (x - xbar)).T @ (x - xbar) / n[k]
        expect = prior.w0inv + n[k] * s + prior.beta0 * n[k] / (prior.beta0 + n[k]) * torch.outer(xbar - prior.m0, xbar - prior.m0)
        # tol: float64 sums of 40 weighted outer products vs the same in another order: ~n eps |terms| ~ 1e-13
        assert torch.allclose(winv[k], expect, atol=1e-10)
        # tol: allclose's default (rtol 1e-5): float64, the same formula, a few eps (and the next line: exact sums)
        assert torch.allclose(m[k], (prior.beta0 * prior.m0 + n[k] * xbar) / (prior.beta0 + n[k]))
    assert torch.allclose(nu, prior.nu0 + n) and torch.allclose(beta, prior.beta0 + n)
    old = _nw(seed=5)
    new = (m, beta, nu, winv)
    for rho, ref in ((0.0, old), (1.0, new)):
        for got, want in zip(blend_nw(old, new, rho), ref):
            # tol: float64 blends at rho = 0 / 1: exact up to one rounding of 0 x a + 1 x b
            assert torch.allclose(got, want, atol=1e-10)
    # natural parameters (beta, beta m, W^-1 + beta m m', nu) blend linearly
    mb, bb, nb, wb = blend_nw(old, new, 0.3)
    nat = lambda p: p[3] + p[1][:, None, None] * torch.einsum("kd,ke->kde", p[0], p[0])  # noqa: E731
    # tol: float64 natural parameters blended vs the blend's round trip: a few eps x |W^-1| (~10)
    assert torch.allclose(nat((mb, bb, nb, wb)), 0.7 * nat(old) + 0.3 * nat(new), atol=1e-9)
    # tol: allclose's default: float64, a few eps
    assert torch.allclose(bb[:, None] * mb, 0.7 * old[1][:, None] * old[0] + 0.3 * beta[:, None] * m)


def test_schedules():
    # tol: approx's default rel 1e-6 (and the next three lines): float64 powers, a few eps
    assert learning_rate(0) == pytest.approx(64 ** -0.6)
    assert learning_rate(36, tau0=64, kappa=0.6) == pytest.approx(100 ** -0.6)
    assert splash_ratio(0, 0.1) == pytest.approx(0.1)
    assert splash_ratio(1000, 0.1) == pytest.approx(0.05)
