"""Plots declared in a table spec (``plots:``), drawn from the same numbers as the table (PNG, Agg backend).

Kinds: ``lines`` (x = the listed columns, one series per row, e.g. R@1..R@8), ``bars`` (one column across rows,
e.g. training-time ratio), ``grouped_bars`` (columns x rows, e.g. triplet accuracy per category) and
``function`` (``module:function(spec, records_df, out_dir, plot) -> list[Path]`` for paper-specific figures).
Error bars are the 95 % intervals of the table (bootstrap over test items with the spread over seeds; the std over
seeds where a cell has no interval); ``published: true`` overlays the published numbers.
"""

from __future__ import annotations

import importlib
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from mirbench.bench.records import records_frame, table_dir  # noqa: E402
from mirbench.bench.spec import DEFAULT_PROFILE, PlotSpec, TableSpec  # noqa: E402
from mirbench.bench.tables import TableReport, build_report  # noqa: E402


def make_plots(spec: TableSpec, profile: str | None = None, results_root: Path | None = None,
               report: TableReport | None = None) -> list[Path]:
    """Draw every plot of ``spec`` into ``results/<table_id>/``; returns the files written."""
    report = report or build_report(spec, profile, results_root)
    spec = spec.for_profile(report.profile)
    out_dir = table_dir(spec.id, results_root)
    out_dir.mkdir(parents=True, exist_ok=True)
    suffix = "" if report.profile == DEFAULT_PROFILE else f".{report.profile}"
    written: list[Path] = []
    for plot in spec.plots:
        if plot.kind == "function":
            module, name = plot.function.split(":")
            func = getattr(importlib.import_module(module), name)
            written += [Path(p) for p in func(spec, records_frame(report.records), out_dir, plot)]
            continue
        fig, ax = plt.subplots(figsize=(9, 4.2))
        {"lines": _lines, "bars": _bars, "grouped_bars": _grouped}[plot.kind](ax, spec, report, plot)
        ax.set_title(plot.title or spec.title, fontsize=10)
        if plot.ylabel:
            ax.set_ylabel(plot.ylabel)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:  # outside the data, right of the axes
            ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
        fig.tight_layout()
        path = out_dir / f"{plot.id}{suffix}.png"
        fig.savefig(path, dpi=120, bbox_inches="tight")
        fig.savefig(path.with_suffix(".pdf"), bbox_inches="tight")
        plt.close(fig)
        written.append(path)
    return written


def _series(report: TableReport, row: str, columns: tuple[str, ...], key: str) -> np.ndarray:
    return np.array([float(getattr(report.cell(row, c), key)) for c in columns])


def _err(report: TableReport, row: str, columns: tuple[str, ...]) -> np.ndarray:
    """Error bar half-lengths: the 95 % interval's half-width, else the std over seeds, else 0."""
    half, std = _series(report, row, columns, "half"), _series(report, row, columns, "std")
    return np.nan_to_num(np.where(np.isfinite(half), half, std))


def _rows(spec: TableSpec, plot: PlotSpec) -> list:
    return [spec.row(r) for r in plot.rows] if plot.rows else list(spec.rows)


def _color(i: int):
    """Distinct colours for up to 20 series (tab20), so no two rows share one."""
    return plt.get_cmap("tab20")(i % 20)


def _label(row) -> str:
    return f"{row.label} ({row.group.lower()})" if row.group else row.label


def _lines(ax, spec: TableSpec, report: TableReport, plot: PlotSpec) -> None:
    x = np.arange(len(plot.columns))
    for i, row in enumerate(_rows(spec, plot)):
        color = _color(i)
        mean, err = _series(report, row.id, plot.columns, "mean"), _err(report, row.id, plot.columns)
        if np.isfinite(mean).any():
            ax.errorbar(x, mean, yerr=err, marker="o", capsize=3, color=color, label=_label(row))
        if plot.published:
            pub = _series(report, row.id, plot.columns, "published")
            if np.isfinite(pub).any():
                ax.plot(x, pub, ls="--", marker="x", color=color, alpha=0.7, label=f"{_label(row)} (published)")
    ax.set_xticks(x, [spec.column(c).label for c in plot.columns])
    first, last = spec.column(plot.columns[0]), spec.column(plot.columns[-1])
    ax.set_ylabel(f"{first.label} … {last.label}" + (f" ({first.unit})" if first.unit else ""))


def _bars(ax, spec: TableSpec, report: TableReport, plot: PlotSpec) -> None:
    rows = _rows(spec, plot)
    col = plot.columns[0]
    x = np.arange(len(rows))
    mean = np.array([report.cell(r.id, col).mean for r in rows])
    err = np.concatenate([_err(report, r.id, (col,)) for r in rows])
    ax.bar(x, np.nan_to_num(mean), yerr=err, capsize=3, color="C0", label="ours")
    if plot.published:
        pub = np.array([report.cell(r.id, col).published for r in rows])
        ax.scatter(x, pub, marker="D", color="k", zorder=3, label="published")
    ax.set_xticks(x, [_label(r) for r in rows], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(spec.column(col).label)


def _grouped(ax, spec: TableSpec, report: TableReport, plot: PlotSpec) -> None:
    rows = _rows(spec, plot)
    x = np.arange(len(plot.columns))
    width = 0.8 / max(len(rows), 1)
    for i, row in enumerate(rows):
        off = x - 0.4 + width * (i + 0.5)
        mean, err = _series(report, row.id, plot.columns, "mean"), _err(report, row.id, plot.columns)
        ax.bar(off, np.nan_to_num(mean), width, yerr=err, capsize=2, color=_color(i),
               label=_label(row))
        if plot.published:
            pub = _series(report, row.id, plot.columns, "published")
            ax.scatter(off, pub, marker="D", s=12, color="k", zorder=3,
                       label="published" if i == 0 and not all(map(math.isnan, pub)) else None)
    ax.set_xticks(x, [spec.column(c).label for c in plot.columns])
