"""Genre probe: randomised search over C on a predefined fold, refit on train + valid, macro-F1."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mirbench.evaluation.genre_probe import genre_probe, split_indices


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 400)
    x = rng.normal(size=(400, 12))
    x[:, :4] += 1.2 * np.eye(4)[y]
    split = np.array(["train"] * 200 + ["valid"] * 80 + ["test"] * 120)
    return x, y, split


def test_probe_equals_manual_selection_and_refit(data):
    x, y, split = data
    out = genre_probe(x, y, split, n_iter=6, seed=3)
    tr, va, te = split_indices(split)
    # redo by hand: same C candidates (scipy loguniform with the same random_state), same rule
    from scipy.stats import loguniform
    from sklearn.model_selection import ParameterSampler

    cands = [p["lr__C"] for p in ParameterSampler({"lr__C": loguniform(1e-4, 1e4)}, 6, random_state=3)]
    valid = []
    for c in cands:
        m = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=20000)).fit(x[tr], y[tr])
        valid.append(f1_score(y[va], m.predict(x[va]), average="macro"))
    best = cands[int(np.argmax(valid))]
    # tol: approx's default rel 1e-6 (and the next line): the same sklearn fits on the same data, float64, a few eps
    assert out["C"] == pytest.approx(best)
    assert out["valid/macro_f1"] == pytest.approx(max(valid))
    final = make_pipeline(StandardScaler(), LogisticRegression(C=best, max_iter=20000)).fit(x[np.r_[tr, va]], y[np.r_[tr, va]])
    # tol: as above; one test item moves macro F1 by ~1e-2
    assert out["test/macro_f1"] == pytest.approx(f1_score(y[te], final.predict(x[te]), average="macro"))
    assert out["test/macro_f1"] > 0.45  # informative features are found (chance: 0.25)


def test_uninformative_features_score_near_chance(data):
    _, y, split = data
    noise = np.random.default_rng(1).normal(size=(400, 5))
    assert genre_probe(noise, y, split, n_iter=3)["test/macro_f1"] < 0.45
