"""Genre classification probe of Kim & Liem (ISMIR 2022; docs/protocols.md#kim-probes; GTZAN, macro-F1).

StandardScaler -> LogisticRegression(max_iter=20000); RandomizedSearchCV over
``C ~ loguniform(1e-4, 1e4)`` (64 draws) with a single predefined fold (fit on train, select on valid
by macro-F1), refit on train + valid with the chosen C, macro-F1 on test.
(Some versions of the reference code draw C from loguniform(1e-3, 1e3) with 32 draws; both are flags.)
"""

from __future__ import annotations

import numpy as np
from scipy.stats import loguniform
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import RandomizedSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from mirbench.metrics.bootstrap import stat_replicates


def split_indices(split: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices of ``"train"``, ``"valid"`` and ``"test"`` entries of a per-item split array."""
    split = np.asarray(split)
    return tuple(np.flatnonzero(split == s) for s in ("train", "valid", "test"))


def tuned_on_valid(estimator, space: dict, scoring, x: np.ndarray, y: np.ndarray, split: np.ndarray, n_iter: int,
                   seed: int, n_jobs: int | None) -> tuple[RandomizedSearchCV, np.ndarray]:
    """Kim & Liem's model selection: ``n_iter`` draws from ``space`` scored by ``scoring`` on one predefined fold
    (fit on the train items, score on the valid items), refit on train + valid. Returns ``(the fitted search,
    indices of the test items)``."""
    tr, va, te = split_indices(split)
    trva = np.concatenate([tr, va])
    fold = [(np.arange(len(tr)), np.arange(len(tr), len(trva)))]
    search = RandomizedSearchCV(estimator, space, n_iter=n_iter, scoring=scoring, cv=fold, refit=True,
                                random_state=seed, n_jobs=n_jobs)
    search.fit(x[trva], y[trva])
    return search, te


def genre_probe(
    features: np.ndarray,
    labels: np.ndarray,
    split: np.ndarray,
    n_iter: int = 64,
    c_range: tuple[float, float] = (1e-4, 1e4),
    max_iter: int = 20000,
    seed: int = 2022,
    n_jobs: int | None = None,
    predictions: dict | None = None,
) -> dict[str, float]:
    """Macro-F1 of the tuned linear probe: ``features`` ``(N, d)``, integer/str ``labels`` ``(N,)``,
    ``split`` ``(N,)`` in {train, valid, test}. Returns ``test/macro_f1``, ``valid/macro_f1``, ``C``;
    a ``predictions`` dict given is filled with the test songs' ``true`` and ``pred`` labels."""
    x, y = np.asarray(features, dtype=np.float64), np.asarray(labels)
    est = Pipeline([("z_score", StandardScaler()), ("lr", LogisticRegression(max_iter=max_iter))])
    search, te = tuned_on_valid(est, {"lr__C": loguniform(*c_range)}, "f1_macro", x, y, split, n_iter, seed, n_jobs)
    pred = search.predict(x[te])
    out = {
        "test/macro_f1": float(f1_score(y[te], pred, average="macro")),
        "valid/macro_f1": float(search.best_score_),
        "C": float(search.best_params_["lr__C"]),
    }
    if predictions is not None:
        predictions.update(true=y[te], pred=pred)
    return out


def macro_f1_replicates(true: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Bootstrap replicates of the test macro-F1 over the test songs (:mod:`mirbench.metrics.bootstrap`)."""
    return stat_replicates(lambda t, p: f1_score(t, p, average="macro"), true, pred)
