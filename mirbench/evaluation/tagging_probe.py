"""Auto-tagging probe of Kim & Liem (ISMIR 2022; docs/protocols.md#kim-probes; MTAT, macro ROC-AUC).

StandardScaler -> multi-label logistic regression trained with Adam on
``(sum BCE + alpha ||W||^2) / batch`` for ``max_iter`` epochs over unshuffled mini-batches
(eldrin/hdpgmm-music-experiments ``LitSKLogisticRegression``); RandomizedSearchCV (32 draws) over
``alpha ~ loguniform(1e-4, 1e4)``, ``learning_rate ~ loguniform(1e-7, 1e-1)``,
``batch_size in {256, 512, 1024, 2048}``, ``max_iter in {250, 500, 1000, 2000}``, one predefined fold
(train / valid), refit on train + valid; macro ROC-AUC of ``log sigmoid`` scores over tags with at
least one positive (and one negative) test clip.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.stats import loguniform
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from mirbench.evaluation.genre_probe import tuned_on_valid

SEARCH_SPACE = {
    "lr__alpha": loguniform(1e-4, 1e4),
    "lr__learning_rate": loguniform(1e-7, 1e-1),
    "lr__batch_size": [256, 512, 1024, 2048],
    "lr__max_iter": [250, 500, 1000, 2000],
}


class MultiLabelLogisticRegression(ClassifierMixin, BaseEstimator):
    """Independent logistic regressions for T tags (one linear layer), Adam, L2 on the weights only."""

    def __init__(
        self,
        alpha: float = 1e-4,
        learning_rate: float = 1e-4,
        max_iter: int = 1000,
        batch_size: int = 256,
        shuffle: bool = False,
        seed: int = 0,
    ) -> None:
        self.alpha, self.learning_rate, self.max_iter = alpha, learning_rate, max_iter
        self.batch_size, self.shuffle, self.seed = batch_size, shuffle, seed

    def fit(self, x: np.ndarray, y: np.ndarray) -> "MultiLabelLogisticRegression":
        """Adam on ``(sum BCE + alpha ||W||^2) / batch``: gradients written out (``(sigmoid(z) - y) / m``) and
        ``torch.optim.Adam``'s update (betas 0.9 / 0.999, eps 1e-8) done in place, without autograd: the same
        iterates, several times faster on the probe's small problems (the search fits it 33 times)."""
        gen = torch.Generator().manual_seed(self.seed)
        xt = torch.as_tensor(np.asarray(x), dtype=torch.float32)
        yt = torch.as_tensor(np.asarray(y), dtype=torch.float32)
        self.classes_ = np.arange(yt.shape[1])
        bound = 1.0 / np.sqrt(xt.shape[1])  # torch.nn.Linear's default init, drawn from our generator
        weight = torch.empty(yt.shape[1], xt.shape[1]).uniform_(-bound, bound, generator=gen)
        bias = torch.empty(yt.shape[1]).uniform_(-bound, bound, generator=gen)
        params = (weight, bias)
        avg, avg_sq = [torch.zeros_like(p) for p in params], [torch.zeros_like(p) for p in params]
        beta1, beta2, eps, lr = 0.9, 0.999, 1e-8, float(self.learning_rate)
        n, step = xt.shape[0], 0
        batches = None if self.shuffle else [(xt[s : s + self.batch_size], yt[s : s + self.batch_size])
                                              for s in range(0, n, self.batch_size)]
        with torch.no_grad():
            for _ in range(self.max_iter):
                if self.shuffle:
                    order = torch.randperm(n, generator=gen)
                    batches = [(xt[order[s : s + self.batch_size]], yt[order[s : s + self.batch_size]])
                               for s in range(0, n, self.batch_size)]
                for xb, yb in batches:
                    m = xb.shape[0]
                    g = torch.addmm(bias, xb, weight.T).sigmoid_().sub_(yb).div_(m)
                    grads = (torch.addmm(weight, g.T, xb, beta=2.0 * self.alpha / m), g.sum(0))
                    step += 1
                    bc1, bc2_sqrt = 1 - beta1**step, (1 - beta2**step) ** 0.5
                    for p, gr, ea, eas in zip(params, grads, avg, avg_sq):
                        ea.lerp_(gr, 1 - beta1)
                        eas.mul_(beta2).addcmul_(gr, gr, value=1 - beta2)
                        p.addcdiv_(ea, (eas.sqrt() / bc2_sqrt).add_(eps), value=-lr / bc1)
        self.coef_ = weight.numpy().copy()
        self.intercept_ = bias.numpy().copy()
        return self

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x, dtype=np.float32) @ self.coef_.T + self.intercept_

    def predict_log_proba(self, x: np.ndarray) -> np.ndarray:
        return torch.nn.functional.logsigmoid(torch.as_tensor(self.decision_function(x))).numpy()

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return np.exp(self.predict_log_proba(x))

    def predict(self, x: np.ndarray) -> np.ndarray:
        return (self.decision_function(x) > 0).astype(int)


def macro_auroc(y_true: np.ndarray, scores: np.ndarray) -> float:
    """Macro ROC-AUC over tags that have both positive and negative examples; -1000 if scores are not finite."""
    y_true = np.asarray(y_true)
    if not np.isfinite(scores).all():
        return -1e3
    pos = y_true.sum(0)
    good = (pos > 0) & (pos < y_true.shape[0])
    return float(roc_auc_score(y_true[:, good], scores[:, good], average="macro"))


def _auroc_scorer(estimator, x, y) -> float:
    return macro_auroc(y, estimator.predict_log_proba(x))


def tagging_probe(
    features: np.ndarray,
    tags: np.ndarray,
    split: np.ndarray,
    n_iter: int = 32,
    search_space: dict | None = None,
    seed: int = 2022,
    n_jobs: int | None = None,
    predictions: dict | None = None,
) -> dict[str, float]:
    """Macro ROC-AUC of the tuned multi-label probe: ``features`` ``(N, d)``, binary ``tags`` ``(N, T)``,
    ``split`` ``(N,)`` in {train, valid, test}. Returns ``test/macro_auroc``, ``valid/macro_auroc`` and
    the chosen hyper-parameters; a ``predictions`` dict given is filled with the test songs' ``true`` tags and
    ``scores`` (for :func:`mirbench.metrics.bootstrap.macro_auc_replicates`)."""
    x, y = np.asarray(features, dtype=np.float64), np.asarray(tags)
    est = Pipeline([("z_score", StandardScaler()), ("lr", MultiLabelLogisticRegression(seed=seed))])
    search, te = tuned_on_valid(est, search_space or SEARCH_SPACE, _auroc_scorer, x, y, split, n_iter, seed, n_jobs)
    scores = search.predict_log_proba(x[te])
    out = {
        "test/macro_auroc": macro_auroc(y[te], scores),
        "valid/macro_auroc": float(search.best_score_),
    }
    if predictions is not None:
        predictions.update(true=y[te], scores=scores)
    out.update({k.removeprefix("lr__"): float(v) for k, v in search.best_params_.items()})
    return out
