"""Linear metric learning (tutorial part 1, docs/protocols.md#tutorial-knn): StandardScaler -> x -> L x -> 1-NN.

A :class:`MetricLearner` turns the training arrays into a linear map L (D_out, D_in) fitted in one shot;
distances are ||L x - L x'||. :class:`LinearMetricMethod` wraps one as a LightningModule that fits at
its first training step (one epoch, no gradient) so that every row of a table goes through
``mirbench fit``/``mirbench test``. Learners: :class:`Euclidean` (L = I: the plain 1-NN baseline),
:class:`LDA` and :class:`NCA` (scikit-learn), :class:`mirbench.methods.lmnn.LMNN` (torch).
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.neighbors import NeighborhoodComponentsAnalysis

from mirbench.data.base import DataInfo
from mirbench.methods.embedding import EmbeddingMethod


class MetricLearner:
    """``fit(x (N, D_in), y (N,)) -> L (D_out, D_in)`` float64 on ``x``'s device."""

    def fit(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class Euclidean(MetricLearner):
    """L = I: distances in the (standardised) input space."""

    def fit(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.eye(x.shape[1], dtype=torch.float64, device=x.device)


class LDA(MetricLearner):
    """Linear discriminant analysis (scikit-learn ``LinearDiscriminantAnalysis``, the tutorial's defaults:
    SVD solver, at most C - 1 components). Its transform (x - mean) @ scalings is L x up to a shift."""

    def __init__(self, n_components: int | None = None, solver: str = "svd", tol: float = 1e-4) -> None:
        self.n_components, self.solver, self.tol = n_components, solver, tol

    def fit(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        lda = LinearDiscriminantAnalysis(n_components=self.n_components, solver=self.solver, tol=self.tol)
        lda.fit(x.cpu().double().numpy(), y.cpu().numpy())
        scalings = np.asarray(lda.scalings_)[:, : lda._max_components]
        return torch.as_tensor(scalings.T.copy(), dtype=torch.float64, device=x.device)


class NCA(MetricLearner):
    """Neighbourhood components analysis (scikit-learn ``NeighborhoodComponentsAnalysis``; the tutorial
    used metric-learn's NCA with ``random_state=2020``, which optimises the same objective)."""

    def __init__(self, n_components: int | None = None, init: str = "auto", max_iter: int = 50,
                 tol: float = 1e-5, random_state: int | None = 2020) -> None:
        self.n_components, self.init, self.max_iter, self.tol = n_components, init, max_iter, tol
        self.random_state = random_state

    def fit(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        nca = NeighborhoodComponentsAnalysis(n_components=self.n_components, init=self.init,
                                             max_iter=self.max_iter, tol=self.tol, random_state=self.random_state)
        nca.fit(x.cpu().double().numpy(), y.cpu().numpy())
        self.n_iter_ = int(nca.n_iter_)
        return torch.as_tensor(nca.components_, dtype=torch.float64, device=x.device)


class LinearMetricMethod(EmbeddingMethod):
    """[StandardScaler ->] L x, with L from ``learner`` fitted on the whole training split at once.

    Run it with ``trainer.max_epochs=1``: the first training step fits (and counts as the one step); the
    other batches are skipped. A checkpoint holds L and the scaler, so a fitted model is never refitted.
    Embeddings are float64.
    """

    def __init__(self, learner: MetricLearner, standardize: bool = True, knn_k: int = 1,
                 save_embeddings: bool = True, data_info: DataInfo | None = None) -> None:
        super().__init__(standardize=standardize, knn_k=knn_k, save_embeddings=save_embeddings, data_info=data_info)
        self.learner = learner
        self.automatic_optimization = False
        dim = int(self.feat_mean.shape[0])
        self.register_buffer("components", torch.eye(dim, dtype=torch.float64))
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))

    def configure_optimizers(self):
        # the one-shot fit counts as one (no-op) optimiser step, so that Lightning's step counter and
        # checkpointing (`mirbench test --ckpt_path ...`) work as for any other method
        return torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.0)

    @torch.no_grad()
    def fit_learner(self) -> None:
        """Fit ``learner`` on the (standardised) training split; L goes into the ``components`` buffer."""
        x, y = self.data_arrays("train")
        x = self.preprocess(torch.as_tensor(np.asarray(x), device=self.device), torch.float64)
        self.components = self.learner.fit(x, torch.as_tensor(np.asarray(y), device=self.device)).to(torch.float64)
        self.fitted.fill_(True)

    def training_step(self, batch: dict, batch_idx: int) -> None:
        if not bool(self.fitted):
            self.fit_learner()
            self.optimizers().step()

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.preprocess(x, torch.float64) @ self.components.T
