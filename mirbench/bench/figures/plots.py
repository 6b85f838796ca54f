"""Plots declared in a table spec (``plots:``), drawn from the same numbers as the table (PNG + PDF, Agg backend,
byte-reproducible: :func:`~mirbench.bench.figures.runs.save_figure`).

Kinds: ``lines`` (x = the listed columns, one series per row, e.g. R@1..R@8), ``bars`` (one column across rows,
e.g. training-time ratio), ``grouped_bars`` (columns x rows, e.g. triplet accuracy per category) and
``function`` (``module:function(spec, records_df, out_dir, plot) -> list[Path]`` for paper-specific figures).
Error bars are the 95 % intervals of the table (bootstrap over test items with the spread over seeds; the std over
seeds where a cell has no interval). Ours and the published numbers (``published: true``) are drawn in separate
panels: on stand-in data they are not comparable, only their orderings are. At most :data:`MAX_SERIES` rows share
a panel (more: one panel per row group, or per chunk of rows), each with its own colour, marker and line style;
a column's ``chance`` is drawn as a grey dotted line in the panels of ours. Means are points, not bars, so an axis
need not start at 0 and hide the differences.
"""

from __future__ import annotations

import importlib
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from mirbench.bench.figures.runs import save_figure  # noqa: E402
from mirbench.bench.records import records_frame, table_dir  # noqa: E402
from mirbench.bench.spec import DEFAULT_PROFILE, ColumnSpec, PlotSpec, RowSpec, TableSpec  # noqa: E402
from mirbench.bench.tables import TableReport, build_report, header_label  # noqa: E402

MAX_SERIES = 8  # rows per panel: more cannot be told apart
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
LINESTYLES = ("-", "--", "-.", ":")
CHANCE_STYLE = dict(color="0.45", ls=":", lw=1.2)
OURS_TITLE = "ours (this checkout's runs)"
PUBLISHED_TITLE = "published (the paper's data: compare orderings only)"


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
        fig = {"lines": _lines, "bars": _bars, "grouped_bars": _grouped}[plot.kind](spec, report, plot)
        fig.suptitle(plot.title or spec.title, fontsize=10)
        fig.tight_layout(rect=(0, 0, 1, 0.94))  # room for the title above the panels' own
        written.append(save_figure(fig, out_dir / f"{plot.id}{suffix}.png", dpi=120, bbox_inches="tight"))
        plt.close(fig)
    return written


# -- shared pieces ----------------------------------------------------------------------------------------------
def _series(report: TableReport, row: str, columns: tuple[str, ...], key: str) -> np.ndarray:
    return np.array([float(getattr(report.cell(row, c), key)) for c in columns])


def _err(report: TableReport, row: str, columns: tuple[str, ...]) -> np.ndarray:
    """Error bar half-lengths: the 95 % interval's half-width, else the std over seeds, else 0."""
    half, std = _series(report, row, columns, "half"), _series(report, row, columns, "std")
    return np.nan_to_num(np.where(np.isfinite(half), half, std))


def _rows(spec: TableSpec, plot: PlotSpec) -> list[RowSpec]:
    return [spec.row(r) for r in plot.rows] if plot.rows else list(spec.rows)


def panels_of(rows: list[RowSpec]) -> list[tuple[str, list[RowSpec]]]:
    """``(panel title, rows)``: one panel per row group when there are several, chunks of :data:`MAX_SERIES`."""
    groups: dict[str, list[RowSpec]] = {}
    for r in rows:
        groups.setdefault(r.group if len({x.group for x in rows}) > 1 else "", []).append(r)
    out = []
    for group, members in groups.items():
        chunks = [members[i:i + MAX_SERIES] for i in range(0, len(members), MAX_SERIES)]
        for k, chunk in enumerate(chunks):
            out.append((group + (f" ({k + 1}/{len(chunks)})" if len(chunks) > 1 else ""), chunk))
    return out


def _styles(rows: list[RowSpec]) -> dict[str, dict]:
    """One style per row *label* (the same model in two panels, e.g. complete space and sub-space, looks the
    same): tab10 colour, marker and line style all change from one label to the next."""
    labels = list(dict.fromkeys(r.label for r in rows))
    cmap = plt.get_cmap("tab10")
    by_label = {lab: dict(color=cmap(i % 10), marker=MARKERS[i % len(MARKERS)], ls=LINESTYLES[i % len(LINESTYLES)])
                for i, lab in enumerate(labels)}
    return {r.id: by_label[r.label] for r in rows}


def _ylabel(spec: TableSpec, plot: PlotSpec, columns: tuple[str, ...]) -> str:
    """The plot's ``ylabel``, else the columns' labels with their unit."""
    if plot.ylabel:
        return plot.ylabel
    cols = [spec.column(c) for c in columns]
    if len(cols) == 1:
        return header_label(cols[0])
    unit = cols[0].unit if len({c.unit for c in cols}) == 1 and cols[0].unit else ""
    return ", ".join(c.label for c in cols) + (f" ({unit})" if unit else "")


def _chance_in_view(ax, chance: float, values: np.ndarray) -> bool:
    """Whether a chance line at ``chance`` keeps the data readable: within one data span of the data; otherwise
    the axis would be stretched until the differences vanish (it is then named in the axis label instead)."""
    v = values[np.isfinite(values)]
    if not len(v):
        return True
    span = max(float(v.max() - v.min()), 1e-9)
    return v.min() - span <= chance <= v.max() + span


def _no_data(ax, what: str) -> None:
    ax.text(0.5, 0.5, f"no {what} recorded", ha="center", va="center", transform=ax.transAxes, color="0.4")


# -- kinds ------------------------------------------------------------------------------------------------------
def _lines(spec: TableSpec, report: TableReport, plot: PlotSpec):
    """One panel of ours per row panel (:func:`panels_of`), the published values in panels of their own."""
    rows = _rows(spec, plot)
    styles = _styles(rows)
    panels = panels_of(rows)
    published = plot.published and any(np.isfinite(_series(report, r.id, plot.columns, "published")).any()
                                       for r in rows)
    ncols = len(panels) * (2 if published else 1)
    fig, axes = plt.subplots(1, ncols, figsize=(4.6 * ncols + 2.6, 4.2), squeeze=False)
    x = np.arange(len(plot.columns))
    chance = np.array([spec.column(c).chance if spec.column(c).chance is not None else np.nan
                       for c in plot.columns], dtype=float)
    handles: dict[str, object] = {}
    for k, (group, members) in enumerate(panels):
        ax = axes[0][k * (2 if published else 1)]
        drawn = False
        for row in members:
            mean, err = _series(report, row.id, plot.columns, "mean"), _err(report, row.id, plot.columns)
            if np.isfinite(mean).any():
                h = ax.errorbar(x, mean, yerr=err, capsize=3, ms=5, lw=1.3, label=row.label, **styles[row.id])
                handles.setdefault(row.label, h)
                drawn = True
        if np.isfinite(chance).any():
            h, = ax.plot(x, chance, label="chance (random model)", **CHANCE_STYLE)
            handles.setdefault("chance (random model)", h)
        if not drawn:
            _no_data(ax, "runs")
        ax.set_title(f"{group}: {OURS_TITLE}" if group else OURS_TITLE, fontsize=9)
        if published:
            axp = axes[0][k * 2 + 1]
            for row in members:
                pub = _series(report, row.id, plot.columns, "published")
                if np.isfinite(pub).any():
                    h, = axp.plot(x, pub, ms=5, lw=1.3, label=row.label, **styles[row.id])
                    handles.setdefault(row.label, h)
            axp.set_title(f"{group}: {PUBLISHED_TITLE}" if group else PUBLISHED_TITLE, fontsize=9)
    for ax in axes[0]:
        ax.set_xticks(x, [spec.column(c).label for c in plot.columns])  # the unit is in the y label
        ax.set_ylabel(_ylabel(spec, plot, plot.columns), fontsize=9)
        ax.grid(alpha=0.3)
    fig.legend(list(handles.values()), list(handles), loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8,
               frameon=False)
    return fig


def _bars(spec: TableSpec, report: TableReport, plot: PlotSpec):
    """One column across rows, horizontally (row labels read without rotation): ours with 95 % intervals, the
    published values in a panel of their own."""
    rows = _rows(spec, plot)[::-1]  # top to bottom in spec order
    col = spec.column(plot.columns[0])
    mean = np.array([report.cell(r.id, col.id).mean for r in rows], dtype=float)
    err = np.concatenate([_err(report, r.id, (col.id,)) for r in rows])
    pub = np.array([report.cell(r.id, col.id).published for r in rows], dtype=float)
    published = plot.published and np.isfinite(pub).any()
    fig, axes = plt.subplots(1, 2 if published else 1, figsize=(10.5 if published else 7.0, 0.32 * len(rows) + 1.6),
                             squeeze=False, sharey=True)
    y = np.arange(len(rows))
    groups = list(dict.fromkeys(r.group for r in rows[::-1]))
    colours = {g: plt.get_cmap("tab10")(i) for i, g in enumerate(groups)}
    for ax, values, errors, title in ((axes[0][0], mean, err, OURS_TITLE),
                                      *(((axes[0][1], pub, np.zeros_like(pub), PUBLISHED_TITLE),) if published else ())):
        for g in groups:
            sel = np.array([r.group == g for r in rows])
            ax.errorbar(values[sel], y[sel], xerr=errors[sel], fmt="o", capsize=3, color=colours[g],
                        label=g if len(groups) > 1 else None)
        if not np.isfinite(values).any():
            _no_data(ax, "values")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel(plot.ylabel or header_label(col), fontsize=9)
        ax.grid(alpha=0.3)
        if col.relative_to:  # the reference row is 1 by definition
            ax.axvline(1.0, color="0.45", lw=0.8)
    if col.chance is not None:
        ax = axes[0][0]
        if _chance_in_view(ax, col.chance, mean):
            ax.axvline(col.chance, label="chance (random model)", **CHANCE_STYLE)
        else:
            ax.set_xlabel(f"{ax.get_xlabel()} (chance {fmt_value(col, col.chance)}: off the axis)", fontsize=9)
    axes[0][0].set_yticks(y, [r.label for r in rows], fontsize=8)
    if axes[0][0].get_legend_handles_labels()[0]:
        axes[0][0].legend(fontsize=7, loc="best")
    return fig


def _grouped(spec: TableSpec, report: TableReport, plot: PlotSpec):
    """Columns on x, one dodged point (± 95 % interval) per row; a panel per row group (and one of the published
    values below each, when asked); a chance segment over each column that has one."""
    rows = _rows(spec, plot)
    styles = _styles(rows)
    panels = panels_of(rows)
    published = plot.published and any(np.isfinite(_series(report, r.id, plot.columns, "published")).any()
                                       for r in rows)
    nrows = 2 if published else 1
    fig, axes = plt.subplots(nrows, len(panels), figsize=(5.2 * len(panels) + 2.6, 3.9 * nrows), squeeze=False,
                             sharey="row")
    x = np.arange(len(plot.columns))
    handles: dict[str, object] = {}
    for k, (group, members) in enumerate(panels):
        width = 0.8 / max(len(members), 1)
        for which, ax in ((("mean", axes[0][k]),) + ((("published", axes[1][k]),) if published else ())):
            values = []
            for i, row in enumerate(members):
                off = x - 0.4 + width * (i + 0.5)
                v = _series(report, row.id, plot.columns, which)
                e = _err(report, row.id, plot.columns) if which == "mean" else np.zeros_like(v)
                st = styles[row.id]
                h = ax.errorbar(off, v, yerr=e, fmt=st["marker"], color=st["color"], capsize=2, ms=5,
                                label=row.label)
                handles.setdefault(row.label, h)
                values.append(v - e)
            if which == "mean":
                for j, c in enumerate(plot.columns):
                    ch = spec.column(c).chance
                    if ch is not None:
                        h = ax.hlines(ch, j - 0.45, j + 0.45, label="chance (random model)", **_hline(CHANCE_STYLE))
                        handles.setdefault("chance (random model)", h)
            title = OURS_TITLE if which == "mean" else PUBLISHED_TITLE
            ax.set_title(f"{group}: {title}" if group else title, fontsize=9)
            ax.set_xticks(x, [spec.column(c).label for c in plot.columns], fontsize=8)
            ax.set_ylabel(_ylabel(spec, plot, plot.columns), fontsize=9)
            ax.grid(alpha=0.3, axis="y")
    fig.legend(list(handles.values()), list(handles), loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8,
               frameon=False)
    return fig


def _hline(style: dict) -> dict:
    """:data:`CHANCE_STYLE` for ``Axes.hlines`` (``linestyles``/``linewidths`` rather than ``ls``/``lw``)."""
    return dict(colors=style["color"], linestyles=style["ls"], linewidths=style["lw"])


def fmt_value(col: ColumnSpec, v: float) -> str:
    return col.format.format(v) if v is not None and math.isfinite(v) else "—"
