"""Run a table: rows x seeds of a spec, one RunRecord each; finished runs are never redone.

A run is skipped when its record exists with status ``ok`` and the same resolved-config SHA-256, so a killed
sweep resumes where it stopped. A run that raises (or whose loss goes non-finite) is recorded ``failed`` with
its error and the sweep goes on; failures are listed at the end.

Concurrency: each run is trained under an exclusive file lock (``work/<profile>/<row>__seed<S>.lock``), so
sweeps started side by side on one results folder (``mirbench run SPEC & mirbench run SPEC &``, one per GPU
with ``CUDA_VISIBLE_DEVICES``) share the runs out: a run another process holds is deferred, and waited for at
the end (then skipped if that process finished it). Records are written atomically from the process's own stats.
``force`` redoes finished runs, under the same locks: a run that another process finished (a record
written since this sweep read it) is not trained again, and an old record is moved aside (``superseded/``) only
when its replacement is written, so a killed forced sweep loses no record. An unwritable results folder is an error before any training.

Under a multi-process Lightning job (DDP, SLURM) every rank runs the sweep; global rank 0 holds the locks and
writes the records, and once the process group exists rank 0's decision to skip or run is broadcast, so the
ranks always enter the same run.

A run that did not finish (killed, OOM, node failure, an exception, a SLURM requeue) resumes on the next
``mirbench run`` from the newest checkpoint in its work folder for the same config (``last.ckpt``, or the requeue
checkpoint ``hpc_ckpt_*.ckpt`` that Lightning's SLURM support writes on ``SIGUSR1``) through Lightning's own resume
(``trainer.fit(ckpt_path=...)``); its record sums every segment's fit time and lists ``resumed_from``. A work
folder of another config (or under ``force``) is moved aside, and deleted only once the new record is written.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from mirbench.bench.execute import STATS_FILE, ParsedRun, execute_run, human_command, parse_run
from mirbench.bench.names import check_name
from mirbench.bench.records import (RunRecord, device_string, git_state, now, read_record, record_path, table_dir,
                                    versions, work_dir, write_record, write_runs_csv)
from mirbench.bench.spec import RunPlan, SpecError, TableSpec
from mirbench.io import FileLock, write_json

RUN_MARKER = "run.json"  # in the work folder: the config it belongs to (a requeue checkpoint is only reused for it)


class ResultsNotWritable(SpecError):
    """The results folder cannot take records or checkpoints; raised before any training."""


@dataclass
class SweepResult:
    done: list[RunRecord] = field(default_factory=list)  # run in this sweep (ok or failed)
    skipped: list[RunPlan] = field(default_factory=list)
    superseded: list[Path] = field(default_factory=list)  # old records moved aside by ``force``

    @property
    def failed(self) -> list[RunRecord]:
        return [r for r in self.done if not r.ok]

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        lines = [f"{len(self.done) - len(self.failed)} ran ok, {len(self.skipped)} skipped (already done), "
                 f"{len(self.failed)} failed"]
        lines += [f"  FAILED {r.row} seed={r.seed}: {r.error.splitlines()[-1] if r.error else ''}" for r in self.failed]
        return "\n".join(lines)


@dataclass
class _Todo:
    index: int
    plan: RunPlan
    parsed: ParsedRun | None  # None: the config did not parse (``err`` says why)
    err: str
    prev: RunRecord | None

    @property
    def cfg(self) -> str | None:
        return self.parsed.text if self.parsed is not None else None

    @property
    def sha(self) -> str:
        return self.parsed.sha256 if self.parsed is not None else ""


def _is_rank_zero() -> bool:
    from lightning.fabric.utilities.rank_zero import rank_zero_only

    return getattr(rank_zero_only, "rank", 0) == 0


def _multi_process(trainer_overrides: dict) -> bool:
    """Whether this sweep may run as several ranks (then its ranks must visit the runs in one order)."""
    for var in ("WORLD_SIZE", "SLURM_NTASKS"):
        if os.environ.get(var, "1").strip().isdigit() and int(os.environ.get(var, "1")) > 1:
            return True
    devices, nodes = str(trainer_overrides.get("devices", "1")), int(trainer_overrides.get("num_nodes", 1) or 1)
    return nodes > 1 or devices not in ("1", "[0]")


def _agree(decision: bool) -> bool:
    """Rank 0's decision on every rank once a process group exists (before that each rank decides alike)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return decision
    box = [decision]
    dist.broadcast_object_list(box, src=0)
    return bool(box[0])


def _agree_obj(value):
    """Rank 0's ``value`` on every rank once a process group exists (before that each rank computed it alike)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def check_writable(folders: list[Path]) -> None:
    """Raise :class:`ResultsNotWritable` naming the first folder where a file cannot be created."""
    for d in folders:
        try:
            d.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=d, prefix=".mirbench-write-test."):
                pass
        except OSError as e:
            raise ResultsNotWritable(f"cannot write to {d} ({e.strerror or e}); nothing was trained. Make it "
                                     f"writable or choose another results folder (--results DIR or "
                                     f"$MIRBENCH_RESULTS)") from None


def _done(prev: RunRecord | None, sha: str) -> bool:
    return prev is not None and prev.ok and bool(sha) and prev.config_sha256 == sha


def _supersede(path: Path, superseded_dir: Path) -> list[Path]:
    """Move a record and the files beside it (resolved config, bootstrap replicates: ``<row>__seed<S>.*``) to
    ``superseded_dir`` with a time stamp; returns the new paths."""
    moved = []
    stamp = now().replace(":", "")
    for p in sorted(path.parent.glob(f"{path.stem}.*")):
        if p.is_file():
            superseded_dir.mkdir(parents=True, exist_ok=True)
            dest = superseded_dir / f"{path.stem}.{stamp}{p.name[len(path.stem):]}"
            os.replace(p, dest)
            moved.append(dest)
    return moved


def run_table(spec: TableSpec, profile: str | None = None, rows: list[str] | None = None,
              seeds: list[int] | None = None, mode: str = "inprocess", trainer_overrides: dict | None = None,
              force: bool = False, results_root: Path | None = None,
              log: Callable[[str], None] = print) -> SweepResult:
    """Run (or resume) the runs of ``spec.resolve(profile, rows, seeds)``; returns what ran and what was skipped.

    Raises :class:`ResultsNotWritable` (before any training) when the results folder cannot be written.
    """
    plans = spec.resolve(profile, rows, seeds)
    for name, what in [(spec.id, "table id")] + [(x, w) for p in plans for x, w in ((p.row, "row id"),
                                                                                 (p.profile, "profile"))]:
        check_name(name, what)  # each becomes a folder or file name under the results folder
    trainer_overrides = {k: v for k, v in (trainer_overrides or {}).items() if v is not None}
    zero, multi = _is_rank_zero(), _multi_process(trainer_overrides)
    root = table_dir(spec.id, results_root)
    if zero:
        profiles = sorted({p.profile for p in plans})
        check_writable([root] + [d / p for p in profiles for d in (root / "runs", root / "work")])
    # every skip is decided before any run, so all ranks of a multi-process job agree
    todo = []
    for i, plan in enumerate(plans, 1):
        try:
            parsed, err = parse_run(plan.config_paths, list(plan.overrides), plan.seed, trainer_overrides), ""
        except Exception as e:  # a bad config fails this run, not the sweep
            parsed, err = None, f"config does not resolve: {type(e).__name__}: {e}"
        prev = read_record(record_path(spec.id, plan.profile, plan.row, plan.seed, results_root))
        todo.append(_Todo(i, plan, parsed, err, prev))
    result = SweepResult()
    run = _Sweep(spec, todo, mode, trainer_overrides, force, results_root, log, result, zero)
    # one process: runs held by another sweep are deferred, then waited for; several ranks: one order, waiting
    deferred = [t for t in todo if not run.attempt(t, block=multi)]
    for t in deferred:
        run.attempt(t, block=True)
    if zero:  # under the lock, each writer aggregates every record written so far (array tasks end together)
        with FileLock(root / ".runs.csv.lock"):
            write_runs_csv(spec.id, results_root)
    log(result.summary())
    return result


@dataclass
class _Sweep:
    spec: TableSpec
    todo: list[_Todo]
    mode: str
    trainer_overrides: dict
    force: bool
    results_root: Path | None
    log: Callable[[str], None]
    result: SweepResult
    zero: bool

    def attempt(self, t: _Todo, block: bool) -> bool:
        """Skip or run ``t`` under its lock; False when another process holds it and ``block`` is off."""
        plan, tag = t.plan, f"[{t.index}/{len(self.todo)}] {t.plan.row} seed={t.plan.seed}"
        wd = work_dir(self.spec.id, plan.profile, plan.row, plan.seed, self.results_root)
        lock = FileLock(wd.with_name(wd.name + ".lock")) if self.zero else None
        waited = False
        if lock is not None and not lock.acquire(block=False):
            if not block:
                self.log(f"{tag} deferred: {lock.holder()} is running it")
                return False
            self.log(f"{tag} waiting: {lock.holder()} is running it")
            lock.acquire(block=True)
            waited = True
        try:
            skip = not self.force and _done(t.prev, t.sha)
            if self.zero and not skip:  # another sweep may have finished it meanwhile
                latest = read_record(record_path(self.spec.id, plan.profile, plan.row, plan.seed, self.results_root))
                # forced: only a record written since this sweep read it is another process's fresh run
                fresh = not self.force or _changed(t.prev, latest)
                if fresh and _done(latest, t.sha):
                    skip = True
                    self.log(f"{tag} finished by another process" + (" while this one waited" if waited else ""))
                t.prev = latest if latest is not None else t.prev
            if _agree(skip):
                self.log(f"{tag} skipped (done, config unchanged)")
                self.result.skipped.append(plan)
                return True
            self.log(f"{tag} running{_why(t.prev, t.sha, self.force)}")
            rec = _run_one(self.spec, t, wd, self.mode, self.trainer_overrides, self.results_root, self.zero,
                           self.force, self.result.superseded)
        finally:
            if lock is not None:
                lock.release()
        self.result.done.append(rec)
        shown = [f"{c.metric}={rec.metrics[c.metric]:.4g}" for c in self.spec.columns if c.metric in rec.metrics][:3]
        status = "ok" if rec.ok else f"FAILED: {rec.error.splitlines()[-1] if rec.error else ''}"
        self.log(f"{tag} {status} {rec.wall_time_s:.1f} s {' '.join(shown)}".rstrip())
        return True


def _changed(prev: RunRecord | None, latest: RunRecord | None) -> bool:
    """Whether the record on disk is another one than the one this sweep read at its start."""
    if latest is None:
        return False
    return prev is None or (latest.finished, latest.started, latest.config_sha256) != (prev.finished, prev.started,
                                                                                       prev.config_sha256)


def _why(prev: RunRecord | None, sha: str, force: bool) -> str:
    if force:
        return " (forced)"
    if prev is None:
        return ""
    if not prev.ok:
        return " (retry after failure)"
    return " (config changed)" if prev.config_sha256 != sha else ""


def resume_checkpoint(wd: Path) -> Path | None:
    """The checkpoint an interrupted fit in ``wd`` resumes from: the newest ``last*.ckpt`` or requeue
    ``hpc_ckpt_*.ckpt`` (any folder below: each fit segment logs into its own ``version_N``), else the newest other
    checkpoint; None when there is none."""
    ckpts = [p for p in Path(wd).rglob("*.ckpt") if p.is_file()] if Path(wd).is_dir() else []
    latest = [p for p in ckpts if p.name.startswith(("last", "hpc_ckpt_"))] or ckpts
    return max(latest, key=lambda p: p.stat().st_mtime) if latest else None


def _same_config(wd: Path, sha: str) -> bool:
    try:
        return bool(sha) and json.loads((wd / RUN_MARKER).read_text()).get("config_sha256") == sha
    except (OSError, ValueError):
        return False


def _resume_point(wd: Path, sha: str, force: bool) -> Path | None:
    """Read-only: the checkpoint this run resumes from (same config, not forced), else None."""
    return resume_checkpoint(wd) if not force and _same_config(wd, sha) else None


def _prepare_work_dir(wd: Path, sha: str, force: bool) -> tuple[Path | None, Path | None]:
    """(checkpoint to resume from, folder moved aside). A folder of the same config with a checkpoint is resumed;
    one of another config (or ``force``) holding checkpoints is moved to ``work/<profile>/.superseded/`` (deleted
    only once this run's record is written: a checkpoint is never lost before something replaces it); one
    without checkpoints (logs only) is emptied."""
    resume = _resume_point(wd, sha, force)
    aside = None
    if resume is None and wd.is_dir():
        if any(wd.rglob("*.ckpt")):
            aside = wd.parent / ".superseded" / f"{wd.name}.{now().replace(':', '')}.{os.getpid()}"
            aside.parent.mkdir(parents=True, exist_ok=True)
            os.replace(wd, aside)
        else:
            shutil.rmtree(wd, ignore_errors=True)
    write_json(wd / RUN_MARKER, {"config_sha256": sha, "pid": os.getpid(), "started": now()})
    return resume, aside


def _run_one(spec: TableSpec, t: _Todo, wd: Path, mode: str, trainer_overrides: dict, results_root: Path | None,
             zero: bool, force: bool, superseded: list[Path] | None = None) -> RunRecord:
    plan, prev = t.plan, t.prev
    aside = None
    if zero:
        resume, aside = _prepare_work_dir(wd, t.sha, force)
    else:  # the same decision from the same files; rank 0's wins once a process group exists
        resume = _resume_point(wd, t.sha, force)
    resume = _agree_obj(resume)
    if zero and resume is not None:
        print(f"resuming {plan.row} seed={plan.seed} from its checkpoint {resume}", flush=True)
    sha_git, dirty = git_state()
    rec = RunRecord(table_id=spec.id, row=plan.row, seed=plan.seed, profile=plan.profile,
                    configs=list(plan.configs), overrides=list(plan.overrides), trainer_overrides=trainer_overrides,
                    config_sha256=t.sha, git_sha=sha_git, git_dirty=dirty, versions=dict(versions()), mode=mode,
                    command=human_command(list(plan.configs), list(plan.overrides), plan.seed, trainer_overrides),
                    started=now(), attempt=(prev.attempt + 1) if prev is not None and not prev.ok else 1)
    t0 = time.perf_counter()
    stats: dict = {}
    if t.err:
        rec.status, rec.error = "failed", t.err
    else:
        try:
            rec.metrics = execute_run(plan.config_paths, list(plan.overrides), plan.seed, wd, trainer_overrides, mode,
                                      parsed=t.parsed, resume_from=resume)
        except Exception as e:
            rec.status, rec.error = "failed", "".join(traceback.format_exception_only(e)).strip()
            if zero:
                wd.mkdir(parents=True, exist_ok=True)
                (wd / "error.txt").write_text("".join(traceback.format_exception(e)))
    rec.wall_time_s = time.perf_counter() - t0
    rec.finished = now()
    if rec.ok:
        rec.metrics["wall_time_s"] = rec.wall_time_s
        stats = _read_stats(wd / STATS_FILE)
    rec.device = stats.get("device", "") or device_string()
    rec.resumed_from = [str(p) for p in stats.get("resumed_from", [])]
    if zero:
        try:
            if force:  # moved aside only now that its replacement is written: a killed forced sweep loses nothing
                path = record_path(spec.id, plan.profile, plan.row, plan.seed, results_root)
                moved = _supersede(path, table_dir(spec.id, results_root) / "superseded" / plan.profile)
                if superseded is not None:
                    superseded += moved
            write_record(rec, results_root, t.cfg)
        except OSError as e:  # the folder went away or filled up during the run: say where the run's files are
            raise ResultsNotWritable(f"could not write the record of {plan.row} seed={plan.seed} ({e}); the sweep "
                                     f"stops. The run's checkpoints and logs are in {wd}; the next `mirbench run` "
                                     f"resumes from them") from None
        if aside is not None and rec.ok:  # superseded now: the new run's record is written
            shutil.rmtree(aside, ignore_errors=True)
    return rec


def _read_stats(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
