"""Spherical sliced-Wasserstein (SSW) distances and the SSW losses of the two-tower family.

Bonet, Berg, Courty, Septier, Drumetz, Pham (ICLR 2023), "Spherical sliced-Wasserstein": a point
x of S^{d-1} is projected on the great circle spanned by U in V_{d,2} (U^T U = I_2) as
P^U(x) = U^T x / |U^T x|, read as a coordinate in [0, 1) (POT's convention: turns,
(pi + atan2(-x_2, -x_1)) / (2 pi)); then

    SSW_p^p(mu, nu) = E_U [ W_p^p(P^U_# mu, P^U_# nu) ]     (W_p on the circle of length 1),

estimated with P projections U_1..U_P. **Power convention**: the functions here return the mean over
projections of W_p^p, i.e. Bonet's SSW_p^p; POT's ``ot.sliced_wasserstein_sphere`` returns its p-th
root ((mean W_p^p)^(1/p)), so ``ssw(x, y, U) == POT(x, y, projections=U) ** p``. "SSW^2" below is
SSW_2^2.

Solver: for two sets of n points with equal weights, W_p^p on the circle is the minimum over the n
cyclic shifts k of (1/n) sum_i d(u_(i), v_(i+k mod n))^p, u, v sorted and d the geodesic distance
min(|a - b|, 1 - |a - b|) (an optimal plan between uniform n-point sets is a permutation, and one of
the cyclically monotone ones, i.e. a shift, is optimal: Rabin, Delon, Gousseau 2011, "Transportation
distances on the circle"). It is exact and batched over pairs; the best shift is found without
autograd and the gradient taken through that shift's cost (the gradient of a minimum); it agrees
with POT's binary-search solver to 1e-6 (tests/losses/test_ssw.py). Against the uniform distribution,
W_2^2 has a closed form (Bonet et al.; POT's ``semidiscrete_wasserstein2_unif_circle``): for
sorted x with weights 1/n,
sum x_i^2 / n - (sum x_i / n)^2 + sum x_i (1 - 1/n - 2 (i-1)/n) / n + 1/12.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn

from mirbench.losses.infonce import LearnableScale, symmetric_cross_entropy
from mirbench.losses.mc_infonce import mc_infonce_from_draws
from mirbench.losses.vmf import sample_vmf


def sphere_projections(d: int, n_projections: int, generator: torch.Generator | None = None,
                       dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(P, d, 2) uniform draws on the Stiefel manifold V_{d,2} (QR of a Gaussian, as POT)."""
    z = torch.randn(n_projections, d, 2, generator=generator, dtype=torch.float64)
    q, r = torch.linalg.qr(z)
    q = q * torch.sign(torch.diagonal(r, dim1=-2, dim2=-1)).unsqueeze(-2)  # Haar-uniform, not only orthonormal
    return q.to(dtype)


def circle_coordinates(x: torch.Tensor, projections: torch.Tensor) -> torch.Tensor:
    """Points x (..., n, d) on the sphere, projections (P, d, 2) -> coordinates (..., P, n) in [0, 1)."""
    xp = torch.einsum("...nd,pdk->...pnk", x, projections)
    return (math.pi + torch.atan2(-xp[..., 1], -xp[..., 0])) / (2 * math.pi)


def wasserstein_circle_equal(u: torch.Tensor, v: torch.Tensor, p: float = 2.0) -> torch.Tensor:
    """W_p^p between equal-weight point sets u (..., n), v (..., n) (broadcast) of coordinates in [0, 1) -> (...)."""
    n = u.shape[-1]
    if v.shape[-1] != n:
        raise ValueError(f"equal-size sets only, got {n} and {v.shape[-1]} points")
    u, v = torch.broadcast_tensors(torch.sort(u, dim=-1).values, torch.sort(v, dim=-1).values)
    with torch.no_grad():  # the best shift; the gradient of a minimum is that of its argmin term
        shifted = torch.cat([v, v], dim=-1).unfold(-1, n, 1)[..., :n, :]  # (..., k, n): v_(i + k), a view
        diff = (u.unsqueeze(-2) - shifted).abs_()
        best = torch.minimum(diff, 1.0 - diff).pow_(p).mean(-1).argmin(-1, keepdim=True)  # (..., 1)
    idx = (torch.arange(n, device=u.device) + best) % n
    diff = (u - torch.gather(v, -1, idx)).abs()
    return torch.minimum(diff, 1.0 - diff).pow(p).mean(-1)


def ssw(x: torch.Tensor, y: torch.Tensor, projections: torch.Tensor, p: float = 2.0) -> torch.Tensor:
    """SSW_p^p (mean over projections of W_p^p) between point sets x (..., n, d), y (..., n, d) -> (...)."""
    return wasserstein_circle_equal(circle_coordinates(x, projections), circle_coordinates(y, projections), p).mean(-1)


def ssw2_to_uniform(x: torch.Tensor, projections: torch.Tensor) -> torch.Tensor:
    """SSW_2^2 between the equal-weight points x (..., n, d) and the uniform law on the sphere -> (...)."""
    u = torch.sort(circle_coordinates(x, projections), dim=-1).values  # (..., P, n)
    n = u.shape[-1]
    i = torch.arange(n, dtype=u.dtype, device=u.device)
    w2 = (u**2).mean(-1) - u.mean(-1) ** 2 + (u * (1.0 - 1.0 / n - 2.0 * i / n)).mean(-1) + 1.0 / 12.0
    return w2.mean(-1)


class SSWLoss(nn.Module):
    """Losses built on SSW between vMF draws; ``forward(music_mu, music_kappa, video_mu, video_kappa)``.

    Each item and modality gets S reparameterised vMF draws (the empirical distribution the SSW sees).
    ``ssw_mode``:

    - ``"pair"`` (default; our reading of Nakatsuka et al. 2024, who combine probabilistic contrastive
      learning with SSW): MCInfoNCE(draws) + ``weight`` * mean_i SSW_2^2(music draws of i, video draws
      of i), the distributions of a positive pair pulled together by SSW, the negatives pushed apart by
      MCInfoNCE (Kirchhof et al. 2023; t learnable).
    - ``"uniform"``: Bonet et al.'s self-supervised recipe (ICLR 2023) across modalities: the alignment
      mean_{i,s} |z^s_i - y^s_i|^2 of the paired draws + ``weight`` * [SSW_2^2(music means, Unif) +
      SSW_2^2(video means, Unif)] / 2, the batch's item locations pushed towards the uniform law (no
      explicit negatives). The uniformity is on the means: on the draws, the loss is met by spreading
      every item (kappa at its floor, measured: retrieval near chance on the score-video set).
    - ``"logits"``: a contrastive loss on the distributions themselves, logits_ij = -t SSW_2^2(music
      draws of i, video draws of j), t = 1/tau learnable, symmetric cross-entropy over the batch; B^2
      SSW evaluations (B = 256, S = 8, P = 20: about 1 s per step on one CPU thread; B = 64: 1/16).

    Args:
        ssw_mode: see above.
        weight: lambda, the weight of the SSW term ("pair") or of the uniformity term ("uniform"); our
            choice (the paper's value is not public): SSW_2^2 is in turns^2, at most 1/12 against the
            uniform law, an order below the contrastive term, hence 10.
        n_samples: S, vMF draws per item and modality.
        n_projections: P, great circles per evaluation.
        p: the ground power (2: SSW_2^2).
        init_scale: initial inverse temperature of the contrastive term ("pair": MCInfoNCE's t,
            Kirchhof: 20; "logits": 1/tau on SSW_2^2, in 1/turns^2, default 100: SSW_2^2 of unrelated
            items is a few hundredths, so the initial logits differ by a few units).
        seed: seed of the projections' generator; in training the projections are redrawn every call
            from it, so a run is reproducible and the slices are still averaged over steps; in eval mode
            one fixed set (the first of the stream), so validation losses compare across epochs.
    """

    def __init__(self, ssw_mode: Literal["pair", "uniform", "logits"] = "pair", weight: float = 10.0,
                 n_samples: int = 16, n_projections: int = 50, p: float = 2.0, init_scale: float | None = None,
                 max_scale: float = 1000.0, seed: int = 0) -> None:
        super().__init__()
        if ssw_mode not in ("pair", "uniform", "logits"):
            raise ValueError(f"ssw_mode must be 'pair', 'uniform' or 'logits', got {ssw_mode!r}")
        self.ssw_mode, self.weight, self.p = ssw_mode, float(weight), float(p)
        self.n_samples, self.n_projections = int(n_samples), int(n_projections)
        default_scale = {"pair": 20.0, "logits": 100.0, "uniform": 1.0}[ssw_mode]
        self.scale = LearnableScale(init_scale if init_scale is not None else default_scale, max_scale)
        self.scale.log_scale.requires_grad_(ssw_mode != "uniform")
        self.seed = int(seed)
        self.generator = torch.Generator().manual_seed(self.seed)
        self.terms: dict[str, torch.Tensor] = {}

    def projections(self, d: int, like: torch.Tensor) -> torch.Tensor:
        """(P, d, 2): the next ones of the run's stream in training; in eval mode always the same set."""
        gen = self.generator if self.training else torch.Generator().manual_seed(self.seed)
        return sphere_projections(d, self.n_projections, gen, like.dtype).to(like.device)

    def forward(self, music_mu: torch.Tensor, music_kappa: torch.Tensor, video_mu: torch.Tensor,
                video_kappa: torch.Tensor) -> torch.Tensor:
        z = sample_vmf(music_mu, music_kappa, self.n_samples)  # (S, B, D)
        y = sample_vmf(video_mu, video_kappa, self.n_samples)
        proj = self.projections(z.shape[-1], z)
        t = self.scale()
        if self.ssw_mode == "pair":
            contrastive = mc_infonce_from_draws(z, y, t)
            pair = ssw(z.transpose(0, 1), y.transpose(0, 1), proj, self.p).mean()  # per item: S vs S draws
            self.terms = {"contrastive": contrastive.detach(), "ssw": pair.detach(), "scale": t.detach()}
            return contrastive + self.weight * pair
        if self.ssw_mode == "uniform":
            align = ((z - y) ** 2).sum(-1).mean()
            unif = 0.5 * (ssw2_to_uniform(music_mu, proj) + ssw2_to_uniform(video_mu, proj))
            self.terms = {"align": align.detach(), "uniformity": unif.detach()}
            return align + self.weight * unif
        dist = pairwise_ssw(z.transpose(0, 1), y.transpose(0, 1), proj, self.p)  # (B, B)
        self.terms = {"ssw_pos": dist.diagonal().mean().detach(), "scale": t.detach()}
        return symmetric_cross_entropy(-t * dist)

    def extra_repr(self) -> str:
        return (f"ssw_mode={self.ssw_mode!r}, weight={self.weight}, n_samples={self.n_samples}, "
                f"n_projections={self.n_projections}, p={self.p}")


def pairwise_ssw(x: torch.Tensor, y: torch.Tensor, projections: torch.Tensor, p: float = 2.0,
                 chunk: int = 16) -> torch.Tensor:
    """SSW_p^p between every set of x (B, n, d) and every set of y (B', n, d) -> (B, B'), by row chunks."""
    cx, cy = circle_coordinates(x, projections), circle_coordinates(y, projections)  # (B, P, n)
    rows = [wasserstein_circle_equal(cx[i : i + chunk, None], cy[None], p).mean(-1) for i in range(0, len(cx), chunk)]
    return torch.cat(rows)
