"""Coverage of the 95 % intervals (mirbench.bench.stats) by simulation: seeds x items, bootstrap over items.

Generative model of one table cell (docs/statistics.md): run s scores item i as
``x_si = a_s + b_i + c_si`` with a seed offset ``a_s ~ N(0, S)``, an item effect shared by all runs
``b_i ~ N(0, m I)`` and a run-specific item error ``c_si ~ N(0, m U)`` (the variances of the mean over m
items are then I and U). The value of run s is the mean over the m items; the true mean is 0. Every run is
bootstrapped over the same resamples of the items, as mirbench.metrics.bootstrap does.
"""

import math

import numpy as np
import pytest

from mirbench.bench.stats import item_variance, judge, seed_variance, spread, t_half

TABLES, ITEMS, BOOT = 2000, 100, 400


def simulate(rng, n, S, I, U, tables=TABLES):
    """``(values (T, n), runs (T, n, B))`` of ``tables`` independent cells with true mean 0."""
    x = (rng.normal(0, math.sqrt(S), (tables, n, 1)) + rng.normal(0, math.sqrt(ITEMS * I), (tables, 1, ITEMS))
         + rng.normal(0, math.sqrt(ITEMS * U), (tables, n, ITEMS)))
    # resample weights shared by the tables (each table's interval is conditional on its own data)
    w = rng.multinomial(ITEMS, np.full(ITEMS, 1 / ITEMS), size=BOOT).T / ITEMS  # (m, B)
    return x.mean(-1), x @ w


def coverage(values, runs):
    """Fraction of cells whose 95 % interval (the module's rule, vectorised) covers 0; and the old z rule's."""
    n = values.shape[1]
    w, g = np.full(n, 1 / n), np.zeros(n, dtype=int)
    half, _ = t_half(item_variance(runs, w, g), *seed_variance(values, w, g))
    mean = values.mean(1)
    old = 1.959964 * np.sqrt(np.var(runs.mean(1), axis=-1, ddof=1) + np.var(values, axis=1, ddof=1) / n)
    return float(np.mean(np.abs(mean) <= half)), float(np.mean(np.abs(mean) <= old))


REGIMES = {  # (S, I, U): variances of the seed offset and of the shared and run-specific item errors
    "balanced (ismir2020-like)": (1.0, 1.0, 1.5),
    "seed variance ~0": (0.0, 1.0, 1.5),
    "seed variance dominating": (25.0, 1.0, 1.5),
    "shared items only": (0.0, 1.0, 0.0),
}


@pytest.mark.parametrize("n", [3, 5])
@pytest.mark.parametrize("regime", list(REGIMES))
def test_interval_covers_95_percent(n, regime):
    rng = np.random.default_rng([2024, n, list(REGIMES).index(regime)])
    cov, old = coverage(*simulate(rng, n, *REGIMES[regime]))
    print(f"coverage n={n} seeds, {regime}: {100 * cov:.1f} % (z = 1.96 rule: {100 * old:.1f} %)")
    assert 0.93 <= cov <= 0.97


def test_claim_difference_covers_95_percent():
    """A paired claim (rows A, B on the same items, 3 seeds each): the interval of d covers the true d = 0."""
    # 4,000 tables: two Welch dof (equal variances) make this ~96.2 % (20,000 tables), close to the 97 % bound
    rng, tables = np.random.default_rng(7), 2 * TABLES
    n, (S, I, U) = 3, REGIMES["balanced (ismir2020-like)"]
    b = rng.normal(0, math.sqrt(ITEMS * I), (tables, 1, ITEMS))  # item difficulty, shared by A and B
    xa = (rng.normal(0, math.sqrt(S), (tables, n, 1)) + b + rng.normal(0, math.sqrt(ITEMS * U), (tables, n, ITEMS)))
    xb = (rng.normal(0, math.sqrt(S), (tables, n, 1)) + 0.5 * b
          + rng.normal(0, math.sqrt(ITEMS * U), (tables, n, ITEMS)))
    w = rng.multinomial(ITEMS, np.full(ITEMS, 1 / ITEMS), size=BOOT).T / ITEMS
    values, runs = np.concatenate([xa.mean(-1), xb.mean(-1)], 1), np.concatenate([xa @ w, xb @ w], 1)
    # true difference: E[a] - E[b] = 0 (every term has mean 0)
    weights, groups = np.r_[np.full(n, 1 / n), np.full(n, -1 / n)], np.repeat([0, 1], n)
    half, _ = t_half(item_variance(runs, weights, groups), *seed_variance(values, weights, groups))
    d = values @ weights
    cov = float(np.mean(np.abs(d) <= half))
    print(f"coverage of a paired claim's difference, 3 + 3 seeds: {100 * cov:.2f} %")
    assert 0.93 <= cov <= 0.97
    # judge() uses the same rule: its interval equals the vectorised one on the first table
    j = judge(spread(list(values[0, :n]), list(runs[0, :n])), spread(list(values[0, n:]), list(runs[0, n:])))
    # tol: approx's default: the same float64 t interval computed twice (scalar and vectorised), a few eps
    assert j.hi - j.lo == pytest.approx(2 * half[0]) and j.effect == pytest.approx(d[0])


def test_spread_rules():
    """Hand-checked cases: t with 2 dof for 3 seeds without replicates; items only for one seed."""
    sp = spread([60.0, 70.0, 80.0], [None] * 3)
    # tol: quantiles printed to 7 digits (4.302653): rel 1e-6 covers their rounding
    assert sp.dof == pytest.approx(2.0) and sp.half == pytest.approx(4.302653 * 10 / math.sqrt(3), rel=1e-6)
    reps = np.random.default_rng(0).normal(50.0, 2.0, 1000)
    one = spread([50.0], [reps])  # one seed (Nakatsuka, the ablations): an items-only z interval
    assert one.sources == "items" and one.dof == math.inf
    # tol: as above (1.959964)
    assert one.half == pytest.approx(1.959964 * np.std(reps, ddof=1), rel=1e-6)
    same = spread([50.0, 50.0, 50.0], [reps] * 3)  # identical runs: items only, no seed spread
    # tol: approx's rel 1e-6: identical runs give the same items-only interval up to float64 rounding
    assert same.half == pytest.approx(one.half, rel=1e-6) and same.sources == "items+seeds"
    assert math.isnan(spread([50.0], [None]).half)
