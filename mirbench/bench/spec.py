"""Table specs: one YAML per paper table, loaded into validated dataclasses (format: benchmarks/tables/README.md).

``load_spec(path)`` checks every config file exists, ids are unique, metrics are well-formed, claims and plots
name existing rows/columns and profiles; errors name the file and the key. ``TableSpec.resolve`` gives the runs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from mirbench.paths import PROJECT_ROOT, benchmarks_dir

DEFAULT_PROFILE = "default"
RUN_METRICS = ("fit_time_s", "steps", "wall_time_s")  # measured by the runner, not logged by the model
PLOT_KINDS = ("lines", "bars", "grouped_bars", "function")
_METRIC_RE = re.compile(r"^[A-Za-z0-9_]+(/[A-Za-z0-9_@.\-]+)+$")
_ID_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")
_FUNC_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


class SpecError(ValueError):
    """A table spec is invalid; the message names the file and the key."""


@dataclass(frozen=True)
class RowSpec:
    id: str
    label: str
    configs: tuple[str, ...] = ()
    overrides: tuple[str, ...] = ()
    group: str = ""  # e.g. "Sub-space" in Lee et al. Table B
    runs_from: str = ""  # read the runs of another row (same model, other metrics); no runs of its own
    metrics: dict[str, str] = field(default_factory=dict)  # column id -> metric key, overriding the column's


@dataclass(frozen=True)
class ColumnSpec:
    id: str
    label: str
    metric: str
    scale: float = 1.0
    format: str = "{:.3f}"
    higher_is_better: bool = True
    relative_to: str = ""  # row id: values are divided by that row's mean (e.g. training-time ratio)
    unit: str = ""


@dataclass(frozen=True)
class ClaimRef:
    row: str
    column: str


@dataclass(frozen=True)
class ClaimSpec:
    id: str
    text: str
    greater: ClaimRef
    than: ClaimRef
    margin: float = 0.0  # printed units
    required: bool = False  # `mirbench check` fails when a required claim is not held
    profiles: tuple[str, ...] = ()  # only evaluated under these profiles (empty: all)


@dataclass(frozen=True)
class ProfileSpec:
    name: str
    seeds: tuple[int, ...] | None = None
    rows: tuple[str, ...] | None = None
    overrides: tuple[str, ...] = ()
    description: str = ""
    check_published: bool = True  # false: published numbers are shown but never fail `check` (e.g. CI scale)
    configs: tuple[str, ...] = ()  # appended after each row's configs (e.g. swap the data set for the real one)
    row_configs: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # replace these rows' configs
    column_labels: Mapping[str, str] = field(default_factory=dict)  # column headers under this profile
    paper_data: bool = False  # runs on the paper's data sets: published `known_gap` lines are checked


@dataclass(frozen=True)
class PlotSpec:
    id: str
    kind: str
    title: str = ""
    columns: tuple[str, ...] = ()
    rows: tuple[str, ...] = ()  # empty: every row
    function: str = ""  # "module:function" for kind `function`
    published: bool = False  # overlay the published numbers
    ylabel: str = ""


@dataclass(frozen=True)
class SectionSpec:
    """One printed table of a spec (e.g. the paper's Table A and Table B): a subset of rows and columns."""

    id: str
    title: str = ""
    rows: tuple[str, ...] = ()  # empty: every row
    columns: tuple[str, ...] = ()  # empty: every column


@dataclass(frozen=True)
class RunPlan:
    """One run to do: a row's config stack with one seed under one profile."""

    table_id: str
    row: str
    seed: int
    profile: str
    configs: tuple[str, ...]  # as written in the spec (relative to the spec's root)
    overrides: tuple[str, ...]
    root: Path

    @property
    def config_paths(self) -> list[str]:
        return [str((self.root / c).resolve()) for c in self.configs]

    @property
    def name(self) -> str:
        return f"{self.row}__seed{self.seed}"


@dataclass(frozen=True)
class TableSpec:
    id: str
    title: str
    rows: tuple[RowSpec, ...]
    columns: tuple[ColumnSpec, ...]
    seeds: tuple[int, ...] = (0,)
    paper: str = ""
    notes: str = ""
    base: tuple[str, ...] = ()
    profiles: dict[str, ProfileSpec] = field(default_factory=dict)
    claims: tuple[ClaimSpec, ...] = ()
    plots: tuple[PlotSpec, ...] = ()
    sections: tuple[SectionSpec, ...] = ()  # empty: one table with every row and column
    path: Path | None = None
    root: Path = PROJECT_ROOT
    published: Path | None = None
    golden: Path | None = None

    def row(self, row_id: str) -> RowSpec:
        return next(r for r in self.rows if r.id == row_id)

    def column(self, column_id: str) -> ColumnSpec:
        return next(c for c in self.columns if c.id == column_id)

    def for_profile(self, name: str | None) -> TableSpec:
        """The spec as printed under a profile: its ``column_labels`` replace the columns' labels."""
        labels = self.profile(name).column_labels
        if not labels:
            return self
        return replace(self, columns=tuple(replace(c, label=labels.get(c.id, c.label)) for c in self.columns))

    def metric_of(self, row_id: str, column_id: str) -> str:
        return self.row(row_id).metrics.get(column_id, self.column(column_id).metric)

    def run_row(self, row_id: str) -> str:
        """The row whose runs hold ``row_id``'s numbers (itself unless it has ``runs_from``)."""
        return self.row(row_id).runs_from or row_id

    def profile(self, name: str | None) -> ProfileSpec:
        name = name or DEFAULT_PROFILE
        if name == DEFAULT_PROFILE:
            return self.profiles.get(name, ProfileSpec(DEFAULT_PROFILE))
        if name not in self.profiles:
            raise SpecError(f"{self.path}: profiles: unknown profile {name!r}; known: {self.profile_names}")
        return self.profiles[name]

    @property
    def profile_names(self) -> list[str]:
        return [DEFAULT_PROFILE, *self.profiles]

    def resolve(self, profile: str | None = None, rows: list[str] | None = None,
                seeds: list[int] | None = None) -> list[RunPlan]:
        """The runs to do: (rows that own runs) x seeds, in spec order; configs are base + row's (or the
        profile's ``row_configs`` for that row) + profile's, overrides row's then profile's."""
        prof = self.profile(profile)
        wanted = list(rows) if rows else list(prof.rows or [r.id for r in self.rows])
        if unknown := [r for r in wanted if r not in [r.id for r in self.rows]]:
            raise SpecError(f"{self.path}: rows: unknown row(s) {unknown}; known: {[r.id for r in self.rows]}")
        run_rows = {self.run_row(r) for r in wanted}
        return [RunPlan(self.id, r.id, int(s), prof.name,
                        self.base + prof.row_configs.get(r.id, r.configs) + prof.configs, r.overrides + prof.overrides,
                        self.root) for r in self.rows if r.id in run_rows for s in (seeds or prof.seeds or self.seeds)]


def find_spec(name_or_path: str | Path, tables_dir: Path | None = None) -> Path:
    """A spec by path, or by id in ``benchmarks/tables/<id>.yaml``."""
    p = Path(name_or_path)
    if p.is_file():
        return p
    tables_dir = tables_dir or benchmarks_dir() / "tables"
    cand = tables_dir / f"{name_or_path}.yaml"
    if cand.is_file():
        return cand
    known = sorted(q.stem for q in tables_dir.glob("*.yaml"))
    raise SpecError(f"no table spec {str(name_or_path)!r}: not a file, and not an id in {tables_dir} (known: {known})")


def load_spec(path: str | Path) -> TableSpec:
    """Load and validate a table spec (a path or an id in ``benchmarks/tables/``)."""
    path = find_spec(path)
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise SpecError(f"{path}: not valid YAML: {e}") from e
    return _Loader(path).spec(data)


class _Loader:
    """Turns the YAML into dataclasses; every error names the file and the key."""

    def __init__(self, path: Path):
        self.path = path

    def err(self, key: str, msg: str) -> SpecError:
        return SpecError(f"{self.path}: {key}: {msg}")

    def mapping(self, obj: Any, key: str, required: tuple[str, ...], optional: tuple[str, ...]) -> dict:
        if not isinstance(obj, dict):
            raise self.err(key, f"expected a mapping, got {type(obj).__name__}")
        if missing := [k for k in required if k not in obj]:
            raise self.err(key, f"missing required key(s) {missing}")
        if extra := [k for k in obj if k not in required + optional]:
            raise self.err(key, f"unknown key(s) {extra}; allowed: {list(required + optional)}")
        return obj

    def strs(self, obj: Any, key: str) -> tuple[str, ...]:
        if obj is not None and (not isinstance(obj, list) or not all(isinstance(x, str) for x in obj)):
            raise self.err(key, "expected a list of strings")
        return tuple(obj or ())

    def ints(self, obj: Any, key: str) -> tuple[int, ...]:
        if not isinstance(obj, list) or not obj or not all(isinstance(x, int) and not isinstance(x, bool) for x in obj):
            raise self.err(key, "expected a non-empty list of integers")
        return tuple(obj)

    def get(self, d: dict, k: str, key: str, types: tuple[type, ...], default: Any) -> Any:
        """``d[k]`` (or ``default``) checked against ``types``; a bool is not taken for a number."""
        v = d.get(k, default)
        if not isinstance(v, types) or (isinstance(v, bool) and bool not in types):
            raise self.err(f"{key}.{k}", f"expected {' or '.join(t.__name__ for t in types)}, got {v!r}")
        return v

    def ident(self, obj: Any, key: str) -> str:
        if not isinstance(obj, str) or not _ID_RE.match(obj):
            raise self.err(key, f"invalid id {obj!r} (letters, digits, _ . -)")
        return obj

    def member(self, values: Any, known: list[str], key: str, what: str) -> None:
        for v in [values] if isinstance(values, str) else values:
            if v not in known:
                raise self.err(key, f"unknown {what} {v!r}; known: {known}")

    def unique(self, ids: list[str], key: str) -> None:
        if dup := sorted({i for i in ids if ids.count(i) > 1}):
            raise self.err(key, f"duplicate id(s) {dup}")

    def configs(self, obj: Any, key: str, root: Path) -> tuple[str, ...]:
        names = self.strs(obj, key)
        for i, c in enumerate(names):
            if not (root / c).is_file():
                raise self.err(f"{key}[{i}]", f"config file not found: {c} (resolved against {root})")
        return names

    def metric(self, m: Any, key: str) -> str:
        if not isinstance(m, str) or not (m in RUN_METRICS or _METRIC_RE.match(m)):
            raise self.err(key, f"malformed metric {m!r}: expected '<stage>/<name>' (e.g. test/recall_at_1) "
                                f"or one of {list(RUN_METRICS)}")
        return m

    def spec(self, d: Any) -> TableSpec:
        d = self.mapping(d, "<top>", ("id", "title", "rows", "columns"),
                         ("paper", "notes", "base", "seeds", "profiles", "claims", "plots", "root", "published",
                          "golden", "sections"))
        tid = self.ident(d["id"], "id")
        root = (self.path.parent / d["root"]).resolve() if d.get("root") else PROJECT_ROOT
        base = self.configs(d.get("base"), "base", root)
        for key in ("rows", "columns"):
            if not isinstance(d[key], list) or not d[key]:
                raise self.err(key, "expected a non-empty list")
        rows = tuple(self.row(r, f"rows[{i}]", root) for i, r in enumerate(d["rows"]))
        columns = tuple(self.column(c, f"columns[{i}]") for i, c in enumerate(d["columns"]))
        row_ids, col_ids = [r.id for r in rows], [c.id for c in columns]
        self.unique(row_ids, "rows")
        self.unique(col_ids, "columns")
        owners = [r.id for r in rows if not r.runs_from]
        for i, r in enumerate(rows):
            if r.runs_from and r.runs_from not in owners:
                raise self.err(f"rows[{i}].runs_from", f"{r.runs_from!r} is not a row with runs of its own")
            if not r.runs_from and not (base or r.configs):
                raise self.err(f"rows[{i}].configs", "a row needs configs (or a non-empty base)")
            self.member(list(r.metrics), col_ids, f"rows[{i}].metrics", "column")
        for i, c in enumerate(columns):
            self.member([c.relative_to] if c.relative_to else [], row_ids, f"columns[{i}].relative_to", "row")
        profiles = {n: self.profile(n, p, f"profiles.{n}", row_ids, col_ids, root)
                    for n, p in (d.get("profiles") or {}).items()}
        names = [DEFAULT_PROFILE, *profiles]
        claims = tuple(self.claim(c, f"claims[{i}]", row_ids, col_ids, names)
                       for i, c in enumerate(d.get("claims") or []))
        plots = tuple(self.plot(p, f"plots[{i}]", row_ids, col_ids) for i, p in enumerate(d.get("plots") or []))
        self.unique([c.id for c in claims], "claims")
        self.unique([p.id for p in plots], "plots")
        sections = tuple(self.section(x, f"sections[{i}]", row_ids, col_ids)
                         for i, x in enumerate(d.get("sections") or []))
        self.unique([x.id for x in sections], "sections")
        return TableSpec(id=tid, title=self.get(d, "title", "<top>", (str,), ""), rows=rows, columns=columns,
                         seeds=self.ints(d.get("seeds", [0]), "seeds"), paper=self.get(d, "paper", "<top>", (str,), ""),
                         notes=self.get(d, "notes", "<top>", (str,), ""), base=base, profiles=profiles, claims=claims,
                         plots=plots, sections=sections, path=self.path, root=root,
                         published=root / d.get("published", f"benchmarks/published/{tid}.csv"),
                         golden=root / d.get("golden", f"benchmarks/golden/{tid}.csv"))

    def row(self, r: Any, key: str, root: Path) -> RowSpec:
        r = self.mapping(r, key, ("id",), ("label", "configs", "overrides", "group", "runs_from", "metrics"))
        metrics = r.get("metrics") or {}
        if not isinstance(metrics, dict):
            raise self.err(f"{key}.metrics", "expected a mapping column id -> metric key")
        return RowSpec(id=self.ident(r["id"], f"{key}.id"), label=self.get(r, "label", key, (str,), r["id"]),
                       configs=self.configs(r.get("configs"), f"{key}.configs", root),
                       overrides=self.strs(r.get("overrides"), f"{key}.overrides"),
                       group=self.get(r, "group", key, (str,), ""), runs_from=self.get(r, "runs_from", key, (str,), ""),
                       metrics={c: self.metric(m, f"{key}.metrics.{c}") for c, m in metrics.items()})

    def column(self, c: Any, key: str) -> ColumnSpec:
        c = self.mapping(c, key, ("id", "metric"),
                         ("label", "scale", "format", "higher_is_better", "relative_to", "unit"))
        fmt = c.get("format", "{:.3f}")
        try:
            fmt.format(1.0)
        except (ValueError, IndexError, KeyError, AttributeError) as e:
            raise self.err(f"{key}.format", f"bad format {fmt!r}: {e}") from e
        return ColumnSpec(id=self.ident(c["id"], f"{key}.id"), label=self.get(c, "label", key, (str,), c["id"]),
                          metric=self.metric(c["metric"], f"{key}.metric"),
                          scale=float(self.get(c, "scale", key, (int, float), 1.0)), format=fmt,
                          higher_is_better=self.get(c, "higher_is_better", key, (bool,), True),
                          relative_to=self.get(c, "relative_to", key, (str,), ""),
                          unit=self.get(c, "unit", key, (str,), ""))

    def profile(self, name: str, p: Any, key: str, row_ids: list[str], col_ids: list[str], root: Path) -> ProfileSpec:
        if name == DEFAULT_PROFILE:
            raise self.err(key, f"{DEFAULT_PROFILE!r} is the implicit profile (the spec's own seeds); rename it")
        self.ident(name, key)
        p = self.mapping(p or {}, key, (), ("seeds", "rows", "overrides", "description", "check_published", "configs",
                                            "row_configs", "column_labels", "paper_data"))
        rows = self.strs(p.get("rows"), f"{key}.rows")
        self.member(rows, row_ids, f"{key}.rows", "row")
        row_configs = self.mapping(p.get("row_configs") or {}, f"{key}.row_configs", (), tuple(row_ids))
        labels = self.mapping(p.get("column_labels") or {}, f"{key}.column_labels", (), tuple(col_ids))
        if bad := [c for c, v in labels.items() if not isinstance(v, str)]:
            raise self.err(f"{key}.column_labels.{bad[0]}", "expected a string")
        return ProfileSpec(name, self.ints(p["seeds"], f"{key}.seeds") if "seeds" in p else None, rows or None,
                           self.strs(p.get("overrides"), f"{key}.overrides"),
                           self.get(p, "description", key, (str,), ""),
                           self.get(p, "check_published", key, (bool,), True),
                           self.configs(p.get("configs"), f"{key}.configs", root),
                           {r: self.configs(c, f"{key}.row_configs.{r}", root) for r, c in row_configs.items()},
                           dict(labels), self.get(p, "paper_data", key, (bool,), False))

    def ref(self, obj: Any, key: str, row_ids: list[str], col_ids: list[str]) -> ClaimRef:
        obj = self.mapping(obj, key, ("row", "column"), ())
        self.member(obj["row"], row_ids, f"{key}.row", "row")
        self.member(obj["column"], col_ids, f"{key}.column", "column")
        return ClaimRef(obj["row"], obj["column"])

    def claim(self, c: Any, key: str, row_ids, col_ids, profiles) -> ClaimSpec:
        c = self.mapping(c, key, ("id", "greater", "than"), ("text", "margin", "required", "profiles"))
        prof = self.strs(c.get("profiles"), f"{key}.profiles")
        self.member(prof, profiles, f"{key}.profiles", "profile")
        return ClaimSpec(id=self.ident(c["id"], f"{key}.id"), text=self.get(c, "text", key, (str,), ""),
                         greater=self.ref(c["greater"], f"{key}.greater", row_ids, col_ids),
                         than=self.ref(c["than"], f"{key}.than", row_ids, col_ids),
                         margin=float(self.get(c, "margin", key, (int, float), 0.0)),
                         required=self.get(c, "required", key, (bool,), False), profiles=prof)

    def section(self, x: Any, key: str, row_ids, col_ids) -> SectionSpec:
        x = self.mapping(x, key, ("id",), ("title", "rows", "columns"))
        rows, cols = self.strs(x.get("rows"), f"{key}.rows"), self.strs(x.get("columns"), f"{key}.columns")
        self.member(rows, row_ids, f"{key}.rows", "row")
        self.member(cols, col_ids, f"{key}.columns", "column")
        return SectionSpec(id=self.ident(x["id"], f"{key}.id"), title=self.get(x, "title", key, (str,), ""),
                           rows=rows, columns=cols)

    def plot(self, p: Any, key: str, row_ids, col_ids) -> PlotSpec:
        p = self.mapping(p, key, ("id", "kind"),
                         ("title", "columns", "column", "rows", "function", "published", "ylabel"))
        kind, func = p["kind"], self.get(p, "function", key, (str,), "")
        self.member(kind, list(PLOT_KINDS), f"{key}.kind", "kind")
        cols = self.strs(p.get("columns"), f"{key}.columns") + ((p["column"],) if "column" in p else ())
        self.member(cols, col_ids, f"{key}.columns", "column")
        rows = self.strs(p.get("rows"), f"{key}.rows")
        self.member(rows, row_ids, f"{key}.rows", "row")
        if kind == "bars" and len(cols) != 1 or kind in ("lines", "grouped_bars") and not cols:
            raise self.err(f"{key}.columns", f"kind {kind!r} needs {'one column' if kind == 'bars' else 'columns'}")
        if kind == "function" and not _FUNC_RE.match(func):
            raise self.err(f"{key}.function", f"expected 'package.module:function', got {func!r}")
        return PlotSpec(id=self.ident(p["id"], f"{key}.id"), kind=kind, title=self.get(p, "title", key, (str,), ""),
                        columns=cols, rows=rows, function=func, published=self.get(p, "published", key, (bool,), False),
                        ylabel=self.get(p, "ylabel", key, (str,), ""))
