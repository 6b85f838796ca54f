"""RunRecords: one JSON per run under ``results/<table_id>/runs/<profile>/<row>__seed<S>.json``.

A record says what ran (config stack, overrides, resolved-config SHA-256, git sha, package versions, device)
and what came out (metrics, wall time, status). The resolved config is saved beside it as ``.yaml``;
``runs.csv`` aggregates every record of a table, one row per run x metric.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import hashlib
import json
import math
import platform
import shutil
import subprocess
import sys
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from mirbench.bench.machine import machine_settings
from mirbench.io import atomic_path, write_json, write_text
from mirbench.metrics.bootstrap import BOOTSTRAP_FILE, load_replicates
from mirbench.provenance import source_at_import
from mirbench.paths import PROJECT_ROOT, results_dir

PACKAGES = ("torch", "lightning", "mirbench", "numpy", "scikit-learn")
RUNS_CSV_COLUMNS = ["table_id", "profile", "row", "seed", "status", "metric", "value", "config_sha256", "code_sha256",
                    "git_sha", "finished"]


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
    code_sha256: str = ""  # code_hash(code_files) when the run was recorded; another value now = a stale record
    code_files: list[str] = field(default_factory=list)  # the package files the run imported (numbers_source())
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
    # threads, BLAS and CPU kernels when the run was set up, in the process that runs it (bench.machine); a record
    # read from a file keeps what it holds: {} (unknown) for one written before these were kept
    machine: dict = field(default_factory=machine_settings)
    resumed_from: list[str] = field(default_factory=list)  # checkpoints an interrupted fit restarted from
    # items the protocol embedded and scored (`mirbench evaluate`); None: not counted (every record before it)
    n_items: int | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def stale(self) -> bool:
        """Produced by other number-computing code than this checkout's (or before code hashes were recorded)."""
        return not self.code_files or self.code_sha256 != code_hash(self.code_files)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        # JSON has no NaN; a non-finite metric is written as null and read back as NaN
        d["metrics"] = {k: (float(v) if math.isfinite(v) else None) for k, v in self.metrics.items()}
        return d

    @classmethod
    def from_dict(cls, d: dict) -> RunRecord:
        names = {f.name for f in dataclasses.fields(cls)}
        d = {k: v for k, v in d.items() if k in names}
        d["machine"] = d.get("machine") or {}  # absent = unknown, never this machine's settings
        d["metrics"] = {k: (math.nan if v is None else float(v)) for k, v in (d.get("metrics") or {}).items()}
        return cls(**d)


def table_dir(table_id: str, results_root: Path | None = None) -> Path:
    return Path(results_root or results_dir()) / table_id


def record_path(table_id: str, profile: str, row: str, seed: int, results_root: Path | None = None) -> Path:
    return table_dir(table_id, results_root) / "runs" / profile / f"{row}__seed{seed}.json"


def work_dir(table_id: str, profile: str, row: str, seed: int, results_root: Path | None = None) -> Path:
    """Checkpoints and logs of one run (not committed: ``results/*/work/``)."""
    return table_dir(table_id, results_root) / "work" / profile / f"{row}__seed{seed}"


def replicates_path(path: Path) -> Path:
    """The bootstrap replicates kept beside a record (``<row>__seed<S>.boot.npz``)."""
    return Path(path).with_suffix(".boot.npz")


def read_record(path: Path) -> RunRecord | None:
    try:
        return RunRecord.from_dict(json.loads(Path(path).read_text()))
    except (OSError, ValueError, TypeError, KeyError, AttributeError):  # AttributeError: JSON that is no object
        return None


_RECORD_KEYS = ("table_id", "row", "seed", "profile")  # what makes a JSON object a RunRecord


def record_problem(path: Path) -> str | None:
    """What is wrong with a record file, in a few words for a one-line message (None: it reads).

    Tells a truncated record (a run killed while writing) from a file that is no record at all (binary or
    random bytes, other JSON), so the user knows whether to re-run the row or look for a stray file.
    """
    path = Path(path)
    if path.name.endswith(".boot.npz"):
        return replicates_problem(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        return f"cannot be read ({e.strerror or e})"
    if not raw.strip():
        return "empty file (0 bytes): a write cut short, or a stray file"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "not text (binary or random bytes): not a RunRecord"
    try:
        d = json.loads(text)
    except json.JSONDecodeError as e:
        # an error at the very end (or inside a last, unterminated string) is a file cut short while written
        if e.pos >= len(text.rstrip()) or e.msg.startswith("Unterminated string"):
            return f"JSON that ends early (line {e.lineno}): a truncated RunRecord"
        return f"not JSON ({e.msg} at line {e.lineno}, column {e.colno}): not a RunRecord"
    if not isinstance(d, dict) or any(k not in d for k in _RECORD_KEYS):
        return f"JSON, but not a RunRecord (a record has the keys {', '.join(_RECORD_KEYS)})"
    try:
        RunRecord.from_dict(d)
    except (ValueError, TypeError, KeyError, AttributeError) as e:
        return f"a RunRecord with a malformed field ({type(e).__name__}: {e})"
    return None


def unreadable_message(path: Path) -> str:
    """``<file>: <what is wrong>; <what to do>`` of an unreadable record or replicates file."""
    what = record_problem(path) or "unreadable"
    # a stray file is no lost run: moving it away is enough; a damaged record or replicates file needs the run again
    todo = ("move it out of the runs folder (it is no record), or delete it" if "not a RunRecord" in what
            else "re-run the row, or delete the file")
    return f"{path}: {what}; {todo}"


def write_record(record: RunRecord, results_root: Path | None = None, config_yaml: str | None = None,
                 work: Path | None = None) -> Path:
    """Write the record (and the resolved config beside it) atomically; returns the JSON path.

    The record gets the hash of the code this process imported (:func:`numbers_source`) unless it has one. An ok
    run's bootstrap replicates (the evaluation's ``bootstrap_test.npz`` anywhere under its work folder ``work``,
    default :func:`work_dir`) are copied beside it; a failed run keeps none.
    """
    path = record_path(record.table_id, record.profile, record.row, record.seed, results_root)
    if not record.code_sha256:
        record.code_files = numbers_source()
        record.code_sha256 = imported_code_hash(record.code_files)
    if config_yaml is not None:
        write_text(path.with_suffix(".yaml"), config_yaml)
    boot = replicates_path(path)
    work = Path(work) if work is not None else work_dir(record.table_id, record.profile, record.row, record.seed,
                                                         results_root)
    found = sorted(work.rglob(BOOTSTRAP_FILE)) if record.ok and work.is_dir() else []
    if found:
        with atomic_path(boot, suffix=".npz") as tmp:
            shutil.copyfile(found[-1], tmp)
    else:
        boot.unlink(missing_ok=True)
    write_json(path, record.to_dict())
    return path


def write_record_file(record: RunRecord, path: Path, replicates: dict[str, np.ndarray] | None = None) -> Path:
    """A record outside a table's runs folder (``mirbench evaluate``): ``path`` and, when given, its bootstrap
    ``replicates`` in ``<path stem>.boot.npz`` beside it; the code hash as :func:`write_record`."""
    from mirbench.metrics.bootstrap import save_replicates

    path = Path(path)
    if not record.code_sha256:
        record.code_files = numbers_source()
        record.code_sha256 = imported_code_hash(record.code_files)
    path.parent.mkdir(parents=True, exist_ok=True)
    if replicates:
        save_replicates(replicates_path(path), replicates)
    else:
        replicates_path(path).unlink(missing_ok=True)
    write_json(path, record.to_dict())
    return path


def added_records(name: str, path: Path) -> tuple[list[RunRecord], dict[tuple[str, int], dict[str, np.ndarray]]]:
    """The records of a user's own row (``table --add NAME=PATH``): a record file, or every ``*.json`` record in a
    folder (one per seed), renamed to row ``name``; with their replicates ``{(name, seed): {metric: (B,)}}``."""
    path = Path(path)
    files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    if not files or not all(f.is_file() for f in files):
        raise FileNotFoundError(f"--add {name}={path}: no record file (.json) there")
    recs, reps = [], {}
    for i, f in enumerate(files):
        r = read_record(f)
        if r is None:
            raise ValueError(f"{f}: {record_problem(f) or 'not a readable RunRecord'}; give --add {name}= a record "
                             "that `mirbench evaluate` or `mirbench run` wrote")
        r.row, r.seed = name, i if len(files) > 1 else r.seed
        recs.append(r)
        boot = replicates_path(f)
        if boot.is_file():
            reps[(name, r.seed)] = read_replicates(boot)
    return recs, reps


def load_records(table_id: str, profile: str | None = None, results_root: Path | None = None) -> list[RunRecord]:
    """Every readable record of a table (one profile, or all when ``profile`` is None), sorted; see
    :func:`unreadable_records` for the others."""
    recs = [r for p in _record_files(table_id, profile, results_root) if (r := read_record(p)) is not None]
    return sorted(recs, key=lambda r: (r.profile, r.row, r.seed))


def unreadable_records(table_id: str, profile: str | None = None, results_root: Path | None = None) -> list[Path]:
    """Record files that do not parse (truncated, corrupt): ``mirbench check`` fails on them."""
    return [p for p in _record_files(table_id, profile, results_root) if read_record(p) is None]


def _record_files(table_id: str, profile: str | None, results_root: Path | None) -> list[Path]:
    runs = table_dir(table_id, results_root) / "runs"
    return sorted(runs.glob(f"{profile}/*.json" if profile else "*/*.json"))


def record_replicates(record: RunRecord, results_root: Path | None = None) -> dict[str, np.ndarray]:
    """The record's bootstrap replicates ``{metric: (B,)}``; empty when it has none."""
    path = replicates_path(record_path(record.table_id, record.profile, record.row, record.seed, results_root))
    if not path.is_file():
        return {}
    return read_replicates(path)


def replicates_problem(path: Path) -> str | None:
    """What is wrong with a ``.boot.npz`` (None: it reads): not an archive, cut short, or arrays that are no
    ``(B,)`` replicates."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            head = f.read(4)
    except OSError as e:
        return f"cannot be read ({e.strerror or e})"
    if not head:
        return "empty file: not a readable .npz of bootstrap replicates"
    if head[:2] != b"PK":  # every zip archive (np.savez) starts so; anything else np.load would try to unpickle
        return "not a readable .npz of bootstrap replicates (not a zip archive)"
    try:
        reps = load_replicates(path)
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as e:
        return f"a truncated or damaged .npz of bootstrap replicates ({type(e).__name__}: {e})"
    bad = [k for k, v in reps.items() if v.ndim != 1 or not np.issubdtype(v.dtype, np.floating)]
    if bad:
        return f"arrays {bad[:3]} are not (B,) float replicates"
    return None


def read_replicates(path: Path) -> dict[str, np.ndarray]:
    """:func:`load_replicates` of a ``.boot.npz``; a file that does not load is a ValueError of one line naming it
    and what is wrong (never a ``BadZipFile`` traceback)."""
    problem = replicates_problem(path)
    if problem:
        raise ValueError(f"{path}: {problem}; re-run the row, or delete the file (the cell then keeps only its seed "
                         "interval)")
    return load_replicates(path)


def records_replicates(records: list[RunRecord], results_root: Path | None = None
                       ) -> tuple[dict[tuple[str, int], dict[str, np.ndarray]], list[Path]]:
    """``({(row, seed): replicates}, unreadable replicate files)`` of the ok ``records``; a run whose file does not
    load is left out of the dict and its path listed (the cell keeps its seed interval; ``check`` fails on it)."""
    out, unreadable = {}, []
    for r in records:
        if r.ok:
            try:
                out[(r.row, r.seed)] = record_replicates(r, results_root)
            except ValueError:
                unreadable.append(replicates_path(record_path(r.table_id, r.profile, r.row, r.seed, results_root)))
    return out, unreadable


def records_frame(records: list[RunRecord]) -> pd.DataFrame:
    """Long format: one row per run x metric (a failed run keeps one row with an empty metric)."""
    out = []
    for r in records:
        base = dict(table_id=r.table_id, profile=r.profile, row=r.row, seed=r.seed, status=r.status,
                    config_sha256=r.config_sha256, code_sha256=r.code_sha256, git_sha=r.git_sha, finished=r.finished)
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


# Modules that only render, check or launch: a change there does not make a record stale.
_NOT_NUMBERS = ("bench/commands.py", "bench/compare.py", "bench/golden.py", "bench/launch.py", "bench/machine.py",
                "bench/records.py", "bench/spec.py", "bench/spec_loader.py", "bench/stats.py", "bench/tables.py")
_PACKAGE = Path(__file__).resolve().parents[1]


def numbers_source() -> list[str]:
    """The package files (relative to ``mirbench/``) of the modules this process has imported that compute numbers
    (everything but the rendering and checking modules and the ``*_plots.py`` figure code): the code a run used."""
    files = set()
    for name, mod in list(sys.modules.items()):
        path = getattr(mod, "__file__", None)
        if not (name == "mirbench" or name.startswith("mirbench.")) or not path:
            continue
        try:
            rel = Path(path).resolve().relative_to(_PACKAGE).as_posix()
        except ValueError:
            continue
        if rel not in _NOT_NUMBERS and not rel.endswith("_plots.py") and not rel.startswith("bench/figures/"):
            files.add(rel)
    return sorted(files)


def code_hash(files: tuple[str, ...] | list[str]) -> str:
    """SHA-256 over ``files`` (paths relative to ``mirbench/``) as code: each file's syntax tree without its
    docstrings, so comments, docstrings and layout do not make a record stale; a missing file counts too."""
    h = hashlib.sha256()
    for rel in sorted(files):
        p = _PACKAGE / rel
        h.update(rel.encode() + b"\0" + (_code_of(p) if p.is_file() else b"<missing>") + b"\0")
    return h.hexdigest()


def imported_code_hash(files: list[str]) -> str:
    """:func:`code_hash` of the sources as this process imported them (:mod:`mirbench.provenance`), so a file
    edited on disk during a sweep does not lend its hash to code that never ran."""
    h = hashlib.sha256()
    for rel in sorted(files):
        p = _PACKAGE / rel
        src = source_at_import(p)
        code = _code_of(p, src) if src is not None else (_code_of(p) if p.is_file() else b"<missing>")
        h.update(rel.encode() + b"\0" + code + b"\0")
    return h.hexdigest()


def _code_of(path: Path, source: bytes | None = None) -> bytes:
    """The file's syntax tree (or of ``source``), docstrings removed (its bytes when it does not parse)."""
    source = path.read_bytes() if source is None else source
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and body
                and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant)
                and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree, include_attributes=False).encode()
