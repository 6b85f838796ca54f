"""k-NN classification on frozen embeddings: the protocol of the ISMIR 2020 tutorial (docs/protocols.md#tutorial-knn).

The training items are the gallery, each test item takes the label of its nearest gallery item
(scikit-learn ``KNeighborsClassifier(n_neighbors=1)``, Euclidean), and the scores are accuracy and
macro-averaged F1 over the classes (``classification_report``'s "macro avg").
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, f1_score
from sklearn.neighbors import KNeighborsClassifier

from mirbench.metrics.bootstrap import mean_replicates, stat_replicates


def knn_predict(train: np.ndarray, train_labels: np.ndarray, test: np.ndarray, k: int = 1,
                metric: str = "euclidean") -> np.ndarray:
    """Labels of ``test`` (M, D) by majority vote of the ``k`` nearest rows of ``train`` (N, D)."""
    clf = KNeighborsClassifier(n_neighbors=k, metric=metric)
    return clf.fit(np.asarray(train), np.asarray(train_labels)).predict(np.asarray(test))


def knn_scores(train: np.ndarray, train_labels: np.ndarray, test: np.ndarray, test_labels: np.ndarray,
               k: int = 1, metric: str = "euclidean", replicates: dict | None = None) -> dict[str, float]:
    """``{"accuracy", "macro_f1"}`` of k-NN classification of ``test`` against the gallery ``train``; a
    ``replicates`` dict given is filled with their bootstrap replicates over the test items."""
    pred = knn_predict(train, train_labels, test, k, metric)
    test_labels = np.asarray(test_labels)
    if replicates is not None:
        replicates["accuracy"] = mean_replicates(test_labels == pred)
        replicates["macro_f1"] = stat_replicates(lambda t, p: f1_score(t, p, average="macro", zero_division=0),
                                                 test_labels, pred)
    return {"accuracy": float(accuracy_score(test_labels, pred)),
            "macro_f1": float(f1_score(test_labels, pred, average="macro", zero_division=0))}
