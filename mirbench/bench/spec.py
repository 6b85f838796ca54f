"""Table specs: one YAML per paper table, loaded into validated dataclasses (format: benchmarks/tables/README.md).

``load_spec(path)`` checks every config file exists, ids are unique, metrics are well-formed, claims and plots
name existing rows/columns and profiles; errors name the file and the key (the YAML side is
:mod:`mirbench.bench.spec_loader`). ``TableSpec.resolve`` gives the runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from mirbench.paths import PROJECT_ROOT, benchmarks_dir

DEFAULT_PROFILE = "default"
RUN_METRICS = ("fit_time_s", "train_time_s", "epochs", "steps", "wall_time_s")  # measured by the runner, not logged
PLOT_KINDS = ("lines", "bars", "grouped_bars", "function")
# Metrics where smaller is better, by the end of their name: times, losses, ranks, and the kappa-rank
# correlation (Nakatsuka et al. 2024: a confident embedding ranks its pair near the top, so it is negative).
LOWER_IS_BETTER = ("_time_s", "loss", "mean_rank", "median_rank", "kappa_rank_spearman")


def higher_is_better(metric: str) -> bool:
    """Which direction of ``metric`` is better (``test/mean_rank`` -> False): a fact of the metric, not the table."""
    return not metric.rsplit("/", 1)[-1].endswith(LOWER_IS_BETTER)


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
    higher_is_better: bool = True  # the metric's direction (:func:`higher_is_better`) unless the spec says otherwise
    relative_to: str = ""  # row id: values are divided by that row's mean (e.g. training-time ratio)
    unit: str = ""
    bounds: tuple[float, float] | None = (0.0, 1.0)  # the metric's range before ``scale``; None: unbounded
    # Display only: a diagnostic describes a model (e.g. a concentration kappa), it does not score it, so no row
    # of it is "best"; ``chance`` (printed units) is what a random model scores, drawn as a line in the plots.
    diagnostic: bool = False
    chance: float | None = None

    @property
    def cost(self) -> bool:
        """A cost (a time the runner measures, or a ratio of one): lower is cheaper, not a better result."""
        return self.metric in RUN_METRICS or bool(self.relative_to)


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
    from mirbench.bench.spec_loader import SpecLoader  # it builds this module's dataclasses

    return SpecLoader(path).spec(data)
