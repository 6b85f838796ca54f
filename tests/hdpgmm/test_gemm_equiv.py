"""The GEMM paths of the OVI iteration (likelihood, statistics, feature blocks) give the values of the previous
code (kept here as the reference), and a whole online fit with them equals one with the previous paths."""

import pytest
import torch

import mirbench.hdpgmm.ovi as ovi
from mirbench.hdpgmm.likelihood import expected_loglik
from mirbench.hdpgmm.linalg import QuadFeatureBlocks, n_quad_features, quad_features
from mirbench.hdpgmm.mstep import accumulate_stats
from mirbench.hdpgmm.synthetic import pad_songs, toy_songs


def previous_expected_loglik(x, theta, chunk=1024):
    """The previous likelihood: ``phi @ theta`` per chunk, on the column-major feature view."""
    x = x.to(theta.dtype)
    out = x.new_empty(x.shape[0], theta.shape[1])
    for s in range(0, x.shape[0], chunk):
        torch.mm(quad_features(x[s : s + chunk]), theta, out=out[s : s + chunk])
    return out


def previous_accumulate_stats(stats, x, r, chunk=1024):
    """The previous statistics: ``(K, P) += r' phi`` per chunk."""
    x = x.to(stats.dtype)
    for s in range(0, x.shape[0], chunk):
        stats.addmm_(r[s : s + chunk].T.to(stats.dtype), quad_features(x[s : s + chunk]))


def _assert_gemm_close(got, want, a, b):
    """``got`` and ``want`` are two evaluations of ``a @ b`` (any blocking, order, FMA)."""
    # tol: derived, was rtol = atol = 1e-4 in float32 (1e-12 in float64), under the worst case: a sum of n products
    # in any order is within n u sum |a_i b_i| of exact (Higham, gamma_n), so two evaluations differ by at most
    # 2 n u (|a| @ |b|) elementwise on any BLAS kernel; (n + 2) covers a chunked accumulation's extra additions.
    # float32, n = 1000: ~1.2e-4 relative to |a| @ |b|, far below a wrong feature or chunk (O(1) relative)
    u = torch.finfo(got.dtype).eps / 2
    bound = 2 * (a.shape[1] + 2) * u * (a.double().abs() @ b.double().abs())
    assert got.shape == want.shape and got.dtype == want.dtype
    assert ((got.double() - want.double()).abs() <= bound).all()


@pytest.mark.parametrize("n, chunk", [(1, 4), (10, 4), (12, 4), (300, 128)])
def test_feature_blocks_equal_quad_features_chunk_by_chunk(n, chunk):
    x = torch.randn(n, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(n))
    starts = []
    for s, phi in QuadFeatureBlocks(7, chunk, torch.float64)(x):
        starts.append(s)
        assert phi.shape == (min(chunk, n - s), n_quad_features(7))
        assert torch.equal(phi, quad_features(x[s : s + chunk]))  # products of the same pairs: exact
    assert starts == list(range(0, n, chunk))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("n, chunk", [(1000, 256), (517, 1024)])
def test_likelihood_and_statistics_equal_previous(dtype, n, chunk):
    g = torch.Generator().manual_seed(0)
    d, k = 6, 9
    x = torch.randn(n, d, dtype=dtype, generator=g)
    theta = torch.randn(n_quad_features(d), k, dtype=dtype, generator=g)
    phi = quad_features(x)
    _assert_gemm_close(expected_loglik(x, theta, chunk), previous_expected_loglik(x, theta, chunk), phi, theta)
    r = torch.rand(n, k, dtype=dtype, generator=g)
    stats_t = torch.zeros(n_quad_features(d), k, dtype=dtype)
    accumulate_stats(stats_t, x, r, chunk)
    stats = torch.zeros(k, n_quad_features(d), dtype=dtype)
    previous_accumulate_stats(stats, x, r, chunk)
    _assert_gemm_close(stats_t.T, stats, r.T, phi)


def _fit(compute_dtype: str) -> tuple[dict, list]:
    """Initialise and run three online updates on toy songs; the state and the monitors."""
    songs, _, _ = toy_songs(n_songs=24, dim=3, seed=5)
    x, mask = pad_songs(songs)
    model = ovi.OnlineHDPGMM(dim=3, n_components=7, n_song_components=4, compute_dtype=compute_dtype,
                             song_chunk=8, frame_chunk=64)
    model.initialise([(x, mask)], n_songs=240, init="kmeans++")
    outs = [model.partial_fit(x[s : s + 12], mask[s : s + 12]) for s in (0, 12, 0)]
    return model.state_dict(), outs


def test_online_fit_equals_fit_with_previous_gemm_paths(monkeypatch):
    """In float64 (in float32 the round-off of these tiny GEMMs can move an E-step across its tolerance,
    one sweep more or less; at 52-d and 1,024-frame chunks the two paths gave the same bits, see the report)."""
    new_state, new_out = _fit("float64")
    monkeypatch.setattr(ovi, "expected_loglik", previous_expected_loglik)
    monkeypatch.setattr(ovi, "accumulate_stats", lambda st, x, r, c: previous_accumulate_stats(st.T, x, r, c))
    old_state, old_out = _fit("float64")
    assert [o["e_step_iters"] for o in new_out] == [o["e_step_iters"] for o in old_out]
    for key, value in new_state.items():
        # tol: float64, three online updates: GEMM round-off of ~1e-14 relative, carried through the E-steps' sweeps
        # and the Cholesky factors; 1e-10 leaves 1e4x and holds on the four kernel legs
        tol = dict(rtol=1e-10, atol=1e-10) if value.is_floating_point() else {}
        torch.testing.assert_close(value, old_state[key], **tol, msg=key)
