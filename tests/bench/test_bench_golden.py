"""Golden lines as a two-sample test with Holm over the table (mirbench.bench.stats), by simulation.

A table of 130 lines; line g has a seed variance sigma_g^2 (log-spaced over a factor 100: metrics on different
scales are all expressed in their own units) and a shared item variance I_g of the mean equal to sigma_g^2 / 3
(ismir2020's committed records: the seed se and the shared item sd are about equal, median ratio 1.06). A frozen
table and a re-run draw their seed means independently; the item error is the same in both (same test items).
"""

import math

import numpy as np
import pytest

from mirbench.bench.stats import holm, seed_variance, t_half, two_sample_p

LINES, RERUNS, ALPHA = 130, 2000, 0.01


def experiment(rng, n, shift=0.0):
    """(table fails, line 0 flagged) per simulated re-run; line 0 moved by ``shift`` resolutions."""
    sigma2 = np.exp(np.linspace(np.log(0.1), np.log(10.0), LINES))
    sigma2[0] = 1.0  # the shifted line has the median variance: its half-width is the resolution
    item = sigma2 / 3
    frozen = rng.normal(0, np.sqrt(sigma2)[:, None], (RERUNS, LINES, n))
    rerun = rng.normal(0, np.sqrt(sigma2)[:, None], (RERUNS, LINES, n))
    w, g = np.full(n, 1 / n), np.zeros(n, dtype=int)
    half, _ = t_half(item, *seed_variance(frozen, w, g))  # each frozen line's 95 % half-width
    resolution = np.median(half, axis=1)  # the table's resolution, per simulated frozen table
    new = rerun.mean(-1)
    new[:, 0] += shift * resolution
    p, _, _ = two_sample_p(new - frozen.mean(-1), frozen.std(-1, ddof=1) / math.sqrt(n), n,
                           rerun.var(-1, ddof=1), n)
    miss = holm(p, ALPHA)
    return miss.any(-1), miss[:, 0]


@pytest.mark.parametrize("n", [3, 5])
def test_equal_rerun_passes_and_a_shift_of_one_resolution_fails(n):
    rng = np.random.default_rng([30, n])
    fails, _ = experiment(rng, n)
    shifted = {k: experiment(rng, n, shift=k)[1].mean() for k in (1.0, 2.0, 3.0)}
    print(f"golden, {LINES} lines, {n} + {n} seeds: equal re-run passes {100 * (1 - fails.mean()):.2f} %; "
          + ", ".join(f"a {k:g}-resolution shift of one line is flagged {100 * v:.1f} %" for k, v in shifted.items()))
    # Holm's family-wise rate <= 1 %: 99 % expected, +- 0.22 % of Monte-Carlo error at 2,000 re-runs
    assert 1 - fails.mean() >= 0.985
    assert shifted[3.0] > shifted[2.0] > shifted[1.0]


def test_holm_and_p():
    assert holm(np.array([0.001, 0.006, 0.03, np.nan]), 0.01).tolist() == [True, False, False, False]
    assert holm(np.array([0.001, 0.0045, 0.03]), 0.01).tolist() == [True, True, False]  # 0.0045 <= 0.01 / 2 after 0.001 <= 0.01 / 3
    p, se, dof = two_sample_p(0.0, 1.0, 3, 3.0, 3)
    # tol: approx's default: float64 sqrt of a hand-set value, a few eps
    assert p == 1.0 and se == pytest.approx(math.sqrt(3 * (2 / 3))) and dof == 4
    assert two_sample_p(0.05, 0.0, 3, 0.0, 3, floor=0.1)[0] == 1.0  # within the floor: never a miss
