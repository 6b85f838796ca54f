"""Bootstrap replicates: paired resamples, and each replicate equal to the metric recomputed on its resample."""

import numpy as np
import pytest
from sklearn.metrics import f1_score, roc_auc_score

from mirbench.evaluation.lee2020 import macro_auc
from mirbench.metrics.retrieval import recall_hits
from mirbench.metrics.bootstrap import (N_BOOT, load_replicates, macro_auc_replicates, mean_replicates,
                                        resample_indices, save_replicates, stat_replicates)
from mirbench.metrics.retrieval import recall_at_k


def test_resamples_depend_only_on_the_number_of_items():
    a, b = resample_indices(40), resample_indices(40)
    np.testing.assert_array_equal(a, b)  # two models on the same 40 items get the same resamples
    assert a.shape == (N_BOOT, 40) and a.min() >= 0 and a.max() < 40
    assert not np.array_equal(resample_indices(41)[:, :40], a)
    with pytest.raises(ValueError):
        resample_indices(0)


def test_mean_replicates_equal_the_mean_of_each_resample():
    rng = np.random.default_rng(0)
    x, valid = rng.random(37) < 0.6, rng.random(37) < 0.8
    reps = mean_replicates(x, valid)
    idx = resample_indices(37)
    for b in (0, 1, 500, 999):
        i = idx[b]
        # tol: float64 mean of <= 37 booleans, resampled vs direct: a few eps; one item moves it by >= 1/37
        assert reps[b] == pytest.approx(x[i][valid[i]].mean(), abs=1e-6)
    # the replicates centre on the point value and their spread is the standard error of a proportion
    p = x[valid].mean()
    assert abs(np.mean(reps) - p) < 4 * np.sqrt(p * (1 - p) / valid.sum() / N_BOOT)
    # tol: Monte Carlo, not float error: the std of 1,000 replicates estimates the binomial standard error within
    # sqrt(1 / 2000) = 2.2 % (one standard error); 15 % is ~7 of them
    assert np.std(reps) == pytest.approx(np.sqrt(p * (1 - p) / valid.sum()), rel=0.15)


def test_macro_auc_replicates_equal_sklearn_on_each_resample():
    rng = np.random.default_rng(1)
    y = (rng.random((50, 5)) < 0.3).astype(int)
    y[:, 4] = 0  # never positive: left out everywhere
    s = rng.normal(size=(50, 5)) + y
    s[:, 0] = np.round(s[:, 0])  # ties count 1/2, as in sklearn
    reps = macro_auc_replicates(s, y)
    idx = resample_indices(50)
    for b in (0, 7, 321):
        yi, si = y[idx[b]][:, :4], s[idx[b]][:, :4]
        keep = (yi.sum(0) > 0) & (yi.sum(0) < len(yi))
        # tol: float64 AUC of <= 50 items (a rational with denominator < 2,500) by two algorithms: a few eps; one pair
        # moves it by >= 1/2,500
        assert reps[b] == pytest.approx(roc_auc_score(yi[:, keep], si[:, keep], average="macro"), abs=1e-6)
    point, _ = macro_auc(s, y)
    assert abs(np.median(reps) - point) < 3 * np.std(reps) / np.sqrt(10)


def test_stat_replicates_and_file_round_trip(tmp_path):
    rng = np.random.default_rng(2)
    y, p = rng.integers(0, 3, 30), rng.integers(0, 3, 30)
    reps = stat_replicates(lambda a, b: f1_score(a, b, average="macro"), y, p, n_boot=20)
    i = resample_indices(30, 20)[3]
    # tol: float64 macro F1 of 30 items, the same sklearn call on the same resample: a few eps
    assert reps[3] == pytest.approx(f1_score(y[i], p[i], average="macro"), abs=1e-6)
    save_replicates(tmp_path / "b.npz", {"test/f1": reps})
    np.testing.assert_array_equal(load_replicates(tmp_path / "b.npz")["test/f1"], reps)


def test_recall_hits_give_recall_at_k():
    rng = np.random.default_rng(3)
    emb, tags = rng.normal(size=(60, 8)), (rng.random((60, 6)) < 0.2).astype(int)
    hits, answerable = recall_hits(emb, tags, (1, 2, 4, 8), "euclidean", 16, "share_any", None, None)
    ref = recall_at_k(emb, tags, (1, 2, 4, 8), chunk_size=16)
    for k in (1, 2, 4, 8):
        # tol: float64 means of the same 0/1 hits in another order: a few eps
        assert hits[k][answerable].mean() == pytest.approx(ref[k], abs=1e-12)
