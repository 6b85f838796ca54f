"""Render a table: ours (mean ± 95 % interval half-width, n seeds), then the published values, per column; the
best of ours in bold where resolved (:func:`resolved_best`); the claims with their effect sizes; the golden check.

``write_table`` writes ``results/<table_id>/table.{md,csv,tex}`` (``table.<profile>.*`` for a profile other
than ``default``): the Markdown has the spec's notes, the table, the claims, the golden check and the failed
runs, every line within 120 characters (:func:`wrap_markdown`); the CSV is tidy (one line per row x column); the
LaTeX is booktabs tables alone, ours above the published values."""

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
from mirbench.bench.stats import judge
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
    def ours(self, c, col: ColumnSpec, bold: tuple[str, str] | None = None, pm: str = "±") -> str:
        """``mean ±half`` (the 95 % interval's half-width; the std over seeds when there is no interval); the mean
        wrapped in ``bold`` when given."""
        if not c.n:
            return MISSING
        mean = f"{bold[0]}{fmt(col, c.mean)}{bold[1]}" if bold else fmt(col, c.mean)
        return f"{mean}{pm}{fmt(col, c.half)}" if math.isfinite(c.half) else mean

    def published(self, c, col: ColumnSpec, mark: bool = True) -> str:
        """The published value (never bold: it has no interval here to tell a resolved best), with its check
        (ok / MISS) when ``mark``."""
        if not math.isfinite(c.published):
            return MISSING
        text = fmt(col, c.published)
        return f"{text} {STATUS_MARK[c.status]}" if mark and c.status in ("ok", "miss") else text

    def sections(self) -> list[SectionSpec]:
        """The printed tables: the spec's ``sections``, or one with every row and column."""
        return list(self.spec.sections) or [SectionSpec("all")]

    def _rows_cols(self, section: SectionSpec | None):
        rows = [self.spec.row(r) for r in section.rows] if section and section.rows else list(self.spec.rows)
        columns = ([self.spec.column(c) for c in section.columns] if section and section.columns
                   else list(self.spec.columns))
        return rows, columns

    def bold(self, section: SectionSpec | None = None) -> set[tuple[str, str]]:
        """The (row, column) cells of ours printed bold in ``section``: per scored column, the best row when its
        difference from the runner-up is resolved (:func:`resolved_best`); rows reading the same runs and
        metric (``runs_from``) count once and are bolded together."""
        rows, columns = self._rows_cols(section)
        out: set[tuple[str, str]] = set()
        for col in columns:
            if col.cost or col.diagnostic:
                continue
            best = resolved_best(self, [r.id for r in rows], col)
            if best is not None:
                key = (self.spec.run_row(best), self.spec.metric_of(best, col.id))
                out |= {(r.id, col.id) for r in rows
                        if (self.spec.run_row(r.id), self.spec.metric_of(r.id, col.id)) == key}
        return out

    def grid(self, latex: bool = False, section: SectionSpec | None = None, which: str = "ours"
             ) -> tuple[list[str], list[list[str]]]:
        """One printed table: a line per row, a cell per metric: ``which="ours"`` (mean ±CI half-width, n) or
        ``"published"`` (rows with a published value only). Groups are header lines (first cell only) rather than
        a column, so a grouped table stays within 120 characters."""
        bold, pm = ((r"\textbf{", "}"), r"$\pm$") if latex else (("**", "**"), "±")
        esc = _latex_escape if latex else _md_escape
        rows, columns = self._rows_cols(section)
        with_n = which != "published"
        header = ["Row" if latex else "Row (id)"] + (["n"] if with_n else []) + [esc(header_label(c)) for c in columns]
        if which == "published":  # a model added with `table --add` has no published numbers
            rows = [r for r in rows if r.group != ADDED_GROUP
                    and any(math.isfinite(self.cell(r.id, c.id).published) for c in columns)]
        strong = self.bold(section) if which == "ours" else set()
        grouped = len({r.group for r in rows}) > 1
        body, group = [], None
        for row in rows:
            if grouped and row.group != group:
                group = row.group
                name = esc(group or "(no group)")
                body.append([name if latex else f"*{name}*"] + [""] * (len(header) - 1))
            line = [esc(row.label) if latex else f"`{row.id}`"]
            if with_n:
                line.append(str(max(self.cell(row.id, c.id).n for c in columns)))
            for col in columns:
                c = self.cell(row.id, col.id)
                line.append(self.published(c, col, mark=not latex) if which == "published"
                            else self.ours(c, col, bold if (row.id, col.id) in strong else None, pm))
            body.append(line)
        return header, body

    def _has_published(self, section: SectionSpec | None) -> bool:
        rows, columns = self._rows_cols(section)
        ids = {(r.id, c.id) for r in rows for c in columns}
        sel = self.cells[[(r, c) in ids for r, c in zip(self.cells.row, self.cells.column)]]
        return bool(sel.published.notna().any())

    def _row_legend(self) -> list[str]:
        """One list item per row: id, label, group, and the row whose runs it reads."""
        out = []
        for r in self.spec.rows:
            extra = [_md_escape(r.group)] if r.group else []
            if r.runs_from:
                extra.append(f"the runs of `{r.runs_from}`" + (", other metrics" if r.metrics else ""))
            out.append(f"- `{r.id}`: {_md_escape(r.label)}" + (f" — {'; '.join(extra)}" if extra else ""))
        return out

    def _column_notes(self, section: SectionSpec | None) -> list[str]:
        """Why some columns have no bold: costs (the reference row of a ratio is 1 by definition) and diagnostics."""
        _, columns = self._rows_cols(section)
        notes = []
        for col in columns:
            if col.relative_to:
                notes.append(f"{_md_escape(header_label(col))}: ratio to `{col.relative_to}` (1 by definition); "
                             "a cost, never bold")
            elif col.cost:
                notes.append(f"{_md_escape(header_label(col))}: a cost on this machine, never bold")
        diag = [_md_escape(header_label(c)) for c in columns if c.diagnostic]
        if diag:
            notes.append(f"{', '.join(diag)}: diagnostics (they describe a model, they do not score it), never bold")
        return [f"*{'; '.join(notes)}.*"] if notes else []

    def _chance_note(self, section: SectionSpec | None) -> list[str]:
        """The cells of ours whose 95 % interval covers the column's chance level (``chance`` in the spec): a row
        there is not shown to beat a random model on that column (a collapsed or untrained model scores about this)."""
        rows, columns = self._rows_cols(section)
        hits = []
        for col in columns:
            if col.chance is None:
                continue
            for row in rows:
                c = self.cell(row.id, col.id)
                if c.n and math.isfinite(c.half) and c.mean - c.half <= col.chance <= c.mean + c.half:
                    hits.append(f"`{row.id}`{NBSP}{_md_escape(header_label(col))}")
        if not hits:
            return []
        return [f"*At chance (the 95 % interval covers the chance level of the column): {', '.join(hits)}.*"]

    def _resolution_lines(self) -> list[str]:
        """Median half-width per column, one list item per printed table (a label such as MRR may appear in
        several: the section title says which, e.g. the retrieval direction), with the column's direction."""
        res = resolution(self)
        items = []
        for sec in self.sections():
            _, columns = self._rows_cols(sec)
            parts = [f"{_md_escape(header_label(c))}{NBSP}{_arrow(c)}{NBSP}{fmt(c, res[c.id])}" for c in columns
                     if math.isfinite(res[c.id])]
            if parts:
                items.append((f"- {_md_escape(sec.title)}: " if sec.title else "- ") + ", ".join(parts))
        if not items:
            return []
        return ["Resolution (the median 95 % half-width per column: the smallest difference from a fixed value a row "
                "can show; ↑ higher is better, ↓ lower is better, · a cost or a diagnostic):", "", *items, ""]

    def _checks_lines(self) -> list[str]:
        """Published-check counts, with what "not run" stands for: cells without a value of ours (named) or lines
        of the published CSV the paper gives no value for."""
        cells = self.cells
        not_run = cells[cells.status == "not_run"]
        ours_missing = not_run[not_run.n == 0]
        paper_missing = not_run[not_run.n > 0]
        has_published = bool(cells.published.notna().any() or (cells.ref_status != "").any())
        if has_published:
            counts = cells.status.value_counts()
            line = "Published checks: " + ", ".join(f"{int(counts.get(k, 0))} {STATUS_MARK[k]}" for k in
                                                    ("ok", "miss", "known_gap", "unchecked", "not_run")) + "."
        else:
            line = "Published checks: none (the table has no published numbers)."
        out = [line]
        if len(ours_missing):
            out.append(f"Not run: {len(ours_missing)} cell(s) without a value of ours "
                       f"(no ok run recorded the metric): {_cell_names(ours_missing)}.")
        if len(paper_missing):
            out.append(f"Not run: {len(paper_missing)} cell(s) the paper gives no value for: "
                       f"{_cell_names(paper_missing)}.")
        return [" ".join(out), ""]

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
                "Bold: the best of ours per column where its difference from the runner-up is resolved (the paired "
                "95 % interval of the difference, or the two intervals, exclude a tie); never on costs, reference "
                "rows or diagnostics; published values are never bold (no intervals).", ""]
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

            out += ["**Unreadable records** (left out of the table; re-run the rows, or delete or move the files):", ""]
            out += [f"- `{p}`{NBSP}({record_problem(p) or 'unreadable'})" for p in self.unreadable] + [""]
        if s.notes.strip():
            out += ["## Notes", "", s.notes.strip(), ""]
        out += ["## Results", "", "Rows:", "", *self._row_legend(), ""]
        for sec in self.sections():
            title = _md_escape(sec.title) if sec.title else "Ours"
            out += [f"### {title}", "", md_table(*self.grid(section=sec)), ""]
            notes = self._column_notes(sec) + self._chance_note(sec)
            if notes:
                out += [*notes, ""]
            if self._has_published(sec):
                out += ["Published:", "", md_table(*self.grid(section=sec, which="published")), ""]
        out += self._resolution_lines()
        out += self._checks_lines()
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
                lhs, rhs, effect = _claim_numbers(c, col)
                out.append(f"- **{c.status}**{req} `{c.id}`: {_md_escape(c.text)} — {c.greater} = {lhs} "
                           f"vs {c.than} = {rhs}, effect {effect}")
            out.append("")
        gold = self.cells[self.cells.golden.notna()]
        if len(gold):
            counts = gold.golden_status.value_counts()
            out += ["## Golden check", "", f"{len(gold)} golden numbers (benchmarks/golden/{s.id}.csv): "
                    + ", ".join(f"{int(counts.get(k, 0))} {STATUS_MARK[k]}" for k in ("ok", "miss", "not_run")) + ".",
                    ""]
            miss = gold[gold.golden_status == "miss"]
            if len(miss):
                rows = [[g.row, s.column(g.column).label, self.ours(g, s.column(g.column)),
                         f"{fmt(s.column(g.column), g.golden)} ± {fmt(s.column(g.column), g.golden_tol)}"]
                        for g in miss.itertuples()]
                out += [md_table(["row", "column", "ours", "golden"], rows), ""]
        if self.failed:
            out += ["## Failed runs", ""] + [f"- {r.row} seed={r.seed}: {_md_escape(_last(r.error))}"
                                             for r in self.failed] + [""]
        return wrap_markdown("\n".join(out))

    def latex(self) -> str:
        """One booktabs table per section: ours (mean ± 95 % half-width) in one block, the published values in a
        block below (never side by side: on stand-in data they are not comparable); ``table`` when it fits an
        ISMIR column, ``table*`` otherwise."""
        return ("% booktabs tables; \\usepackage{booktabs,graphicx}\n"
                + "\n".join(self._latex_section(sec) for sec in self.sections()))

    def _latex_section(self, sec: SectionSpec) -> str:
        header, ours = self.grid(latex=True, section=sec)
        published = self.grid(latex=True, section=sec, which="published")[1] if self._has_published(sec) else []
        published = [[line[0], ""] + line[1:] for line in published]  # under ours: an empty n column
        ncol = len(header)
        grouped = any(all(x == "" for x in line[1:]) for line in ours)

        def lines(body: list[list[str]]) -> list[str]:
            out = []
            for line in body:
                if grouped and all(x == "" for x in line[1:]):  # a group header line
                    out.append(rf"\multicolumn{{{ncol}}}{{l}}{{\emph{{{line[0]}}}}} \\")
                    continue
                cells = [x.replace(MISSING, "--") for x in line]
                out.append((r"\quad " if grouped else "") + " & ".join(cells) + r" \\")
            return out

        widest = max(len(_latex_plain(line[0])) + (2 if grouped else 0) for line in ours + published + [header])
        width = widest + sum(max(len(_latex_plain(line[i])) for line in [header] + ours + published) + 2
                             for i in range(1, ncol))
        env = "table" if width <= ISMIR_COLUMN_CHARS else "table*"
        limit = ISMIR_COLUMN_CHARS if env == "table" else ISMIR_TEXT_CHARS
        label = f"tab:{self.spec.id}" + (f"-{sec.id}" if self.spec.sections else "")
        title = _latex_escape(sec.title or self.spec.title).rstrip()
        caption = (title if title.endswith((".", "?", "!")) else title + ".") + (
            " Ours: mean $\\pm$ 95\\,\\% interval half-width over test items and seeds (bold: best, resolved); "
            "published values below, for their ordering only." if published
            else " Mean $\\pm$ 95\\,\\% interval half-width over test items and seeds (bold: best, resolved).")
        tabular = [rf"\begin{{tabular}}{{l{'r' * (ncol - 1)}}}", r"\toprule", " & ".join(header) + r" \\",
                   r"\midrule"]
        if published:
            tabular.append(rf"\multicolumn{{{ncol}}}{{l}}{{\textit{{Ours}}}} \\")
        tabular += lines(ours)
        if published:
            tabular += [r"\midrule", rf"\multicolumn{{{ncol}}}{{l}}{{\textit{{Published}}}} \\"]
            tabular += lines(published)
        tabular += [r"\bottomrule", r"\end{tabular}"]
        if width > limit:  # scaled down to the column (or page) width rather than running into the margin
            box = r"\columnwidth" if env == "table" else r"\textwidth"
            tabular = [rf"\resizebox{{{box}}}{{!}}{{%", *tabular, "}"]
        out = [rf"\begin{{{env}}}", r"\centering", r"\small", rf"\caption{{{caption}}}", rf"\label{{{label}}}",
               *tabular, rf"\end{{{env}}}", ""]
        return "\n".join(_wrap_tex(line) for line in out)

    def frame(self) -> pd.DataFrame:
        df = self.cells.drop(columns=["spread"], errors="ignore").copy()
        df.insert(0, "profile", self.profile)
        df.insert(0, "table_id", self.spec.id)
        df["values"] = df["values"].map(lambda v: ";".join(f"{x:.6g}" for x in v))
        return df


def resolved_best(report: TableReport, rows: list[str], col: ColumnSpec) -> str | None:
    """The best of ``rows`` on ``col`` when its difference from each other row is resolved, else None.

    Resolved: the two 95 % intervals do not overlap, or the 95 % interval of the difference (paired over the test
    items when both cells have replicates, :func:`mirbench.bench.stats.judge`) excludes 0. A cell without any
    interval (one seed, no replicates) is never resolved; rows reading the same runs and metric count once.
    """
    seen, cand = set(), []
    for r in rows:
        c = report.cell(r, col.id)
        key = (report.spec.run_row(r), report.spec.metric_of(r, col.id))
        if c.n and math.isfinite(c.mean) and key not in seen:
            seen.add(key)
            cand.append((r, c))
    if len(cand) < 2:
        return None
    cand.sort(key=lambda rc: rc[1].mean, reverse=col.higher_is_better)
    best, top = cand[0]
    # against every other row, not only the runner-up by mean: a close mean with a narrow interval can be
    # resolved while a slightly lower one with a wide interval is not
    return best if all(_resolved(top, other, col.higher_is_better) for _, other in cand[1:]) else None


def _resolved(top, other, higher_is_better: bool) -> bool:
    """``top`` better than ``other``: their 95 % intervals apart, or the paired interval of the difference above 0."""
    if not (math.isfinite(top.half) and math.isfinite(other.half)):
        return False
    if (top.lo > other.hi) if higher_is_better else (top.hi < other.lo):
        return True
    greater, smaller = (top, other) if higher_is_better else (other, top)
    return judge(greater.spread, smaller.spread).status == "held"


# Units of measure go into a header ("R@1 (%)"); other `unit` strings of a spec name the metric ("macro-F1") and
# stay in table.csv only.
DISPLAY_UNITS = ("%", "s", "ms", "min", "h", "dB", "Hz")
WIDTH = 120  # table.md is read in a terminal or a diff: no line longer than this
# Characters of \small text one column / the page of the ISMIR template holds (8.4 / 17.5 cm): wider tables go
# into table*, and past the page width are scaled down
ISMIR_COLUMN_CHARS = 60
ISMIR_TEXT_CHARS = 120


def header_label(col: ColumnSpec) -> str:
    """The column's label with its unit of measure, e.g. ``R@1 (%)``."""
    if col.unit in DISPLAY_UNITS and f"({col.unit})" not in col.label:
        return f"{col.label} ({col.unit})"
    return col.label


def _arrow(col: ColumnSpec) -> str:
    if col.cost or col.diagnostic:
        return "·"
    return "↑" if col.higher_is_better else "↓"


def _cell_names(cells: pd.DataFrame, most: int = 8) -> str:
    """``row.column`` ids of a few cells, else counts per column."""
    if len(cells) <= most:
        return ", ".join(f"`{r}.{c}`" for r, c in zip(cells.row, cells.column))
    by_col = cells.groupby("column", sort=False).size()
    return ", ".join(f"`{c}` ({n} rows)" for c, n in by_col.items())


def _decimals(col: ColumnSpec) -> int | None:
    m = re.fullmatch(r"\{:[+ ]?\.(\d+)f\}", col.format)
    return int(m.group(1)) if m else None


def _claim_numbers(c, col: ColumnSpec) -> tuple[str, str, str]:
    """``lhs``, ``rhs`` and ``effect [lo, hi]`` of a claim, with the decimals of two significant digits of the
    interval's width when the column's format has fewer (an effect of 0.4 in a "{:.0f}" column reads
    "+0.4 [-0.1, +0.9]", not "+0 [+0, +1]"), at most three decimals more than the format."""
    base = _decimals(col)
    width = c.effect_hi - c.effect_lo if math.isfinite(c.effect_lo) and math.isfinite(c.effect_hi) else math.nan
    if base is None or not math.isfinite(width) or width <= 0:
        return fmt(col, c.lhs), fmt(col, c.rhs), _effect(c, lambda v: fmt(col, v))
    need = max(base, min(base + 3, 1 - math.floor(math.log10(width))))

    def number(v: float, decimals: int = need) -> str:
        return f"{v:.{decimals}f}" if v is not None and math.isfinite(v) else MISSING

    # the two sides at the column's precision unless that prints them equal ("89 vs 89")
    side = next((d for d in range(base, need + 1) if number(c.lhs, d) != number(c.rhs, d)), need)
    return number(c.lhs, side), number(c.rhs, side), _effect(c, number)


def _effect(c, number) -> str:
    """``+15.0 [+5.2, +24.8]`` with ``number`` formatting each value."""
    def signed_fmt(v: float) -> str:
        return ("+" if v >= 0 else "-") + number(abs(v))

    if not math.isfinite(c.effect):
        return MISSING
    if not math.isfinite(c.effect_lo):
        return f"{signed_fmt(c.effect)} (no interval)"
    return f"{signed_fmt(c.effect)} [{signed_fmt(c.effect_lo)}, {signed_fmt(c.effect_hi)}]"


NBSP = "\0"  # a space wrap_markdown never breaks at (printed as a space)
_CODE_SPAN = re.compile(r"`[^`]*`")
# A lone list/heading/table marker must never start a wrapped line (it would open a list, a heading or a table):
# it is glued to the word before it.
_LONE_MARKER = re.compile(r" ([-*+>#|]|\d+[.)]) ")


def wrap_markdown(text: str, width: int = WIDTH) -> str:
    """Every line of ``text`` longer than ``width`` wrapped: paragraphs flush, list items with the continuation
    indented under their text, headings cut at their first parenthesis or colon (the rest a paragraph); table lines
    and code spans are never broken (so a very long path may still overflow)."""
    import textwrap

    out = []
    for line in text.split("\n"):
        if len(line) <= width or line.startswith("|"):
            out.append(line.replace(NBSP, " "))
            continue
        if line.startswith("#"):
            hashes, _, title = line.partition(" ")
            cut = min((i for i in (title.find(" ("), title.find(": ")) if i > 0), default=-1)
            if cut > 0:
                rest = title[cut + 1:].strip() if title[cut + 1] != " " else title[cut + 2:].strip()
                out += [f"{hashes} {title[:cut].rstrip(':').replace(NBSP, ' ')}", "",
                        *wrap_markdown(rest, width).split("\n")]
                continue
        lead = re.match(r"^(\s*)([-*+] |\d+\. )?", line).group(0)
        body = _CODE_SPAN.sub(lambda m: m.group().replace(" ", "\0"), line[len(lead):])
        body = _LONE_MARKER.sub(lambda m: "\0" + m.group(1) + " ", body)
        lines = textwrap.wrap(body, width, initial_indent=lead, subsequent_indent=" " * len(lead),
                              break_long_words=False, break_on_hyphens=False)
        out += [x.replace("\0", " ") for x in lines]
    return "\n".join(out)


def _wrap_tex(line: str, width: int = WIDTH) -> str:
    """A long LaTeX source line broken at spaces (a newline is a space to TeX; no blank line is made)."""
    import textwrap

    if len(line) <= width:
        return line
    return "\n".join(textwrap.wrap(line, width, subsequent_indent="  ", break_long_words=False,
                                   break_on_hyphens=False))


def _latex_plain(cell: str) -> str:
    """A LaTeX cell as printed (for width estimates): commands and braces dropped, ``$\\pm$`` one character."""
    return re.sub(r"\\[a-zA-Z]+|[{}$]", "", cell.replace(r"$\pm$", "±"))


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
          "}": r"\}", "~": r"\textasciitilde{}", "^": r"\^{}", "→": r"$\rightarrow$", "±": r"$\pm$",
          "×": r"$\times$", "−": "--"}


def _latex_escape(text: str) -> str:
    return re.sub(r"[\\&%_#${}~^→±×−]", lambda m: _LATEX[m.group()], str(text))


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
