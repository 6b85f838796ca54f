"""Render a table: ours (mean ± 95 % interval half-width, n seeds), then the published values, per column; best
per column in bold; the claims with their effect sizes; the golden check.

``write_table`` writes ``results/<table_id>/table.{md,csv,tex}`` (``table.<profile>.*`` for a profile other
than ``default``): the Markdown has the spec's notes, the table, the claims, the golden check and the failed
runs; the CSV is tidy (one line per row x column); the LaTeX is the table alone.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import pandas as pd

from mirbench.bench.compare import aggregate, compare, evaluate_claims, load_reference
from mirbench.bench.machine import mixed_settings_note
from mirbench.bench.records import (RunRecord, load_records, records_replicates, table_dir, unreadable_records,
                                    write_runs_csv)
from mirbench.bench.sanity import constant_predictor_note
from mirbench.bench.spec import DEFAULT_PROFILE, ColumnSpec, SectionSpec, TableSpec
from mirbench.io import write_text

MISSING = "—"
ADDED_GROUP = "Added"  # the group of the rows of `table --add NAME=PATH`
STATUS_MARK = {"ok": "ok", "miss": "MISS", "known_gap": "known gap", "unchecked": "unchecked", "not_run": "not run",
               "no_published": MISSING, "no_golden": MISSING}


@dataclass
class TableReport:
    spec: TableSpec
    profile: str
    cells: pd.DataFrame  # compare(): one line per row x column
    claims: pd.DataFrame
    records: list[RunRecord] = field(default_factory=list)
    unreadable: list[Path] = field(default_factory=list)  # record files that do not parse

    @property
    def failed(self) -> list[RunRecord]:
        return [r for r in self.records if not r.ok]

    def cell(self, row: str, column: str) -> SimpleNamespace:
        """One (row, column) line of ``cells`` as attributes (mean, std, n, published, delta, status, ...)."""
        return SimpleNamespace(**self.cells[(self.cells.row == row) & (self.cells.column == column)].iloc[0])

    # -- text pieces -----------------------------------------------------------------------------------------
    def ours(self, c, col: ColumnSpec, bold: tuple[str, str] = ("**", "**"), pm: str = "±") -> str:
        """``mean ±half`` (the 95 % interval's half-width; the std over seeds when there is no interval)."""
        if not c.n:
            return MISSING
        mean = f"{bold[0]}{fmt(col, c.mean)}{bold[1]}" if c.best else fmt(col, c.mean)
        return f"{mean}{pm}{fmt(col, c.half)}" if math.isfinite(c.half) else mean

    def published(self, c, col: ColumnSpec, bold: tuple[str, str] = ("**", "**")) -> str:
        if not math.isfinite(c.published):
            return MISSING
        text = f"{bold[0]}{fmt(col, c.published)}{bold[1]}" if c.published_best else fmt(col, c.published)
        return f"{text} {STATUS_MARK[c.status]}" if c.status in ("ok", "miss") else text

    def sections(self) -> list[SectionSpec]:
        """The printed tables: the spec's ``sections``, or one with every row and column."""
        return list(self.spec.sections) or [SectionSpec("all")]

    def _rows_cols(self, section: SectionSpec | None):
        rows = [self.spec.row(r) for r in section.rows] if section and section.rows else list(self.spec.rows)
        columns = ([self.spec.column(c) for c in section.columns] if section and section.columns
                   else list(self.spec.columns))
        return rows, columns

    def grid(self, latex: bool = False, section: SectionSpec | None = None, which: str = "ours"
             ) -> tuple[list[str], list[list[str]]]:
        """One printed table: a line per row, a cell per metric: ``which="ours"`` (mean ±CI half-width),
        ``"published"``, or ``"both"`` (LaTeX: ours with the published value in parentheses)."""
        bold, pm = ((r"\textbf{", "}"), r"$\pm$") if latex else (("**", "**"), "±")
        esc = _latex_escape if latex else _md_escape
        rows, columns = self._rows_cols(section)
        groups = len({r.group for r in rows}) > 1
        with_n = which != "published"
        header = ((["Group"] if groups else []) + ["Row" if latex else "Row (id)"] + (["n"] if with_n else [])
                  + [esc(c.label) for c in columns])
        body = []
        if which == "published":  # a model added with `table --add` has no published numbers
            rows = [r for r in rows if r.group != ADDED_GROUP]
        for row in rows:
            line = ([esc(row.group)] if groups else []) + [esc(row.label) if latex else f"`{row.id}`"]
            if with_n:
                line.append(str(max(self.cell(row.id, c.id).n for c in columns)))
            for col in columns:
                c = self.cell(row.id, col.id)
                if which == "published":
                    line.append(self.published(c, col, bold))
                elif which == "both" and math.isfinite(c.published):
                    line.append(f"{self.ours(c, col, bold, pm)} ({fmt(col, c.published)})")
                else:
                    line.append(self.ours(c, col, bold, pm))
            body.append(line)
        return header, body

    def _has_published(self, section: SectionSpec | None) -> bool:
        rows, columns = self._rows_cols(section)
        ids = {(r.id, c.id) for r in rows for c in columns}
        sel = self.cells[[(r, c) in ids for r, c in zip(self.cells.row, self.cells.column)]]
        return bool(sel.published.notna().any())

    def _row_legend(self) -> list[str]:
        return [f"`{r.id}` = {_md_escape(r.label)}" + (f" ({_md_escape(r.group)})" if r.group else "")
                for r in self.spec.rows]

    def markdown(self) -> str:
        s, recs = self.spec, self.records
        n_ok = sum(r.ok for r in recs)
        n_stale = sum(r.ok and r.stale for r in recs)
        out = [f"# {s.title}", ""]
        if s.paper:
            out += [f"*{s.paper}*", ""]
        out += [f"Table `{s.id}`, profile `{self.profile}`: {n_ok} runs ok, {len(recs) - n_ok} failed. "
                "Ours = mean over n seeds ± the half-width of its 95 % interval (bootstrap over the test items "
                "combined with the spread over seeds; seeds only where a run recorded no replicates). "
                "Best per column in bold.", ""]
        if n_stale:
            out += [f"**{n_stale} of {n_ok} records are stale**: produced by other number-computing code than "
                    "this checkout (or recorded before code hashes were), so they may not be what this code "
                    f"gives; `make table-{s.id} FORCE=1` re-runs them.", ""]
        constant = constant_predictor_note(recs)
        if constant:
            out += [constant, ""]
        mixed = mixed_settings_note(recs)
        if mixed:
            out += [mixed, ""]
        if self.unreadable:
            from mirbench.bench.records import record_problem

            out += ["**Unreadable records** (left out of the table; re-run the rows, or delete or move the files): "
                    + "; ".join(f"`{p}` ({record_problem(p) or 'unreadable'})" for p in self.unreadable), ""]
        if s.notes.strip():
            out += ["## Notes", "", s.notes.strip(), ""]
        out += ["## Results", "", "Rows: " + "; ".join(self._row_legend()) + ".", ""]
        for sec in self.sections():
            title = _md_escape(sec.title) if sec.title else "Ours"
            out += [f"### {title}", "", md_table(*self.grid(section=sec)), ""]
            if self._has_published(sec):
                out += ["Published:", "", md_table(*self.grid(section=sec, which="published")), ""]
        res = resolution(self)
        if any(math.isfinite(v) for v in res.values()):
            out += ["Resolution (median 95 % half-width per column, the smallest difference a row can show): "
                    + ", ".join(f"{_md_escape(s.column(k).label)} {fmt(s.column(k), v)}" for k, v in res.items()
                                if math.isfinite(v)) + ".", ""]
        counts = self.cells.status.value_counts()
        out += ["Published checks: " + ", ".join(f"{int(counts.get(k, 0))} {STATUS_MARK[k]}" for k in
                                                 ("ok", "miss", "known_gap", "unchecked", "not_run")) + ".", ""]
        gaps = self.cells[(self.cells.status == "known_gap") & (self.cells.note != "")]
        if len(gaps):
            out += ["Known gaps (published values not comparable with ours, not checked):", ""]
            for note, sel in gaps.groupby("note", sort=False):
                out.append(f"- {_md_escape(note)} ({len(sel)} cells)")
            out.append("")
        if len(self.claims):
            counts = self.claims.status.value_counts()
            out += ["## Claims", "", ", ".join(f"{int(counts.get(k, 0))} {k}" for k in
                                               ("held", "contradicted", "inconclusive", "not run")) + ". "
                    "Effect = greater − than − margin with its 95 % interval (paired bootstrap over test items + "
                    "seeds); held when the interval is above 0, contradicted when below.", ""]
            for c in self.claims.itertuples():
                req = " (required)" if c.required else ""
                col = s.column(c.column)
                out.append(f"- **{c.status}**{req} `{c.id}`: {_md_escape(c.text)} — {c.greater} = {fmt(col, c.lhs)} "
                           f"vs {c.than} = {fmt(col, c.rhs)}, effect {_effect(c, col)}")
            out.append("")
        gold = self.cells[self.cells.golden.notna()]
        if len(gold):
            counts = gold.golden_status.value_counts()
            out += ["## Golden check", "", f"{len(gold)} golden numbers (benchmarks/golden/{s.id}.csv): "
                    + ", ".join(f"{int(counts.get(k, 0))} {STATUS_MARK[k]}" for k in ("ok", "miss", "not_run")) + ".",
                    ""]
            miss = gold[gold.golden_status == "miss"]
            if len(miss):
                rows = [[g.row, s.column(g.column).label, self.ours(g, s.column(g.column), ("", "")),
                         f"{fmt(s.column(g.column), g.golden)} ± {fmt(s.column(g.column), g.golden_tol)}"]
                        for g in miss.itertuples()]
                out += [md_table(["row", "column", "ours", "golden"], rows), ""]
        if self.failed:
            out += ["## Failed runs", ""] + [f"- {r.row} seed={r.seed}: {_md_escape(_last(r.error))}"
                                             for r in self.failed] + [""]
        return "\n".join(out)

    def latex(self) -> str:
        """One booktabs ``table`` per section: a column per metric, ours ± CI half-width (published)."""
        out = []
        for sec in self.sections():
            header, body = self.grid(latex=True, section=sec, which="both")
            body = [[x.replace(MISSING, "--") for x in line] for line in body]
            label = f"tab:{self.spec.id}" + (f"-{sec.id}" if self.spec.sections else "")
            caption = _latex_escape(sec.title or self.spec.title) + (
                " Ours: mean $\\pm$ 95\\,\\% interval half-width; published in parentheses."
                if self._has_published(sec) else " Mean $\\pm$ 95\\,\\% interval half-width.")
            out.append(pd.DataFrame(body, columns=header).to_latex(
                index=False, escape=False, caption=caption, label=label, column_format="l" * len(header)))
        return "\n".join(out)

    def frame(self) -> pd.DataFrame:
        df = self.cells.drop(columns=["spread"], errors="ignore").copy()
        df.insert(0, "profile", self.profile)
        df.insert(0, "table_id", self.spec.id)
        df["values"] = df["values"].map(lambda v: ";".join(f"{x:.6g}" for x in v))
        return df


def _effect(c, col: ColumnSpec) -> str:
    """``+15.0 [+5.2, +24.8]`` in the column's format."""
    def signed_fmt(v: float) -> str:
        return ("+" if v >= 0 else "-") + fmt(col, abs(v))

    if not math.isfinite(c.effect):
        return MISSING
    if not math.isfinite(c.effect_lo):
        return f"{signed_fmt(c.effect)} (no interval)"
    return f"{signed_fmt(c.effect)} [{signed_fmt(c.effect_lo)}, {signed_fmt(c.effect_hi)}]"


def resolution(report: TableReport) -> dict[str, float]:
    """Per column: the median over rows of the 95 % interval's half-width (printed units), i.e. the smallest
    difference of a row from a fixed value the table can resolve; NaN where no cell has an interval."""
    out = {}
    for col in report.spec.columns:
        halves = report.cells[(report.cells.column == col.id) & report.cells.half.notna()].half
        out[col.id] = float(halves.median()) if len(halves) else math.nan
    return out


def fmt(col: ColumnSpec, v: float) -> str:
    return col.format.format(v) if v is not None and math.isfinite(v) else MISSING


def signed(col: ColumnSpec, delta: float, verdict: str) -> str:
    if delta is None or not math.isfinite(delta):
        return MISSING
    text = ("+" if delta >= 0 else "-") + fmt(col, abs(delta))
    return f"{text} {verdict}".strip() if verdict and verdict != "equal" else text


def md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(str(x) for x in r) + " |" for r in rows])


def _num(v: float) -> str:
    return f"{v:.4g}" if v is not None and math.isfinite(v) else MISSING


def _last(text: str) -> str:
    return text.strip().splitlines()[-1] if text.strip() else ""


def _md_escape(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


_LATEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "_": r"\_", "#": r"\#", "$": r"\$", "{": r"\{",
          "}": r"\}", "~": r"\textasciitilde{}", "^": r"\^{}"}


def _latex_escape(text: str) -> str:
    return re.sub(r"[\\&%_#${}~^]", lambda m: _LATEX[m.group()], str(text))


def with_added_rows(spec: TableSpec, added: dict[str, list[RunRecord]]) -> TableSpec:
    """The spec with one row per user model (``table --add NAME=PATH``), group "Added", in every section that
    has a column the model's records measured; the paper's rows, columns and claims as they were."""
    from dataclasses import replace

    from mirbench.bench.spec import RowSpec, SpecError

    known = {r.id for r in spec.rows}
    rows, sections = list(spec.rows), list(spec.sections)
    for name, recs in added.items():
        if name in known:
            raise SpecError(f"--add {name}=...: {spec.id} already has a row {name!r}; choose another name")
        rows.append(RowSpec(id=name, label=name, group=ADDED_GROUP))
        measured = {k for r in recs for k in r.metrics}
        for i, sec in enumerate(sections):
            cols = sec.columns or tuple(c.id for c in spec.columns)
            if sec.rows and any(spec.column(c).metric in measured for c in cols):
                sections[i] = replace(sec, rows=(*sec.rows, name))
    return replace(spec, rows=tuple(rows), sections=tuple(sections))


def build_report(spec: TableSpec, profile: str | None = None, results_root: Path | None = None,
                 added: dict[str, Path] | None = None) -> TableReport:
    """The table's report; ``added``: ``{row name: record file or folder}`` of models of one's own
    (``mirbench evaluate``), shown as extra rows."""
    from mirbench.bench.records import added_records

    prof = spec.profile(profile)
    spec = spec.for_profile(prof.name)
    profile, records = prof.name, load_records(spec.id, prof.name, results_root)
    replicates, bad_replicates = records_replicates(records, results_root)
    if added:
        extra = {name: added_records(name, Path(path)) for name, path in added.items()}
        spec = with_added_rows(spec, {name: recs for name, (recs, _) in extra.items()})
        for recs, reps in extra.values():
            records = records + [replace_profile(r, spec.id, profile) for r in recs]
            replicates.update(reps)
    unreadable = unreadable_records(spec.id, prof.name, results_root) + bad_replicates
    agg = aggregate(spec, records, replicates)
    cells = compare(spec, agg, load_reference(spec.published, spec, None), load_reference(spec.golden, spec, profile),
                    check_published=prof.check_published, paper_data=prof.paper_data)
    return TableReport(spec, profile, cells, evaluate_claims(spec, agg, profile), records, unreadable)


def replace_profile(record: RunRecord, table_id: str, profile: str) -> RunRecord:
    """An added record under the table's id and profile (its numbers untouched)."""
    from dataclasses import replace

    return replace(record, table_id=table_id, profile=profile)


def output_paths(spec: TableSpec, profile: str, results_root: Path | None = None) -> dict[str, Path]:
    suffix = "" if profile == DEFAULT_PROFILE else f".{profile}"
    d = table_dir(spec.id, results_root)
    return {ext: d / f"table{suffix}.{ext}" for ext in ("md", "csv", "tex")}


def write_table(spec: TableSpec, profile: str | None = None, results_root: Path | None = None) -> TableReport:
    """Build the report and write table.{md,csv,tex} (and refresh runs.csv); returns the report."""
    report = build_report(spec, profile, results_root)
    write_runs_csv(spec.id, results_root)
    paths = output_paths(spec, report.profile, results_root)
    write_text(paths["md"], report.markdown())
    write_text(paths["csv"], report.frame().to_csv(index=False))
    write_text(paths["tex"], report.latex())
    return report
