"""The YAML side of :mod:`mirbench.bench.spec`: :class:`SpecLoader` turns a parsed table spec into validated
dataclasses; every error names the file and the key (``benchmarks/tables/x.yaml: rows[3].configs[0]: ...``)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mirbench.bench.spec import (DEFAULT_PROFILE, PLOT_KINDS, RUN_METRICS, ClaimRef, ClaimSpec, ColumnSpec, PlotSpec,
                                 ProfileSpec, RowSpec, SectionSpec, SpecError, TableSpec, higher_is_better)
from mirbench.paths import PROJECT_ROOT

_METRIC_RE = re.compile(r"^[A-Za-z0-9_]+(/[A-Za-z0-9_@.\-]+)+$")
_ID_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")
_FUNC_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


class SpecLoader:
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
                         ("label", "scale", "format", "higher_is_better", "relative_to", "unit", "bounds", "diagnostic",
                          "chance"))
        fmt = c.get("format", "{:.3f}")
        try:
            fmt.format(1.0)
        except (ValueError, IndexError, KeyError, AttributeError) as e:
            raise self.err(f"{key}.format", f"bad format {fmt!r}: {e}") from e
        metric = self.metric(c["metric"], f"{key}.metric")
        return ColumnSpec(id=self.ident(c["id"], f"{key}.id"), label=self.get(c, "label", key, (str,), c["id"]),
                          metric=metric, scale=float(self.get(c, "scale", key, (int, float), 1.0)), format=fmt,
                          higher_is_better=self.direction(c, key, metric),
                          relative_to=self.get(c, "relative_to", key, (str,), ""),
                          unit=self.get(c, "unit", key, (str,), ""), bounds=self.bounds(c, f"{key}.bounds"),
                          diagnostic=self.get(c, "diagnostic", key, (bool,), False),
                          chance=self.get(c, "chance", key, (int, float, type(None)), None))

    def direction(self, c: dict, key: str, metric: str) -> bool:
        """The metric's direction (:func:`~mirbench.bench.spec.higher_is_better`); a column may state it only for
        a metric the suite does not know to be lower-is-better, never contradict a known one."""
        known = higher_is_better(metric)
        stated = self.get(c, "higher_is_better", key, (bool,), known)
        if not known and stated:
            raise self.err(f"{key}.higher_is_better", f"{metric!r} is lower-is-better (mirbench.bench.spec."
                                                      "LOWER_IS_BETTER); drop the key")
        return stated

    def bounds(self, c: dict, key: str) -> tuple[float, float] | None:
        """``bounds: [lo, hi]`` (the metric's range, before ``scale``), ``null`` for an unbounded metric."""
        if "bounds" not in c:
            return (0.0, 1.0)
        b = c["bounds"]
        if b is None:
            return None
        if not (isinstance(b, list) and len(b) == 2 and all(isinstance(x, (int, float)) for x in b) and b[0] < b[1]):
            raise self.err(key, f"expected [lo, hi] with lo < hi, or null; got {b!r}")
        return float(b[0]), float(b[1])

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
