"""Run a table: rows x seeds of a spec, one RunRecord each; finished runs are never redone.

A run is skipped when its record exists with status ``ok`` and the same resolved-config SHA-256, so a killed
sweep resumes where it stopped. A run that raises (or whose loss goes non-finite) is recorded ``failed`` with
its error and the sweep goes on; failures are listed at the end. Under a multi-process Lightning job (DDP,
SLURM) every rank runs the sweep and rank 0 writes the records.
"""

from __future__ import annotations

import json
import shutil
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from mirbench.bench.execute import STATS_FILE, execute_run, human_command, resolve_config
from mirbench.bench.records import (RunRecord, device_string, git_state, now, read_record, record_path, versions,
                                    work_dir, write_record, write_runs_csv)
from mirbench.bench.spec import RunPlan, TableSpec


@dataclass
class SweepResult:
    done: list[RunRecord] = field(default_factory=list)  # run in this sweep (ok or failed)
    skipped: list[RunPlan] = field(default_factory=list)

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


def _is_rank_zero() -> bool:
    from lightning.fabric.utilities.rank_zero import rank_zero_only

    return getattr(rank_zero_only, "rank", 0) == 0


def run_table(spec: TableSpec, profile: str | None = None, rows: list[str] | None = None,
              seeds: list[int] | None = None, mode: str = "inprocess", trainer_overrides: dict | None = None,
              force: bool = False, results_root: Path | None = None,
              log: Callable[[str], None] = print) -> SweepResult:
    """Run (or resume) the runs of ``spec.resolve(profile, rows, seeds)``; returns what ran and what was skipped."""
    plans = spec.resolve(profile, rows, seeds)
    trainer_overrides = {k: v for k, v in (trainer_overrides or {}).items() if v is not None}
    # every skip is decided before any run, so all ranks of a multi-process job agree
    todo = []
    for plan in plans:
        try:
            cfg, sha, err = *resolve_config(plan.config_paths, list(plan.overrides), plan.seed, trainer_overrides), ""
        except Exception as e:  # a bad config fails this run, not the sweep
            cfg, sha, err = None, "", f"config does not resolve: {type(e).__name__}: {e}"
        prev = read_record(record_path(spec.id, plan.profile, plan.row, plan.seed, results_root))
        skip = not force and prev is not None and prev.ok and bool(sha) and prev.config_sha256 == sha
        todo.append((plan, cfg, sha, err, prev, skip))
    result = SweepResult()
    n = len(todo)
    for i, (plan, cfg, sha, err, prev, skip) in enumerate(todo, 1):
        tag = f"[{i}/{n}] {plan.row} seed={plan.seed}"
        if skip:
            log(f"{tag} skipped (done, config unchanged)")
            result.skipped.append(plan)
            continue
        log(f"{tag} running{_why(prev, sha)}")
        rec = _run_one(spec, plan, cfg, sha, err, prev, mode, trainer_overrides, results_root)
        result.done.append(rec)
        shown = [f"{c.metric}={rec.metrics[c.metric]:.4g}" for c in spec.columns if c.metric in rec.metrics][:3]
        status = "ok" if rec.ok else f"FAILED: {rec.error.splitlines()[-1] if rec.error else ''}"
        log(f"{tag} {status} {rec.wall_time_s:.1f} s {' '.join(shown)}".rstrip())
    if _is_rank_zero():
        write_runs_csv(spec.id, results_root)
    log(result.summary())
    return result


def _why(prev: RunRecord | None, sha: str) -> str:
    if prev is None:
        return ""
    if not prev.ok:
        return " (retry after failure)"
    return " (config changed)" if prev.config_sha256 != sha else " (forced)"


def _run_one(spec: TableSpec, plan: RunPlan, cfg: str | None, sha: str, err: str, prev: RunRecord | None,
             mode: str, trainer_overrides: dict, results_root: Path | None) -> RunRecord:
    wd = work_dir(spec.id, plan.profile, plan.row, plan.seed, results_root)
    zero = _is_rank_zero()
    if zero:
        shutil.rmtree(wd, ignore_errors=True)
    sha_git, dirty = git_state()
    rec = RunRecord(table_id=spec.id, row=plan.row, seed=plan.seed, profile=plan.profile,
                    configs=list(plan.configs), overrides=list(plan.overrides), trainer_overrides=trainer_overrides,
                    config_sha256=sha, git_sha=sha_git, git_dirty=dirty, versions=dict(versions()), mode=mode,
                    command=human_command(list(plan.configs), list(plan.overrides), plan.seed, trainer_overrides),
                    started=now(), attempt=(prev.attempt + 1) if prev is not None and not prev.ok else 1)
    t0 = time.perf_counter()
    if err:
        rec.status, rec.error = "failed", err
    else:
        try:
            rec.metrics = execute_run(plan.config_paths, list(plan.overrides), plan.seed, wd, trainer_overrides, mode)
        except Exception as e:
            rec.status, rec.error = "failed", "".join(traceback.format_exception_only(e)).strip()
            if zero:
                wd.mkdir(parents=True, exist_ok=True)
                (wd / "error.txt").write_text("".join(traceback.format_exception(e)))
    rec.wall_time_s = time.perf_counter() - t0
    rec.finished = now()
    if rec.ok:
        rec.metrics["wall_time_s"] = rec.wall_time_s
    stats = wd / STATS_FILE
    rec.device = json.loads(stats.read_text()).get("device", "") if stats.is_file() else ""
    rec.device = rec.device or device_string()
    if zero:
        write_record(rec, results_root, cfg)
    return rec
