"""Render a table: ours (mean ± std, n) | published | delta | status per column, best per column in bold.

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
from mirbench.bench.records import RunRecord, load_records, table_dir, write_runs_csv
from mirbench.bench.spec import DEFAULT_PROFILE, ColumnSpec, SectionSpec, TableSpec
from mirbench.io import write_text

MISSING = "—"
STATUS_MARK = {"ok": "ok", "miss": "MISS", "known_gap": "known gap", "unchecked": "unchecked", "not_run": "not run",
               "no_published": MISSING, "no_golden": MISSING}


@dataclass
class TableReport:
    spec: TableSpec
    profile: str
    cells: pd.DataFrame  # compare(): one line per row x column
    claims: pd.DataFrame
    records: list[RunRecord] = field(default_factory=list)

    @property
    def failed(self) -> list[RunRecord]:
        return [r for r in self.records if not r.ok]

    def cell(self, row: str, column: str) -> SimpleNamespace:
        """One (row, column) line of ``cells`` as attributes (mean, std, n, published, delta, status, ...)."""
        return SimpleNamespace(**self.cells[(self.cells.row == row) & (self.cells.column == column)].iloc[0])

    # -- text pieces -----------------------------------------------------------------------------------------
    def ours(self, c, col: ColumnSpec, bold: tuple[str, str] = ("**", "**"), pm: str = "±") -> str:
        if not c.n:
            return MISSING
        mean = f"{bold[0]}{fmt(col, c.mean)}{bold[1]}" if c.best else fmt(col, c.mean)
        return f"{mean} {pm} {fmt(col, c.std)} (n={c.n})"

    def published(self, c, col: ColumnSpec, bold: tuple[str, str] = ("**", "**")) -> str:
        if not math.isfinite(c.published):
            return MISSING
        return f"{bold[0]}{fmt(col, c.published)}{bold[1]}" if c.published_best else fmt(col, c.published)

    def sections(self) -> list[SectionSpec]:
        """The printed tables: the spec's ``sections``, or one with every row and column."""
        return list(self.spec.sections) or [SectionSpec("all")]

    def grid(self, latex: bool = False, section: SectionSpec | None = None) -> tuple[list[str], list[list[str]]]:
        bold, pm = ((r"\textbf{", "}"), r"$\pm$") if latex else (("**", "**"), "±")
        esc = _latex_escape if latex else _md_escape
        delta_sym = r"$\Delta$" if latex else "Δ"
        rows = [self.spec.row(r) for r in section.rows] if section and section.rows else list(self.spec.rows)
        columns = ([self.spec.column(c) for c in section.columns] if section and section.columns
                   else list(self.spec.columns))
        groups = any(r.group for r in rows)
        header = (["Group"] if groups else []) + ["Row"]
        for col in columns:
            header += [esc(col.label), f"{esc(col.label)} pub.", f"{esc(col.label)} {delta_sym}",
                       f"{esc(col.label)} status"]
        body = []
        for row in rows:
            line = ([esc(row.group)] if groups else []) + [esc(row.label)]
            for col in columns:
                c = self.cell(row.id, col.id)
                line += [self.ours(c, col, bold, pm), self.published(c, col, bold), signed(col, c.delta, c.verdict),
                         STATUS_MARK.get(c.status, c.status)]
            body.append(line)
        return header, body

    def markdown(self) -> str:
        s, recs = self.spec, self.records
        n_ok = sum(r.ok for r in recs)
        out = [f"# {s.title}", ""]
        if s.paper:
            out += [f"*{s.paper}*", ""]
        out += [f"Table `{s.id}`, profile `{self.profile}`: {n_ok} runs ok, {len(recs) - n_ok} failed. "
                "Ours = mean ± sample std (n seeds); Δ = ours − published, in printed units; best per column "
                "in bold (ours and published separately).", ""]
        if s.notes.strip():
            out += ["## Notes", "", s.notes.strip(), ""]
        out += ["## Results", ""]
        for sec in self.sections():
            if sec.title:
                out += [f"### {_md_escape(sec.title)}", ""]
            out += [md_table(*self.grid(section=sec)), ""]
        counts = self.cells.status.value_counts()
        out += ["Published checks: " + ", ".join(f"{int(counts.get(k, 0))} {STATUS_MARK[k]}" for k in
                                                 ("ok", "miss", "known_gap", "unchecked", "not_run")) + ".", ""]
        gaps = self.cells[(self.cells.status == "known_gap") & (self.cells.note != "")]
        if len(gaps):
            out += ["Known gaps:", ""] + [f"- {g.row} / {g.column}: {g.note}" for g in gaps.itertuples()] + [""]
        if len(self.claims):
            out += ["## Claims", "", md_table(["claim", "statement", "greater", "than", "margin", "status"], [
                [c.id + (" (required)" if c.required else ""), _md_escape(c.text), f"{c.greater} = {_num(c.lhs)}",
                 f"{c.than} = {_num(c.rhs)}", _num(c.margin), c.status] for c in self.claims.itertuples()]), ""]
        gold = self.cells[self.cells.golden.notna()]
        if len(gold):
            rows = []
            for g in gold.itertuples():
                col = s.column(g.column)
                rows.append([g.row, col.label, self.ours(g, col, ("", "")), fmt(col, g.golden),
                             signed(col, g.golden_delta, ""), STATUS_MARK.get(g.golden_status, g.golden_status)])
            out += ["## Golden check", "", md_table(["row", "column", "ours", "golden", "Δ", "status"], rows), ""]
        if self.failed:
            out += ["## Failed runs", ""] + [f"- {r.row} seed={r.seed}: {_md_escape(_last(r.error))}"
                                             for r in self.failed] + [""]
        return "\n".join(out)

    def latex(self) -> str:
        """One ``table`` environment per section."""
        out = []
        for sec in self.sections():
            header, body = self.grid(latex=True, section=sec)
            body = [[x.replace(MISSING, "--") for x in line] for line in body]
            label = f"tab:{self.spec.id}" + (f"-{sec.id}" if self.spec.sections else "")
            out.append(pd.DataFrame(body, columns=header).to_latex(
                index=False, escape=False, caption=_latex_escape(sec.title or self.spec.title), label=label))
        return "\n".join(out)

    def frame(self) -> pd.DataFrame:
        df = self.cells.copy()
        df.insert(0, "profile", self.profile)
        df.insert(0, "table_id", self.spec.id)
        df["values"] = df["values"].map(lambda v: ";".join(f"{x:.6g}" for x in v))
        return df


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


def build_report(spec: TableSpec, profile: str | None = None, results_root: Path | None = None) -> TableReport:
    prof = spec.profile(profile)
    spec = spec.for_profile(prof.name)
    profile, records = prof.name, load_records(spec.id, prof.name, results_root)
    agg = aggregate(spec, records)
    cells = compare(spec, agg, load_reference(spec.published, spec, None), load_reference(spec.golden, spec, profile),
                    check_published=prof.check_published, paper_data=prof.paper_data)
    return TableReport(spec, profile, cells, evaluate_claims(spec, agg, profile), records)


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
