"""The LMNN objective (Weinberger, Blitzer & Saul, NIPS 2005; docs/protocols.md#tutorial-losses), in torch.

With z = L x, target neighbours T(i) (the k nearest same-class points of i in the *input* space, fixed)
and d(i, j) = ||z_i - z_j||^2:

    pull = sum_i sum_{j in T(i)} d(i, j)
    push = sum_i sum_{j in T(i)} sum_{l: y_l != y_i} max(0, margin + d(i, j) - d(i, l))
    loss = regularization * pull + (1 - regularization) * push

``regularization`` weighs pull against push as in metric-learn 0.6 (0.5 = equal weight). A triplet is
*active* when its hinge is strictly positive (l is an impostor of the pair (i, j)).

:func:`lmnn_loss` is the dense, differentiable form (O(N^2 k) memory; small N, tests).
:func:`lmnn_loss_and_grad` gives the same loss and its (sub)gradient in L in closed form, as metric-learn
does: one matrix product finds, per anchor i, the candidate impostors l with d(i, l) < margin + max_j
d(i, j) (the only ones that can be active; :func:`lmnn_candidates`); everything after that runs on that
short list, which a solver may also keep across steps while it provably still covers every active pair.
"""

from __future__ import annotations

import numpy as np
import torch


def lmnn_target_neighbors(x: torch.Tensor, labels: torch.Tensor, k: int = 3) -> torch.Tensor:
    """(N, k) indices of each point's k nearest same-class neighbours (squared Euclidean, self excluded)."""
    counts = torch.bincount(labels)
    if int(counts[counts > 0].min()) <= k:
        raise ValueError(f"every class needs more than k={k} points (smallest has {int(counts[counts > 0].min())})")
    out = torch.empty(x.shape[0], k, dtype=torch.long, device=x.device)
    for c in torch.unique(labels):
        idx = torch.nonzero(labels == c, as_tuple=True)[0]
        xc = x[idx]
        d = ((xc[:, None, :] - xc[None, :, :]) ** 2).sum(-1)
        d.fill_diagonal_(float("inf"))
        # stable sort: among equidistant neighbours the lower index wins (deterministic)
        out[idx] = idx[torch.sort(d, dim=1, stable=True).indices[:, :k]]
    return out


def lmnn_loss(z: torch.Tensor, labels: torch.Tensor, targets: torch.Tensor, margin: float = 1.0,
              regularization: float = 0.5) -> torch.Tensor:
    """The LMNN loss of embeddings ``z`` (N, D) (differentiable; dense (N, k, N))."""
    d = ((z[:, None, :] - z[None, :, :]) ** 2).sum(-1)
    dt = d.gather(1, targets)
    impostor = (labels[:, None] != labels[None, :])[:, None, :]
    hinge = torch.relu(margin + dt[:, :, None] - d[:, None, :]) * impostor
    return regularization * dt.sum() + (1.0 - regularization) * hinge.sum()


def lmnn_candidates(z: torch.Tensor, labels: torch.Tensor, radius: torch.Tensor, chunk_size: int = 2048,
                    search_dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """Pairs (i, l), y_i != y_l, with ||z_i - z_l||^2 < radius_i, plus a few more (a slack covers rounding).

    One matrix product per chunk of anchors, with ||z_l||^2 and the class test folded in:
    [z_i, s e_yi, 1] . [-2 z_l, 2 s e_yl, ||z_l||^2] = ||z_l||^2 - 2 z_i.z_l + 2 s^2 [y_i == y_l]
    (e_y the one-hot class vector, s large), compared with radius_i - ||z_i||^2. The product may run in
    ``search_dtype`` (float32: twice as fast); the slack is set above its rounding error.
    """
    n = z.shape[0]
    sq = (z * z).sum(1)
    scale = float(sq.max() + radius.max()) + 1.0
    onehot = torch.nn.functional.one_hot(labels).to(z.dtype) * (2.0 * scale) ** 0.5
    ones = torch.ones(n, 1, dtype=z.dtype, device=z.device)
    left = torch.cat([z, onehot, ones], 1).to(search_dtype)
    right = torch.cat([-2.0 * z, 2.0 * onehot, sq[:, None]], 1).to(search_dtype)
    eps = torch.finfo(search_dtype).eps
    bound = (radius - sq + 64.0 * (z.shape[1] + 2) * eps * scale).to(search_dtype)
    ii, ll = [], []
    for start in range(0, n, chunk_size):
        rows = slice(start, min(start + chunk_size, n))
        if z.device.type == "cpu":  # numpy's compare and flatnonzero are several times faster on CPU
            flat = np.flatnonzero(left[rows].numpy() @ right.numpy().T < bound[rows, None].numpy())
            i, l = torch.from_numpy(flat // n), torch.from_numpy(flat % n)
        else:
            i, l = torch.nonzero(left[rows] @ right.T < bound[rows, None], as_tuple=True)
        ii.append(i + start)
        ll.append(l)
    return torch.cat(ii), torch.cat(ll)


@torch.no_grad()
def lmnn_loss_and_grad(x: torch.Tensor, L: torch.Tensor, labels: torch.Tensor, targets: torch.Tensor,
                       margin: float = 1.0, regularization: float = 0.5,
                       candidates: tuple[torch.Tensor, torch.Tensor] | None = None,
                       chunk_size: int = 2048) -> tuple[float, torch.Tensor, int]:
    """``(loss, dloss/dL, number of active triplets)`` for inputs ``x`` (N, D_in) and ``L`` (D_out, D_in).

    The loss is a weighted sum of squared distances (+ a constant): weight regularization +
    (1 - regularization) * #active on each target pair (i, j), -(1 - regularization) * #active on each
    impostor pair (i, l). Its gradient in z_i is 2 sum_p w_ip (z_i - z_p), its mirror in z_p, and
    dloss/dL = (dloss/dz)^T x. ``candidates`` (i, l) must include every pair that can be active (see
    :func:`lmnn_candidates`, computed here when not given).
    """
    reg, push_w = float(regularization), 1.0 - float(regularization)
    z = x @ L.T
    diff_t = z[:, None, :] - z[targets]  # (N, k, D)
    dt = (diff_t**2).sum(-1)  # (N, k)
    if candidates is None:
        candidates = lmnn_candidates(z, labels, margin + dt.max(1).values, chunk_size)
    ii, ll = candidates
    diff_il = z[ii] - z[ll]
    d_il = (diff_il**2).sum(-1)
    h = margin + dt[ii] - d_il[:, None]  # (C, k): hinge of (i, T(i)_j, l)
    act = h > 0
    n_il = act.sum(1).to(z.dtype)  # active triplets per impostor pair
    n_t = torch.zeros_like(dt).index_add_(0, ii, act.to(z.dtype))  # per target pair
    loss = reg * float(dt.sum()) + push_w * float((h * act).sum())
    dz = torch.zeros_like(z)
    g_t = 2.0 * (reg + push_w * n_t)[..., None] * diff_t  # (N, k, D)
    dz += g_t.sum(1)
    dz.index_add_(0, targets.reshape(-1), -g_t.reshape(-1, z.shape[1]))
    g_il = (-2.0 * push_w) * n_il[:, None] * diff_il
    dz.index_add_(0, ii, g_il)
    dz.index_add_(0, ll, -g_il)
    return loss, dz.T @ x, int(n_il.sum())
