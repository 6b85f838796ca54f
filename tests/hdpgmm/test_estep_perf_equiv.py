"""The E-step with reused buffers and in-place passes gives exactly the previous E-step's state (kept here as
the reference loop), with the same number of sweeps."""

import pytest
import torch

from mirbench.hdpgmm.estep import e_step, init_log_zeta_top_atoms
from mirbench.hdpgmm.linalg import exp_flush, log_normalise, logsumexp
from mirbench.hdpgmm.ovi import OnlineHDPGMM
from mirbench.hdpgmm.sticks import gamma_elbo_term, stick_elbo_term, stick_expectations, stick_posterior_counts
from mirbench.hdpgmm.synthetic import pad_songs, toy_songs


def previous_e_step(eq_eta, mask, elog_beta, n_atoms, s1=1.0, s2=1.0, tol=1e-6, max_iter=1000):
    """The previous loop, top-atoms start, operation for operation."""
    dtype = eq_eta.dtype
    elog_beta = elog_beta.to(dtype)
    maskf = mask.to(dtype)
    eq_eta = eq_eta * maskf[..., None]
    log_zeta = init_log_zeta_top_atoms(eq_eta, mask, elog_beta, n_atoms, s1, s2)
    w = torch.empty(eq_eta.shape[0], 2, dtype=dtype)
    w[:, 0], w[:, 1] = s1, s2
    zeta = exp_flush(log_zeta) * maskf[..., None]
    old = None
    for it in range(1, max_iter + 1):
        log_varphi = log_normalise(elog_beta + torch.bmm(zeta.transpose(1, 2), eq_eta))
        varphi = exp_flush(log_varphi)
        head, tail = stick_posterior_counts(zeta.sum(1))
        a = 1.0 + head
        b = (w[:, 0] / w[:, 1])[:, None] + tail
        _, elog_1mv, elog_pi = stick_expectations(a, b)
        logits = elog_pi[:, None, :] + torch.bmm(eq_eta, varphi.transpose(1, 2))
        lse = logsumexp(logits, dim=-1)
        log_zeta = logits - lse[..., None]
        zeta = exp_flush(log_zeta) * maskf[..., None]
        w = torch.stack([torch.full_like(w[:, 0], s1 + n_atoms - 1.0), s2 - elog_1mv.sum(-1)], dim=-1)
        elbo = ((lse * maskf).sum(-1) + (varphi * (elog_beta - log_varphi)).sum((-2, -1))
                + stick_elbo_term(a, b, w[:, 0], w[:, 1]) + gamma_elbo_term(w[:, 0], w[:, 1], s1, s2))
        total = float(elbo.sum())
        if old is not None and (total - old) <= tol * abs(old):
            break
        old = total
    return log_zeta, log_varphi, a, b, w, elbo, it


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("shape", [(12, 6, 4), (30, 16, 5)])
def test_e_step_equals_previous(dtype, shape):
    n_songs, k, t = shape
    songs, _, _ = toy_songs(n_songs=n_songs, seed=2)
    x, mask = pad_songs(songs)
    model = OnlineHDPGMM(dim=2, n_components=k, n_song_components=t, compute_dtype="float64")
    model.initialise([(x, mask)], init="kmeans++")
    eq, elog_beta = model.expected_loglik(x, mask).to(dtype), model.elog_beta().to(dtype)
    for tol, max_iter in ((0.0, 15), (1e-6, 1000)):
        new = e_step(eq, mask, elog_beta, t, s1=1.5, s2=0.5, tol=tol, max_iter=max_iter)
        ref = previous_e_step(eq, mask, elog_beta, t, s1=1.5, s2=0.5, tol=tol, max_iter=max_iter)
        assert new.n_iter == ref[-1]
        # the same operations in the same order, into reused buffers: the same bits
        assert torch.equal(new.log_zeta[m := mask[..., None].expand_as(new.log_zeta)], ref[0][m])
        for got, want in zip((new.log_varphi, new.a, new.b, new.w, new.elbo), ref[1:6]):
            assert torch.equal(got, want)


def test_warm_start_state_is_not_overwritten():
    songs, _, _ = toy_songs(n_songs=8, seed=3)
    x, mask = pad_songs(songs)
    model = OnlineHDPGMM(dim=2, n_components=6, n_song_components=4, compute_dtype="float64")
    model.initialise([(x, mask)], init="kmeans++")
    eq, elog_beta = model.expected_loglik(x, mask), model.elog_beta()
    first = e_step(eq, mask, elog_beta, 4, max_iter=3, tol=0.0)
    kept = first.log_zeta.clone()
    e_step(eq, mask, elog_beta, 4, max_iter=3, tol=0.0, init=first)
    assert torch.equal(first.log_zeta, kept)
