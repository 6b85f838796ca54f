"""RunRecords: one JSON per run under ``results/<table_id>/runs/<profile>/<row>__seed<S>.json``.

A record says what ran (config stack, overrides, resolved-config SHA-256, git sha, package versions, device)
and what came out (metrics, wall time, status). The resolved config is saved beside it as ``.yaml``;
``runs.csv`` aggregates every record of a table, one row per run x metric.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import platform
import subprocess
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import pandas as pd

from mirbench.io import write_json, write_text
from mirbench.paths import PROJECT_ROOT, results_dir

PACKAGES = ("torch", "lightning", "mirbench", "numpy", "scikit-learn")
RUNS_CSV_COLUMNS = ["table_id", "profile", "row", "seed", "status", "metric", "value", "config_sha256", "git_sha",
                    "finished"]


@dataclass
class RunRecord:
    table_id: str
    row: str
    seed: int
    profile: str
    metrics: dict[str, float] = field(default_factory=dict)
    configs: list[str] = field(default_factory=list)
    overrides: list[str] = field(default_factory=list)
    trainer_overrides: dict = field(default_factory=dict)
    config_sha256: str = ""
    git_sha: str = ""
    git_dirty: bool = False
    versions: dict[str, str] = field(default_factory=dict)
    device: str = ""
    mode: str = "inprocess"
    command: str = ""  # what a human types to reproduce the run
    wall_time_s: float = 0.0
    started: str = ""
    finished: str = ""
    status: str = "ok"  # ok | failed
    error: str = ""
    attempt: int = 1

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        # JSON has no NaN; a non-finite metric is written as null and read back as NaN
        d["metrics"] = {k: (float(v) if math.isfinite(v) else None) for k, v in self.metrics.items()}
        return d

    @classmethod
    def from_dict(cls, d: dict) -> RunRecord:
        names = {f.name for f in dataclasses.fields(cls)}
        d = {k: v for k, v in d.items() if k in names}
        d["metrics"] = {k: (math.nan if v is None else float(v)) for k, v in (d.get("metrics") or {}).items()}
        return cls(**d)


def table_dir(table_id: str, results_root: Path | None = None) -> Path:
    return Path(results_root or results_dir()) / table_id


def record_path(table_id: str, profile: str, row: str, seed: int, results_root: Path | None = None) -> Path:
    return table_dir(table_id, results_root) / "runs" / profile / f"{row}__seed{seed}.json"


def work_dir(table_id: str, profile: str, row: str, seed: int, results_root: Path | None = None) -> Path:
    """Checkpoints and logs of one run (not committed: ``results/*/work/``)."""
    return table_dir(table_id, results_root) / "work" / profile / f"{row}__seed{seed}"


def read_record(path: Path) -> RunRecord | None:
    try:
        return RunRecord.from_dict(json.loads(Path(path).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def write_record(record: RunRecord, results_root: Path | None = None, config_yaml: str | None = None) -> Path:
    """Write the record (and the resolved config beside it) atomically; returns the JSON path."""
    path = record_path(record.table_id, record.profile, record.row, record.seed, results_root)
    if config_yaml is not None:
        write_text(path.with_suffix(".yaml"), config_yaml)
    write_json(path, record.to_dict())
    return path


def load_records(table_id: str, profile: str | None = None, results_root: Path | None = None) -> list[RunRecord]:
    """Every readable record of a table (one profile, or all when ``profile`` is None), sorted."""
    runs = table_dir(table_id, results_root) / "runs"
    pattern = f"{profile}/*.json" if profile else "*/*.json"
    recs = [r for p in sorted(runs.glob(pattern)) if (r := read_record(p)) is not None]
    return sorted(recs, key=lambda r: (r.profile, r.row, r.seed))


def records_frame(records: list[RunRecord]) -> pd.DataFrame:
    """Long format: one row per run x metric (a failed run keeps one row with an empty metric)."""
    out = []
    for r in records:
        base = dict(table_id=r.table_id, profile=r.profile, row=r.row, seed=r.seed, status=r.status,
                    config_sha256=r.config_sha256, git_sha=r.git_sha, finished=r.finished)
        items = sorted(r.metrics.items()) or [("", math.nan)]
        out += [{**base, "metric": k, "value": v} for k, v in items]
    return pd.DataFrame(out, columns=RUNS_CSV_COLUMNS)


def write_runs_csv(table_id: str, results_root: Path | None = None) -> Path:
    path = table_dir(table_id, results_root) / "runs.csv"
    write_text(path, records_frame(load_records(table_id, None, results_root)).to_csv(index=False))
    return path


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def git_state(root: Path = PROJECT_ROOT) -> tuple[str, bool]:
    """(HEAD sha, whether tracked files differ from it); ("", False) outside a git checkout."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "", False
    if sha.returncode != 0:
        return "", False
    return sha.stdout.strip(), bool(dirty.stdout.strip())


@functools.lru_cache(maxsize=1)
def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for p in PACKAGES:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = ""
    return out


def device_string() -> str:
    """The machine's accelerator (what the run could use; the run's own device is in its stats)."""
    import torch

    if torch.cuda.is_available():
        return f"cuda: {torch.cuda.get_device_name(0)} x{torch.cuda.device_count()}"
    return f"cpu: {platform.processor() or platform.machine()}"
