"""Golden numbers: our own results on the embedded default, frozen with a tolerance from their interval.

``freeze_golden`` turns the recorded runs of one profile into ``benchmarks/golden/<id>.csv`` lines (the
published-CSV format plus a ``profile`` column; other profiles' lines are kept). Per cell:

- value = the mean over the recorded seeds (printed units);
- tol_abs = ``max(widths * half, min_tol_rel * |value|, print resolution)``, ``half`` the half-width of the
  cell's 95 % interval (bootstrap over test items combined with the spread over seeds,
  :mod:`mirbench.bench.stats`): a re-run that moves by more is a difference the table can resolve;
- a cell with fewer than ``min_seeds`` seeds, or whose tolerance would span more than ``max_span`` of the
  metric's range (``bounds`` of the column: a check that cannot fail), is not written.

Wall-time columns (``fit_time_s``, ``wall_time_s`` and ratios of them) depend on the machine and are never frozen.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from mirbench.bench.compare import REF_COLUMNS, aggregate
from mirbench.bench.records import load_records, records_replicates
from mirbench.bench.spec import RUN_METRICS, SpecError, TableSpec
from mirbench.io import write_text


def golden_lines(spec: TableSpec, profile: str, results_root: Path | None = None, widths: float = 1.0,
                 min_tol_rel: float = 0.02, min_seeds: int = 2, max_span: float = 0.5) -> pd.DataFrame:
    """Golden lines for ``profile`` from its ok records (see the module docstring)."""
    records = load_records(spec.id, profile, results_root)
    reps, unreadable = records_replicates(records, results_root)
    if unreadable:  # an interval without its items would freeze too tight a tolerance
        raise SpecError(f"cannot freeze golden numbers: unreadable bootstrap replicates {[str(p) for p in unreadable]}; "
                        "re-run those rows or delete the files")
    agg = aggregate(spec, records, reps)
    lines = []
    for a in agg.itertuples():
        col = spec.column(a.column)
        if spec.metric_of(a.row, a.column) in RUN_METRICS or col.relative_to or a.n < min_seeds \
                or not math.isfinite(a.mean) or col.bounds is None:
            continue
        floor = _resolution(col.format)
        half = a.half if math.isfinite(a.half) else 0.0
        tol = max(widths * half, min_tol_rel * abs(a.mean), floor)
        span = (col.bounds[1] - col.bounds[0]) * col.scale
        if 2 * tol > max_span * span:  # the line would accept most of the range: no check at all
            continue
        lines.append(dict(table_id=spec.id, row=a.row, column=a.column, value=f"{a.mean:.6g}", unit=col.unit,
                          source=f"mirbench {profile} profile, seeds {_seeds(records, spec.run_row(a.row))}",
                          tol_abs=f"{tol:.6g}", tol_rel="", status="check", profile=profile,
                          note=f"mean of n={a.n}; tol = max({widths:g} x 95% half-width {half:.3g} ({a.sources}), "
                               f"{min_tol_rel:g} x |mean|, print resolution {floor:g})"))
    return pd.DataFrame(lines, columns=REF_COLUMNS + ["profile"])


def freeze_golden(spec: TableSpec, profile: str, results_root: Path | None = None, **kwargs) -> tuple[Path, int]:
    """Write (replace) ``profile``'s lines in ``spec.golden``; returns (path, number of lines written)."""
    new = golden_lines(spec, profile, results_root, **kwargs)
    path = Path(spec.golden)
    old = pd.read_csv(path, dtype=str, keep_default_na=False) if path.is_file() else pd.DataFrame(columns=new.columns)
    if "profile" not in old.columns:
        old["profile"] = "default"
    keep = old[old["profile"].replace("", "default") != profile]
    out = pd.concat([keep, new.astype(str)], ignore_index=True)[REF_COLUMNS + ["profile"]]
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
