"""Intervals on every number and the verdict of every claim (docs/statistics.md gives the derivation).

A cell of a table is the mean over seeds of one metric; a claim is a difference of two such means. Both are
contrasts ``c = sum_j w_j v_j`` over runs j (weights 1/n for a cell; +1/n_A and -1/n_B for a claim), and
their variance has two parts (a crossed design: every run scores the same test items with the same resamples,
:mod:`mirbench.metrics.bootstrap`):

- **seeds**: for each row with n >= 2 seeds, its sample variance over seeds times ``sum w_j**2`` (s^2 / n).
  It measures everything that differs between runs: training randomness *and* each run's own errors on the
  test items (seed x item interaction), so those must not be counted again below;
- **items**: the part of the item sampling error that all runs share, from the covariance of the runs'
  bootstrap replicates: ``w' C w`` with each multi-seed row's diagonal replaced by its mean off-diagonal
  covariance (the shared part). A row with one seed keeps its diagonal: its interval covers the items only.

``half = q * sqrt(V)`` with ``q = (t(0.975, nu) + q_lin) / 2``: nu by Welch-Satterthwaite,
``V^2 / sum_g seeds_g^2 / (n_g - 1)``, the item part counted as known (its degrees of freedom are those of the
hundreds of test items), and ``q_lin = (1.96 * items + t(0.975, nu_seeds) * seeds) / V`` (nu_seeds: the WS dof
of the seed parts alone, n - 1 for a cell). With a
dominating seed part both give t(n - 1) (4.30 with 3 seeds); with a negligible one, 1.96. In between, t at the
WS dof alone under-covers and q_lin over-covers; their mean covers 94-96 % (:func:`t_half`). Coverage is tested
by simulation (tests/bench/test_bench_stats.py). A cell with one seed and no replicates has no interval (NaN).

A claim "A > B + margin" is judged on d - margin with the same rule: **held** when its interval lies above 0,
**contradicted** when it lies below 0, **inconclusive** otherwise (including a claim without any interval).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import t as student_t

LEVEL = 0.95
Z95 = 1.959964


def item_variance(runs: np.ndarray, weights: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Shared item variance of ``sum_j w_j v_j``: ``runs`` ``(..., J, B)`` replicates, ``weights``/``groups``
    ``(J,)`` (group = row) -> ``(...)``; vectorised over leading axes (the coverage simulation uses them)."""
    c = runs - runs.mean(-1, keepdims=True)
    cov = np.einsum("...jb,...lb->...jl", c, c) / (runs.shape[-1] - 1)
    total = np.einsum("j,...jl,l->...", weights, cov, weights)
    for g in np.unique(groups):
        idx = np.flatnonzero(groups == g)
        if len(idx) < 2:
            continue  # one seed: its own item errors cannot be told from the shared ones; keep them all
        sub = cov[..., idx[:, None], idx[None, :]]
        diag = np.diagonal(sub, axis1=-2, axis2=-1)
        shared = (sub.sum((-2, -1)) - diag.sum(-1)) / (len(idx) * (len(idx) - 1))
        # the run-specific item error is already in the seed variance: replace it by the shared part
        total = total - (weights[idx] ** 2 * (diag - shared[..., None])).sum(-1)
    return np.maximum(total, 0.0)  # the estimated shared covariance can be slightly negative


def seed_variance(values: np.ndarray, weights: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(seed part of the variance of ``sum_j w_j v_j``, its Welch-Satterthwaite denominator
    ``sum_g part_g^2 / (n_g - 1)``); ``values`` ``(..., J)``. Rows with one seed contribute nothing (unknown)."""
    var, den = np.zeros(values.shape[:-1]), np.zeros(values.shape[:-1])
    for g in np.unique(groups):
        idx = np.flatnonzero(groups == g)
        if len(idx) < 2:
            continue
        part = np.var(values[..., idx], axis=-1, ddof=1) * float(np.sum(weights[idx] ** 2))
        var, den = var + part, den + part ** 2 / (len(idx) - 1)
    return var, den


def t_half(item_var, seed_var, den):
    """Half-width and Welch-Satterthwaite dof of the 95 % interval from its two parts (module docstring).

    ``q = (t(nu) + q_lin) / 2``. t at the WS dof nu of the sum under-covers with 3 seeds (92 % when the seeds
    make 75-97 % of the variance: nu is estimated from the same s^2, and a small s^2 overstates it);
    ``q_lin = (z * items + t(nu_seeds) * seeds) / V``, each part at its own quantile (nu_seeds: the WS dof of
    the seed parts alone, n - 1 for one row), over-covers (97 %); their mean covers 94-96 % at any mix with 3
    seeds and 95-96 % with 5 (docs/statistics.md).
    """
    item_var, seed_var = np.asarray(item_var, dtype=np.float64), np.asarray(seed_var, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    v = item_var + seed_var
    has = den > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        nu = np.where(has, v ** 2 / np.where(has, den, 1.0), np.inf)
        nu_seeds = np.where(has, seed_var ** 2 / np.where(has, den, 1.0), np.inf)
        q_seeds = student_t.ppf(0.5 + LEVEL / 2, np.maximum(nu_seeds, 1e-9))
        q_lin = np.where(v > 0, (Z95 * item_var + q_seeds * seed_var) / np.where(v > 0, v, 1.0), Z95)
    q_ws = student_t.ppf(0.5 + LEVEL / 2, np.maximum(nu, 1e-9))
    return 0.5 * (q_ws + q_lin) * np.sqrt(v), nu


@dataclass(frozen=True)
class Spread:
    """A cell: its mean, per-seed values and replicates, and the parts of its interval (printed units)."""

    mean: float
    n: int
    values: np.ndarray  # (n,) per-seed values
    runs: np.ndarray | None  # (n, B) per-seed bootstrap replicates; None when any run recorded none
    seed_var: float  # sample variance over seeds (NaN with one seed)
    item_var: float  # shared item variance of the mean (all item variance with one seed; NaN without replicates)
    variance: float  # item_var + seed_var / n: the variance of the mean; NaN when neither is known
    dof: float  # Welch-Satterthwaite degrees of freedom (inf: items only)
    half: float  # 95 % half-width

    @property
    def replicates(self) -> np.ndarray | None:
        """(B,) replicates of the seed mean (the runs' replicates averaged resample by resample)."""
        return None if self.runs is None else self.runs.mean(0)

    @property
    def sources(self) -> str:
        """What the interval covers: 'items+seeds', 'items', 'seeds' or ''."""
        return "+".join(s for s, v in (("items", self.item_var), ("seeds", self.seed_var)) if math.isfinite(v))


def _finite_columns(runs: np.ndarray) -> np.ndarray:
    """The resamples where every run is finite (a resample without a valid item is NaN in some runs)."""
    return runs[:, np.isfinite(runs).all(0)]


def _combine(values: np.ndarray, weights: np.ndarray, groups: np.ndarray, item_var: float) -> tuple[float, float, float]:
    """(variance, dof, half) from the seed part of ``values`` and a known ``item_var`` (NaN: none)."""
    sv, den = seed_variance(values, weights, groups)
    has_seeds = any(np.sum(groups == g) > 1 for g in np.unique(groups))
    if not has_seeds and not math.isfinite(item_var):
        return math.nan, math.nan, math.nan
    items = item_var if math.isfinite(item_var) else 0.0
    half, nu = t_half(items, sv, den)
    return float(items + sv), float(nu), float(half)


def spread(values: list[float], replicates: list[np.ndarray | None]) -> Spread:
    """A cell from its per-seed ``values`` and per-seed replicates (``None`` where a run recorded none)."""
    n = len(values)
    v = np.asarray(values, dtype=np.float64)
    if n == 0:
        return Spread(math.nan, 0, v, None, math.nan, math.nan, math.nan, math.nan, math.nan)
    runs = None
    if replicates and all(r is not None for r in replicates) and len({len(r) for r in replicates}) == 1:
        runs = np.stack(replicates).astype(np.float64)
    w, g = np.full(n, 1.0 / n), np.zeros(n, dtype=int)
    item_var = math.nan
    if runs is not None:
        fin = _finite_columns(runs)
        item_var = float(item_variance(fin, w, g)) if fin.shape[1] > 1 else math.nan
    seed_var = float(np.var(v, ddof=1)) if n > 1 else math.nan
    variance, dof, half = _combine(v, w, g, item_var)
    return Spread(float(np.mean(v)), n, v, runs, seed_var, item_var, variance, dof, half)


@dataclass(frozen=True)
class Judgement:
    status: str  # held | contradicted | inconclusive
    effect: float  # d - margin (printed units; > 0 means in the claimed direction)
    lo: float
    hi: float
    paired: bool  # the item part came from paired replicates
    dof: float = math.nan


def judge(a: Spread, b: Spread, margin: float = 0.0) -> Judgement:
    """Claim "A > B + margin" from two cells (module docstring): the contrast mean(A) - mean(B)."""
    effect = a.mean - b.mean - margin
    values = np.concatenate([a.values, b.values])
    weights = np.concatenate([np.full(a.n, 1.0 / max(a.n, 1)), np.full(b.n, -1.0 / max(b.n, 1))])
    groups = np.repeat([0, 1], [a.n, b.n])
    paired = a.runs is not None and b.runs is not None and a.runs.shape[1] == b.runs.shape[1]
    if paired:  # same items, same resamples: the shared item errors of A and B cancel in the difference
        fin = _finite_columns(np.concatenate([a.runs, b.runs]))
        item_var = float(item_variance(fin, weights, groups)) if fin.shape[1] > 1 else math.nan
    else:  # unpaired: the two item parts as independent
        item_var = sum(v for v in (a.item_var, b.item_var) if math.isfinite(v)) or math.nan
    variance, dof, half = _combine(values, weights, groups, item_var)
    if not math.isfinite(variance) or not math.isfinite(effect):
        return Judgement("inconclusive", effect, math.nan, math.nan, paired, dof)
    lo, hi = effect - half, effect + half
    status = "held" if lo > 0 else "contradicted" if hi < 0 else "inconclusive"
    return Judgement(status, effect, lo, hi, paired, dof)


def two_sample_p(delta, se_a, n_a, var_b, n_b, floor=0.0):
    """Two-sided p of a re-run's mean against a frozen one (golden lines; docs/statistics.md), vectorised.

    Pooled Student t: a statistically equal re-run draws its seeds from the same distribution, so the two seed
    variances (the frozen ``se_a**2 * n_a`` on ``n_a - 1`` dof, the re-run's ``var_b`` on ``n_b - 1``; NaN with
    one seed) estimate one variance. The shared item error cancels: both score the same test items. A difference
    within ``floor`` (print resolution / relative floor) is never significant (p = 1).
    Returns (p, se of the difference, dof).
    """
    delta, se_a, n_a, var_b, n_b = (np.asarray(x, dtype=np.float64) for x in (delta, se_a, n_a, var_b, n_b))
    d_a, d_b = n_a - 1, np.where(np.isfinite(var_b) & (n_b > 1), n_b - 1, 0)
    dof = d_a + d_b
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled = (d_a * se_a ** 2 * n_a + d_b * np.nan_to_num(var_b)) / dof
        se = np.sqrt(pooled * (1 / n_a + 1 / n_b))
        tstat = np.abs(delta) / se
        p = np.where(se > 0, 2 * student_t.sf(tstat, np.maximum(dof, 1e-9)), np.where(np.abs(delta) > 0, 0.0, 1.0))
    p = np.where(np.abs(delta) <= floor, 1.0, p)
    return np.where(np.isfinite(delta) & (dof > 0), p, np.nan), se, dof


def holm(p, alpha: float) -> np.ndarray:
    """Holm's step-down rejections of p-values along the last axis (NaN: not tested), family-wise rate alpha."""
    p = np.asarray(p, dtype=np.float64)
    tested = np.isfinite(p)
    m = tested.sum(-1, keepdims=True)
    order = np.argsort(np.where(tested, p, np.inf), axis=-1)
    ps = np.take_along_axis(np.where(tested, p, np.inf), order, -1)
    k = np.arange(p.shape[-1])
    ok = ps <= alpha / np.maximum(m - k, 1)
    reject_sorted = np.cumprod(ok, axis=-1).astype(bool)  # stop at the first line that is not rejected
    out = np.zeros_like(reject_sorted)
    np.put_along_axis(out, order, reject_sorted, -1)
    return out & tested
