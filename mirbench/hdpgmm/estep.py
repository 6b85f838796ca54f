"""Song-level (local) coordinate ascent of the online HDP (Wang, Paisley & Blei 2011, eqs. 17-20) with
Gaussian-Wishart atoms, batched over padded songs.

Per song j (frames n, song atoms t < T, corpus atoms k < K), given ``E[ln p(x_jn | k)]`` and ``E[ln beta]``:

    varphi_jtk  ∝ exp(E[ln beta_k] + sum_n zeta_jnt E[ln p(x_jn|k)])         (song atom -> corpus atom)
    a_jt = 1 + sum_n zeta_jnt,   b_jt = E[alpha0_j] + sum_n sum_{s>t} zeta_jns   (song sticks)
    zeta_jnt    ∝ exp(E[ln pi_jt] + sum_k varphi_jtk E[ln p(x_jn|k)])       (frame -> song atom)
    w_j = (s1 + T - 1, s2 - sum_t E[ln(1 - pi'_jt)])                         (per-song alpha0, Gamma)

iterated until the batch ELBO's relative gain is below ``tol`` (Kim & Liem: 1e-6, at most 1000 steps).
Everything stays in the log domain; the frame part of the ELBO is the sum of zeta's log-normalisers.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .linalg import _FLOOR_THRESHOLD, LOG_FLOOR, exp_flush, log_normalise
from .sticks import gamma_elbo_term, stick_elbo_term, stick_expectations, stick_posterior_counts


@dataclass
class EStepResult:
    """Local variational parameters of a batch of M songs (L padded frames, T song atoms, K corpus atoms)."""

    log_zeta: torch.Tensor  # (M, L, T); padded frames hold arbitrary values
    log_varphi: torch.Tensor  # (M, T, K)
    a: torch.Tensor  # (M, T-1)
    b: torch.Tensor  # (M, T-1)
    w: torch.Tensor  # (M, 2) Gamma(shape, rate) of alpha0_j
    elbo: torch.Tensor  # (M,) per-song local ELBO at the returned state
    n_iter: int


def init_log_zeta(mask: torch.Tensor, n_atoms: int, dtype, generator: torch.Generator | None = None) -> torch.Tensor:
    """Random normalised frame -> song-atom responsibilities (the reference's initialisation), ``(M, L, T)``."""
    u = torch.rand(*mask.shape, n_atoms, dtype=dtype, device=mask.device, generator=generator)
    return torch.log_softmax(torch.log(u.clamp_min(1e-12)), dim=-1)


def init_log_zeta_top_atoms(
    eq_eta: torch.Tensor, mask: torch.Tensor, elog_beta: torch.Tensor, n_atoms: int, s1: float, s2: float
) -> torch.Tensor:
    """Deterministic start: song atom t <- the corpus atom that is the MAP atom
    (``argmax_k E ln beta_k + E ln p(x|k)``) of the t-th most frames of the song; then frames -> song
    atoms under the prior sticks.

    Random starts leave the T song atoms nearly exchangeable, and coordinate ascent takes hundreds of
    sweeps to separate them; this start is typically within a few sweeps of the fixed point.
    """
    n_songs, _, k = eq_eta.shape
    best = (elog_beta + eq_eta).argmax(-1)  # (M, L)
    counts = torch.zeros(n_songs, k, dtype=eq_eta.dtype, device=eq_eta.device)
    counts.scatter_add_(1, best, mask.to(eq_eta.dtype))
    # ties (e.g. atoms no frame prefers) are broken towards the larger corpus weight
    counts = counts + torch.softmax(elog_beta, -1) * 1e-3
    n_top = min(n_atoms, k)
    top = counts.topk(n_top, dim=-1).indices  # (M, n_top)
    g = torch.gather(eq_eta, 2, top[:, None, :].expand(-1, eq_eta.shape[1], -1))
    if n_top < n_atoms:  # fewer corpus atoms than song atoms: the spare song atoms repeat the best one
        g = torch.cat([g, g[..., :1].expand(-1, -1, n_atoms - n_top)], dim=-1)
    a = torch.ones(n_songs, n_atoms - 1, dtype=eq_eta.dtype, device=eq_eta.device)
    _, _, elog_pi = stick_expectations(a, a * (s1 / s2))
    return log_normalise(g + elog_pi[:, None, :])


def e_step(
    eq_eta: torch.Tensor,
    mask: torch.Tensor,
    elog_beta: torch.Tensor,
    n_atoms: int,
    s1: float = 1.0,
    s2: float = 1.0,
    tol: float = 1e-6,
    max_iter: int = 1000,
    init: EStepResult | None = None,
    generator: torch.Generator | None = None,
    start: str = "top_atoms",
) -> EStepResult:
    """Run the local updates on ``eq_eta`` ``(M, L, K)`` (``E[ln p(x|k)]``, zero on padding) with
    ``mask`` ``(M, L)`` bool, corpus ``elog_beta`` ``(K,)`` and ``n_atoms`` = T song atoms.

    ``init`` (a previous result for the same songs) warm-starts ``zeta`` and ``w``; otherwise ``w``
    starts at the prior ``(s1, s2)`` and ``zeta`` at ``start``: ``"top_atoms"``
    (:func:`init_log_zeta_top_atoms`) or ``"random"`` (random responsibilities, as the reference code).
    """
    dtype = eq_eta.dtype
    elog_beta = elog_beta.to(dtype)
    maskf = mask.to(dtype)
    eq_eta = eq_eta * maskf[..., None]
    if init is None:
        if start == "random":
            log_zeta = init_log_zeta(mask, n_atoms, dtype, generator)
        elif start == "top_atoms":
            log_zeta = init_log_zeta_top_atoms(eq_eta, mask, elog_beta, n_atoms, s1, s2)
        else:
            raise ValueError(f"unknown E-step start {start!r}")
        w = torch.empty(eq_eta.shape[0], 2, dtype=dtype, device=eq_eta.device)
        w[:, 0], w[:, 1] = s1, s2
    else:
        log_zeta, w = init.log_zeta, init.w
    zeta = exp_flush(log_zeta) * maskf[..., None]
    log_zeta_buf = torch.empty_like(zeta)  # the caller's log_zeta (a warm start) is never written
    old = None
    for it in range(1, max_iter + 1):
        # song atom -> corpus atom
        log_varphi = log_normalise(elog_beta + torch.bmm(zeta.transpose(1, 2), eq_eta))
        varphi = exp_flush(log_varphi)
        # song sticks, with E[alpha0_j] from the current w_j
        head, tail = stick_posterior_counts(zeta.sum(1))
        a = 1.0 + head
        b = (w[:, 0] / w[:, 1])[:, None] + tail
        _, elog_1mv, elog_pi = stick_expectations(a, b)
        # frame -> song atom, in the two (M, L, T) buffers: the previous log_zeta and zeta are not needed now
        logits = torch.bmm(eq_eta, varphi.transpose(1, 2), out=log_zeta_buf).add_(elog_pi[:, None, :])
        log_zeta, lse, zeta = _frame_responsibilities(logits, maskf, zeta)
        # per-song concentration
        w = torch.stack([torch.full_like(w[:, 0], s1 + n_atoms - 1.0), s2 - elog_1mv.sum(-1)], dim=-1)
        elbo = (
            (lse * maskf).sum(-1)
            + (varphi * (elog_beta - log_varphi)).sum((-2, -1))
            + stick_elbo_term(a, b, w[:, 0], w[:, 1])
            + gamma_elbo_term(w[:, 0], w[:, 1], s1, s2)
        )
        total = float(elbo.sum())
        if old is not None and (total - old) <= tol * abs(old):
            break
        old = total
    return EStepResult(log_zeta, log_varphi, a, b, w, elbo, it)


def _frame_responsibilities(logits: torch.Tensor, maskf: torch.Tensor, buf: torch.Tensor
                            ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(log_zeta, lse, zeta)`` from ``logits`` ``(M, L, T)``, which becomes ``log_zeta``; ``zeta`` is
    written into ``buf`` (same shape, its contents unused).

    Exactly the values of ``logits - logsumexp(logits)`` and ``exp_flush(log_zeta) * mask`` (the same
    operations in the same order), without allocating: these element-wise passes are memory-bound, and a
    fresh buffer of this size costs its page faults every sweep.
    """
    m = _last_dim_max(logits)
    m = torch.where(torch.isfinite(m), m, torch.zeros_like(m))
    terms = torch.sub(logits, m, out=buf).clamp_min_(LOG_FLOOR).exp_()
    lse = terms.sum(-1, keepdim=True).log_().add_(m)
    log_zeta = logits.sub_(lse)
    zeta = torch.clamp_min(log_zeta, LOG_FLOOR, out=buf).exp_()
    torch.nn.functional.threshold_(zeta, _FLOOR_THRESHOLD, 0.0)
    return log_zeta, lse.squeeze(-1), zeta.mul_(maskf[..., None])


def _last_dim_max(x: torch.Tensor) -> torch.Tensor:
    """``x.amax(-1, keepdim=True)``; for a last dimension of 2-16 by pairwise halving, which is exact (a
    maximum does not round) and 2-3x faster than torch's reduction over so short an inner dimension."""
    n = x.shape[-1]
    if n > 16 or n & (n - 1):
        return x.amax(-1, keepdim=True)
    while x.shape[-1] > 1:
        h = x.shape[-1] // 2
        x = torch.maximum(x[..., :h], x[..., h:])
    return x


def local_elbo(
    eq_eta: torch.Tensor,
    mask: torch.Tensor,
    elog_beta: torch.Tensor,
    state: EStepResult,
    s1: float = 1.0,
    s2: float = 1.0,
) -> torch.Tensor:
    """Per-song local ELBO ``(M,)`` of an arbitrary local state, evaluated term by term (no shortcut):

    sum_n sum_t zeta_nt [sum_k varphi_tk E ln p(x_n|k) + E ln pi_t - ln zeta_nt]
    + sum_t sum_k varphi_tk [E ln beta_k - ln varphi_tk] + E[ln p(pi') - ln q(pi')] + E[ln p(alpha0) - ln q(alpha0)]
    """
    dtype = eq_eta.dtype
    maskf = mask.to(dtype)[..., None]
    zeta = exp_flush(state.log_zeta) * maskf
    varphi = exp_flush(state.log_varphi)
    _, _, elog_pi = stick_expectations(state.a, state.b)
    g = torch.bmm(eq_eta * maskf, varphi.transpose(1, 2))
    log_zeta = torch.where(maskf.bool(), state.log_zeta, torch.zeros_like(state.log_zeta))
    frame = (zeta * (g + elog_pi[:, None, :] - log_zeta)).sum((-2, -1))
    atom = (varphi * (elog_beta.to(dtype) - state.log_varphi)).sum((-2, -1))
    sticks = stick_elbo_term(state.a, state.b, state.w[:, 0], state.w[:, 1])
    conc = gamma_elbo_term(state.w[:, 0], state.w[:, 1], s1, s2)
    return frame + atom + sticks + conc
