"""Golden numbers: our own results on the embedded default, frozen with what a re-run is tested against.

``freeze_golden`` turns the recorded runs of one profile into ``benchmarks/golden/<id>.csv`` lines (the
published-CSV format plus ``profile``, ``se``, ``df``, ``n``; other profiles' lines are kept). Per cell:

- value = the mean over the recorded seeds (printed units); se = its standard error over seeds (s / sqrt(n)),
  df = n - 1, n = the number of seeds;
- tol_abs = ``max(min_tol_rel * |value|, print resolution)``: a floor, a difference within it never misses;
- a cell with fewer than ``min_seeds`` seeds, or whose band for an equal re-run (the Bonferroni critical
  difference of :func:`mirbench.bench.stats.two_sample_p`) would span more than ``max_span`` of the metric's
  range (``bounds`` of the column: a check that cannot fail), is not written.

``mirbench check`` tests each line as a two-sample t test of the re-run's mean against the frozen one, Holm over
the table's lines at a family-wise 1 % (:mod:`mirbench.bench.compare`; docs/statistics.md). Old lines without
``se`` keep their band ``value +- tol_abs``. Wall-time columns (``fit_time_s``, ``wall_time_s`` and ratios of
them) depend on the machine and are never frozen.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
from scipy.stats import t as student_t

from mirbench.bench.compare import GOLDEN_ALPHA, GOLDEN_STATS, REF_COLUMNS, aggregate
from mirbench.bench.records import load_records, records_replicates
from mirbench.bench.spec import RUN_METRICS, SpecError, TableSpec
from mirbench.io import write_text


def golden_lines(spec: TableSpec, profile: str, results_root: Path | None = None, min_tol_rel: float = 0.02,
                 min_seeds: int = 2, max_span: float = 0.5) -> pd.DataFrame:
    """Golden lines for ``profile`` from its ok records (see the module docstring)."""
    records = load_records(spec.id, profile, results_root)
    reps, unreadable = records_replicates(records, results_root)
    if unreadable:  # the intervals printed beside the golden lines need their items
        raise SpecError(f"cannot freeze golden numbers: unreadable bootstrap replicates {[str(p) for p in unreadable]}; "
                        "re-run those rows or delete the files")
    agg = aggregate(spec, records, reps)
    cand = [a for a in agg.itertuples() if not (spec.metric_of(a.row, a.column) in RUN_METRICS
            or spec.column(a.column).relative_to or a.n < min_seeds or not math.isfinite(a.mean)
            or spec.column(a.column).bounds is None)]
    lines = []
    for a in cand:
        col = spec.column(a.column)
        floor = max(min_tol_rel * abs(a.mean), _resolution(col.format))
        se = math.sqrt(a.spread.seed_var / a.n)
        # the band an equal re-run with as many seeds must stay within for the table to pass (Bonferroni)
        band = student_t.ppf(1 - GOLDEN_ALPHA / (2 * len(cand)), 2 * (a.n - 1)) * se * math.sqrt(2)
        span = (col.bounds[1] - col.bounds[0]) * col.scale
        if 2 * max(band, floor) > max_span * span:  # the line would accept most of the range: no check at all
            continue
        lines.append(dict(table_id=spec.id, row=a.row, column=a.column, value=f"{a.mean:.6g}", unit=col.unit,
                          source=f"mirbench {profile} profile, seeds {_seeds(records, spec.run_row(a.row))}",
                          tol_abs=f"{floor:.6g}", tol_rel="", status="check", profile=profile,
                          se=f"{se:.6g}", df=str(a.n - 1), n=str(a.n),
                          note=f"mean of n={a.n}, se over seeds {se:.3g}; two-sample t vs a re-run, Holm "
                               f"{GOLDEN_ALPHA:g} over the table; floor max({min_tol_rel:g} x |mean|, print "
                               f"resolution {_resolution(col.format):g})"))
    return pd.DataFrame(lines, columns=REF_COLUMNS + ["profile"] + GOLDEN_STATS)


def freeze_golden(spec: TableSpec, profile: str, results_root: Path | None = None, **kwargs) -> tuple[Path, int]:
    """Write (replace) ``profile``'s lines in ``spec.golden``; returns (path, number of lines written)."""
    new = golden_lines(spec, profile, results_root, **kwargs)
    path = Path(spec.golden)
    old = pd.read_csv(path, dtype=str, keep_default_na=False) if path.is_file() else pd.DataFrame(columns=new.columns)
    for c, default in (("profile", "default"), *((c, "") for c in GOLDEN_STATS)):
        if c not in old.columns:  # an old-format file: its other profiles' lines keep their bands
            old[c] = default
    keep = old[old["profile"].replace("", "default") != profile]
    out = pd.concat([keep, new.astype(str)], ignore_index=True)[REF_COLUMNS + ["profile"] + GOLDEN_STATS]
    write_text(path, out.to_csv(index=False))
    return path, len(new)


def _resolution(fmt: str) -> float:
    """The smallest printed step of a format such as ``{:.3f}`` (0.001); 0 when it has no fixed decimals."""
    try:
        decimals = int(fmt.split(".")[1].split("f")[0])
    except (IndexError, ValueError):
        return 0.0
    return 10.0 ** -decimals


def _seeds(records, row: str) -> str:
    return ",".join(str(s) for s in sorted({r.seed for r in records if r.ok and r.row == row}))
