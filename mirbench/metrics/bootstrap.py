"""Bootstrap replicates of a test metric over its test items (queries, triplets, tracks, songs, users).

Every protocol computes its per-item results once and resamples them here; nothing is searched again.
The resampling indices depend only on the number of items and a fixed seed, so two models evaluated on
the same test items get the *same* resamples: the difference of their replicates is a paired bootstrap of
the difference of their metrics (what a claim such as "A is above B on R@1" is judged on).

- :func:`resample_indices` ``(B, N)``: row b is the b-th resample of N items (with replacement);
- :func:`mean_replicates`: replicates of the mean of a per-item vector (R@K hits, triplet correctness);
- :func:`macro_auc_replicates`: replicates of a macro ROC-AUC over tags (tags undefined in a resample,
  without a positive or a negative item, are left out of that resample's mean, as in the point value);
- :func:`stat_replicates`: any statistic of resampled rows (e.g. macro-F1 of predictions), by a loop.

Replicates are float32 ``(B,)`` arrays; B = :data:`N_BOOT` (1,000: the 2.5 / 97.5 % quantiles of a
percentile interval move by < 0.3 of a standard error between two sets of 1,000; Efron & Tibshirani 1993).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.stats import rankdata

N_BOOT = 1000
BOOT_SEED = 2020
BOOTSTRAP_FILE = "bootstrap_test.npz"  # replicates a run's evaluation writes beside its embeddings


def resample_indices(n: int, n_boot: int = N_BOOT, seed: int = BOOT_SEED) -> np.ndarray:
    """``(n_boot, n)`` int indices; the same for every call with the same ``n`` (paired across models)."""
    if n < 1:
        raise ValueError(f"cannot resample {n} items")
    return np.random.default_rng([seed, n]).integers(0, n, size=(n_boot, n))


def mean_replicates(per_item, valid=None, n_boot: int = N_BOOT) -> np.ndarray:
    """Replicates ``(n_boot,)`` of the mean of ``per_item`` ``(N,)`` over the items where ``valid``.

    Items that cannot score (``valid`` False, e.g. a query without any relevant item) stay in the resampled
    population, so the replicates are paired with any other model's on the same N items; a replicate
    without a valid item is NaN.
    """
    x = np.asarray(per_item, dtype=np.float64).reshape(-1)
    v = np.ones_like(x, dtype=bool) if valid is None else np.asarray(valid, dtype=bool).reshape(-1)
    if v.shape != x.shape:
        raise ValueError(f"valid has {v.size} entries for {x.size} items")
    idx = resample_indices(len(x), n_boot)
    num, den = np.where(v, x, 0.0)[idx].sum(1), v[idx].sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (num / den).astype(np.float32)


def _macro_auc_rows(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Macro Mann-Whitney AUC of each block: ``scores``/``labels`` ``(B, N, T)`` -> ``(B,)``; ties count 1/2."""
    ranks = rankdata(scores, axis=1)  # average ranks of tied scores
    pos = labels.sum(1)
    neg = labels.shape[1] - pos
    r_pos = (ranks * labels).sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = (r_pos - pos * (pos + 1) / 2.0) / (pos * neg)
    auc[(pos == 0) | (neg == 0)] = np.nan
    with np.errstate(invalid="ignore"):
        return np.nanmean(np.where(np.isfinite(auc), auc, np.nan), axis=1)


def macro_auc_replicates(scores, tags, n_boot: int = N_BOOT, block: int = 50) -> np.ndarray:
    """Replicates ``(n_boot,)`` of the macro ROC-AUC of ``scores`` ``(N, T)`` against multi-hot ``tags``.

    Tags with non-finite scores, or without a positive or a negative item in the full test set, are left out
    (as by :func:`mirbench.evaluation.lee2020.macro_auc`); in a resample, tags that lose all their positives or
    negatives are left out of that replicate's mean.
    """
    s, y = np.asarray(scores, dtype=np.float64), np.asarray(tags) > 0
    if s.shape != y.shape or s.ndim != 2:
        raise ValueError(f"scores and tags must both be (N, T), got {s.shape} and {y.shape}")
    pos = y.sum(0)
    used = (pos > 0) & (pos < len(y)) & np.isfinite(s).all(0)
    s, y = s[:, used], y[:, used].astype(np.float64)
    if not used.any():
        return np.full(n_boot, np.nan, dtype=np.float32)
    idx = resample_indices(len(s), n_boot)
    out = np.empty(n_boot)
    for b in range(0, n_boot, block):
        i = idx[b:b + block]
        out[b:b + block] = _macro_auc_rows(s[i], y[i])
    return out.astype(np.float32)


def stat_replicates(statistic: Callable[..., float], *arrays, n_boot: int = N_BOOT) -> np.ndarray:
    """Replicates ``(n_boot,)`` of ``statistic(*[a[idx] for a in arrays])`` over resampled rows."""
    arrs = [np.asarray(a) for a in arrays]
    n = len(arrs[0])
    if any(len(a) != n for a in arrs):
        raise ValueError(f"arrays differ in length: {[len(a) for a in arrs]}")
    idx = resample_indices(n, n_boot)
    return np.array([statistic(*[a[i] for a in arrs]) for i in idx], dtype=np.float32)


def save_replicates(path, replicates: dict[str, np.ndarray]) -> None:
    """Write ``{metric: (B,) replicates}`` to an ``.npz`` (atomically)."""
    from mirbench.io import atomic_path

    with atomic_path(path, suffix=".npz") as tmp:
        np.savez_compressed(tmp, **{k: np.asarray(v, dtype=np.float32) for k, v in replicates.items()})


def load_replicates(path) -> dict[str, np.ndarray]:
    """``{metric: (B,) float32}`` from :func:`save_replicates`'s file."""
    with np.load(path) as z:
        return {k: z[k] for k in z.files}
