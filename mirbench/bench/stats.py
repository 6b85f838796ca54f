"""Intervals on every number and the verdict of every claim.

A cell of a table is the mean over seeds of one metric. Its 95 % interval combines

- the test items: the bootstrap replicates each run recorded (:mod:`mirbench.metrics.bootstrap`), averaged
  over the seeds replicate by replicate (all seeds are evaluated on the same test items with the same
  resamples), whose variance is the item part of the variance of the seed mean;
- the seeds: the sample variance over seeds divided by their number (training randomness).

``half = 1.96 * sqrt(var_items + var_seeds / n)``: a normal interval, the sum assuming the two sources
independent. A cell with one seed and no replicates has no interval (NaN), and says so.

A claim "A > B + margin" is judged on the difference d = mean(A) - mean(B): its item variance is the
variance of the *paired* replicate differences (same items, same resamples), plus each row's seed variance
/ n. **held** when the interval of d - margin lies above 0, **contradicted** when it lies below 0,
**inconclusive** otherwise (including a claim without any interval).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

Z95 = 1.959964


@dataclass(frozen=True)
class Spread:
    """A cell's mean and what its interval is made of (printed units)."""

    mean: float
    n: int
    seed_var: float  # sample variance over seeds (NaN with one seed)
    replicates: np.ndarray | None  # (B,) bootstrap replicates of the seed mean; None when not recorded

    @property
    def item_var(self) -> float:
        if self.replicates is None:
            return math.nan
        r = self.replicates[np.isfinite(self.replicates)]
        return float(np.var(r, ddof=1)) if len(r) > 1 else math.nan

    @property
    def variance(self) -> float:
        """Variance of the seed mean: items + seeds / n; NaN when neither is known."""
        parts = [v for v in (self.item_var, self.seed_var / self.n if self.n else math.nan) if math.isfinite(v)]
        return float(sum(parts)) if parts else math.nan

    @property
    def half(self) -> float:
        v = self.variance
        return Z95 * math.sqrt(v) if math.isfinite(v) else math.nan

    @property
    def sources(self) -> str:
        """What the interval covers: 'items+seeds', 'items', 'seeds' or ''."""
        return "+".join(s for s, v in (("items", self.item_var), ("seeds", self.seed_var)) if math.isfinite(v))


def spread(values: list[float], replicates: list[np.ndarray | None]) -> Spread:
    """A cell from its per-seed ``values`` and per-seed replicates (``None`` where a run recorded none)."""
    n = len(values)
    if n == 0:
        return Spread(math.nan, 0, math.nan, None)
    seed_var = float(np.var(values, ddof=1)) if n > 1 else math.nan
    reps = None
    if replicates and all(r is not None for r in replicates) and len({len(r) for r in replicates}) == 1:
        reps = np.mean(np.stack(replicates).astype(np.float64), axis=0)
    return Spread(float(np.mean(values)), n, seed_var, reps)


@dataclass(frozen=True)
class Judgement:
    status: str  # held | contradicted | inconclusive
    effect: float  # d - margin (printed units; > 0 means in the claimed direction)
    lo: float
    hi: float
    paired: bool  # the item part came from paired replicates


def judge(a: Spread, b: Spread, margin: float = 0.0) -> Judgement:
    """Claim "A > B + margin" from two cells (module docstring)."""
    effect = a.mean - b.mean - margin
    paired = (a.replicates is not None and b.replicates is not None and len(a.replicates) == len(b.replicates))
    if paired:
        d = a.replicates - b.replicates
        d = d[np.isfinite(d)]
        item_var = float(np.var(d, ddof=1)) if len(d) > 1 else math.nan
    else:
        item_var = sum(v for v in (a.item_var, b.item_var) if math.isfinite(v)) or math.nan
    parts = [v for v in (item_var, a.seed_var / a.n, b.seed_var / b.n) if math.isfinite(v)]
    if not parts or not math.isfinite(effect):
        return Judgement("inconclusive", effect, math.nan, math.nan, paired)
    half = Z95 * math.sqrt(sum(parts))
    lo, hi = effect - half, effect + half
    status = "held" if lo > 0 else "contradicted" if hi < 0 else "inconclusive"
    return Judgement(status, effect, lo, hi, paired)
