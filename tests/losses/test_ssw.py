"""SSW: the batched circular solver against POT (``ot.sliced_wasserstein_sphere``, torch backend)."""

import pytest
import torch
import torch.nn.functional as F

ot = pytest.importorskip("ot")

from mirbench.losses.ssw import (SSWLoss, circle_coordinates, pairwise_ssw, sphere_projections, ssw,  # noqa: E402
                                 ssw2_to_uniform, wasserstein_circle_equal)


def _sphere(n, d, seed, shift=0.0):
    g = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(n, d, generator=g, dtype=torch.float64) + shift, dim=-1)


@pytest.mark.parametrize("n,d", [(16, 3), (16, 128), (37, 32)])
@pytest.mark.parametrize("p", [1.0, 2.0])
def test_ssw_matches_pot_to_1e6(n, d, p):
    x, y = _sphere(n, d, 0), _sphere(n, d, 1, shift=0.5)
    proj = sphere_projections(d, 40, torch.Generator().manual_seed(2), torch.float64)
    pot = ot.sliced_wasserstein_sphere(x, y, projections=proj, n_projections=40, p=p) ** p  # POT: p-th root
    # tol: float64 vs POT's implementation (another algorithm for the circle) on values <= 1: 1e-6 is 1e10 eps, room for
    # its method, not for a bug
    assert float(ssw(x, y, proj, p)) == pytest.approx(float(pot), abs=1e-6)


def test_gradients_match_pot():
    x, y = _sphere(12, 8, 3).requires_grad_(True), _sphere(12, 8, 4, shift=1.0)
    proj = sphere_projections(8, 20, torch.Generator().manual_seed(5), torch.float64)
    (g_ours,) = torch.autograd.grad(ssw(x, y, proj), x)
    (g_pot,) = torch.autograd.grad(ot.sliced_wasserstein_sphere(x, y, projections=proj, n_projections=20) ** 2, x)
    # tol: the same two implementations' gradients, as above
    assert torch.allclose(g_ours, g_pot, atol=1e-6)


def test_batched_pairs_match_one_pot_call_each():
    xs = torch.stack([_sphere(8, 16, s) for s in range(4)])
    ys = torch.stack([_sphere(8, 16, 10 + s, shift=0.3) for s in range(4)])
    proj = sphere_projections(16, 30, torch.Generator().manual_seed(6), torch.float64)
    per_pair = ssw(xs, ys, proj)
    matrix = pairwise_ssw(xs, ys, proj, chunk=3)
    for i in range(4):
        for j in range(4):
            pot = float(ot.sliced_wasserstein_sphere(xs[i], ys[j], projections=proj, n_projections=30)) ** 2
            # tol: as above
            assert float(matrix[i, j]) == pytest.approx(pot, abs=1e-6)
        # tol: one float64 solver, batched two ways: a few eps
        assert float(per_pair[i]) == pytest.approx(float(matrix[i, i]), abs=1e-12)


def test_ssw_to_uniform_matches_pot():
    x = _sphere(50, 32, 7, shift=0.2)
    proj = sphere_projections(32, 25, torch.Generator().manual_seed(8), torch.float64)
    pot = ot.sliced_wasserstein_sphere_unif(x, projections=proj, n_projections=25) ** 2
    # tol: a closed form vs POT's closed form, float64: ~1e-14, 1e-9 for any kernel
    assert float(ssw2_to_uniform(x, proj)) == pytest.approx(float(pot), abs=1e-9)


def test_circle_solver_known_values_and_coordinates():
    # POT's docstring example: W_1 between {0.2, 0.5, 0.8} and {0.4, 0.5, 0.7} is 0.1
    u, v = torch.tensor([0.2, 0.5, 0.8]), torch.tensor([0.4, 0.5, 0.7])
    # tol: float32 inputs: 0.1 and the shifts carry float32 rounding (u x 1 ~ 6e-8)
    assert float(wasserstein_circle_equal(u, v, 1.0)) == pytest.approx(0.1, abs=1e-7)
    # wrap-around: 0.05 and 0.95 are 0.1 apart on the circle
    assert float(wasserstein_circle_equal(torch.tensor([0.05]), torch.tensor([0.95]), 2.0)) == pytest.approx(0.01)
    x = _sphere(10, 5, 9)
    proj = sphere_projections(5, 4, torch.Generator().manual_seed(0), torch.float64)
    c = circle_coordinates(x, proj)
    ref, _ = ot.sliced.projection_sphere_to_circle(x, n_projections=4, projections=proj)
    # tol: float64, one formula: a few eps
    assert c.shape == (4, 10) and torch.allclose(c, ref, atol=1e-12)


@pytest.mark.parametrize("mode", ["pair", "uniform", "logits"])
def test_ssw_loss_modes_backpropagate(mode):
    torch.manual_seed(0)
    mu_m = F.normalize(torch.randn(6, 16), dim=-1).requires_grad_(True)
    mu_v = F.normalize(torch.randn(6, 16), dim=-1).requires_grad_(True)
    k = torch.full((6,), 30.0, requires_grad=True)
    loss_fn = SSWLoss(ssw_mode=mode, n_samples=4, n_projections=8)
    loss = loss_fn(mu_m, k, mu_v, k)
    loss.backward()
    assert torch.isfinite(loss) and all(torch.isfinite(t.grad).all() for t in (mu_m, mu_v, k))
    assert set(loss_fn.terms) >= {"pair": {"contrastive", "ssw"}, "uniform": {"align", "uniformity"},
                                  "logits": {"ssw_pos"}}[mode]


def test_projections_are_reproducible_per_seed():
    a, b = SSWLoss(seed=3), SSWLoss(seed=3)
    like = torch.zeros(1)
    assert torch.equal(a.projections(16, like), b.projections(16, like))
    with pytest.raises(ValueError, match="ssw_mode"):
        SSWLoss(ssw_mode="batch")
