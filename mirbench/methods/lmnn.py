"""Large-margin nearest neighbours (LMNN; Weinberger, Blitzer & Saul, NIPS 2005) in torch, CPU or GPU.

The tutorial (docs/protocols.md#tutorial-knn) ran metric-learn 0.6.2's ``LMNN(init='pca', random_state=2020)`` on the
unscaled features; metric-learn does not work with today's scikit-learn, so this re-implements the same
procedure: target neighbours fixed in the input space (k = 3), the objective of
:mod:`mirbench.losses.lmnn` (margin 1, ``regularization`` 0.5 weighing pull against push), L
initialised with the principal axes of the data (PCA components: a rotation, so the starting distances
are the input distances), and full-batch (sub)gradient descent with metric-learn's step-size rule --
start at ``learn_rate`` 1e-7; a step that raises the loss is retried with half the step; an accepted
step grows the step by 1 %; stop after ``max_iter`` iterations, or once past ``min_iter`` when the loss
changes by less than ``convergence_tol``. As in metric-learn, every evaluation searches the impostors
afresh (one matrix product, :func:`mirbench.losses.lmnn.lmnn_candidates`), so the loss and gradient are
exact; on the tutorial's 1,200 notes, 1,000 iterations take about 10-15 s on one CPU thread.

Scale matters: metric-learn's LMNN does not standardise its inputs and neither does this learner; the
tutorial's LMNN row runs on the raw features (``LinearMetricMethod(standardize=False)``), whose squared
distances reach ~1e6 -- hence float64 by default.
"""

from __future__ import annotations

import torch

from mirbench.losses.lmnn import lmnn_loss_and_grad, lmnn_target_neighbors
from mirbench.methods.linear import MetricLearner

DTYPES = {"float64": torch.float64, "float32": torch.float32}


def pca_components(x: torch.Tensor, n_components: int | None = None) -> torch.Tensor:
    """Principal axes (n_components, D) of ``x`` (N, D), largest variance first (signs arbitrary)."""
    xc = x - x.mean(0)
    _, _, vh = torch.linalg.svd(xc, full_matrices=False)
    return vh[: n_components or x.shape[1]]


class LMNN(MetricLearner):
    """LMNN learner: ``fit(x, y) -> L``; after fitting, ``n_iter_``, ``loss_`` and ``history_``
    (per iteration: loss, active triplets, step size) describe the run.

    Args:
        k: target neighbours per point (metric-learn ``k``/``n_neighbors``, default 3).
        margin: the hinge margin (1 on the slides and in metric-learn).
        regularization: weight of the pull term; push gets ``1 - regularization``.
        init: ``pca`` (as the tutorial) or ``identity``.
        n_components: output dimension (default: input dimension).
        max_iter, min_iter, learn_rate, convergence_tol: metric-learn 0.6 defaults.
        dtype: ``float64`` (default; the unscaled features reach ~1e6 in squared distance) or ``float32``.
        chunk_size: anchors per block of the candidate search (memory O(chunk_size x N)).
    """

    def __init__(self, k: int = 3, margin: float = 1.0, regularization: float = 0.5, init: str = "pca",
                 n_components: int | None = None, max_iter: int = 1000, min_iter: int = 50,
                 learn_rate: float = 1e-7, convergence_tol: float = 1e-3, dtype: str = "float64",
                 chunk_size: int = 2048, verbose: bool = False) -> None:
        if init not in ("pca", "identity"):
            raise ValueError(f"init must be 'pca' or 'identity', got {init!r}")
        if dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {list(DTYPES)}, got {dtype!r}")
        self.k, self.margin, self.regularization, self.init = k, margin, regularization, init
        self.n_components, self.max_iter, self.min_iter = n_components, max_iter, min_iter
        self.learn_rate, self.convergence_tol, self.dtype = learn_rate, convergence_tol, dtype
        self.chunk_size, self.verbose = chunk_size, verbose

    def initial_components(self, x: torch.Tensor) -> torch.Tensor:
        if self.init == "pca":
            return pca_components(x, self.n_components)
        return torch.eye(self.n_components or x.shape[1], x.shape[1], dtype=x.dtype, device=x.device)

    def fit(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        x = x.to(DTYPES[self.dtype])
        x = x - x.mean(0)  # distances do not change; rounding in ||a||^2 + ||b||^2 - 2ab does
        y = torch.unique(y, return_inverse=True)[1].to(x.device)
        targets = lmnn_target_neighbors(x, y, self.k)
        def objective(L):
            return lmnn_loss_and_grad(x, L, y, targets, self.margin, self.regularization,
                                      chunk_size=self.chunk_size)

        L = self.initial_components(x)
        loss, grad, active = objective(L)
        lr = float(self.learn_rate)
        self.history_ = [(loss, active, lr)]
        it = 1
        for it in range(2, self.max_iter):
            for _ in range(200):  # halve the step until the loss does not rise
                L_next = L - lr * grad
                loss_next, grad_next, active_next = objective(L_next)
                delta = loss_next - loss
                if delta <= 0:
                    break
                lr /= 2
            else:
                break  # no descent at any step size: a (sub)gradient stationary point
            L, loss, grad, active = L_next, loss_next, grad_next, active_next
            lr *= 1.01
            self.history_.append((loss, active, lr))
            if self.verbose:
                print(f"LMNN it {it}: loss {loss:.6g} delta {delta:.3g} active {active} lr {lr:.3g}")
            if it > self.min_iter and abs(delta) < self.convergence_tol:
                break
        self.n_iter_, self.loss_ = it, loss
        return L.to(torch.float64)
