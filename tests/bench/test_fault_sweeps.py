"""Fault drills for sweeps on the toy table (tests/bench/toy.py): concurrent sweeps, a killed forced sweep,
an unwritable results folder, file modes."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from lightning.pytorch import Callback
from toy import SPEC_YAML, write_toy_table

import mirbench.bench.runner as runner
from mirbench.bench.commands import main
from mirbench.bench.records import read_record, record_path, work_dir, write_record
from mirbench.bench.runner import ResultsNotWritable, run_table
from mirbench.bench.spec import load_spec
from mirbench.io import FileLock, write_text

HERE = Path(__file__).resolve().parent


def _lock_of(results: Path, row: str) -> FileLock:
    wd = work_dir("toy_table", "default", row, 0, results)
    return FileLock(wd.with_name(wd.name + ".lock"))


def test_a_run_held_by_another_process_is_deferred_then_skipped(tmp_path):
    spec = load_spec(write_toy_table(tmp_path))
    results, logs = tmp_path / "results", []
    done = run_table(spec, rows=["slow"], results_root=results, log=lambda s: None).done[0]
    path = record_path("toy_table", "default", "slow", 0, results)
    path.unlink()  # as if the other sweep were still training it
    other = _lock_of(results, "slow")
    assert other.acquire(block=False)

    waiting = threading.Event()

    def log(line: str) -> None:
        logs.append(line)
        if " waiting: " in line:
            waiting.set()

    def finish():  # the other sweep finishes once this one waits for it: writes its record and lets go
        assert waiting.wait(60)
        time.sleep(0.2)
        write_record(done, results)
        other.release()

    threading.Thread(target=finish, daemon=True).start()
    out = run_table(spec, rows=["slow", "fast"], results_root=results, log=log)
    text = "\n".join(logs)
    assert "[1/2] slow seed=0 deferred: process " in text
    assert "[1/2] slow seed=0 waiting" in text and "finished by another process while this one waited" in text
    assert [r.row for r in out.done] == ["fast"] and [p.row for p in out.skipped] == ["slow"]
    assert text.index("fast seed=0 ok") < text.index("slow seed=0 waiting")  # it did not sit idle meanwhile


@pytest.mark.slow
def test_two_sweeps_at_once_train_each_run_once(tmp_path):
    spec_path = write_toy_table(tmp_path)
    results = tmp_path / "results"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    cmd = [sys.executable, "-m", "mirbench.cli", "run", str(spec_path), "--results", str(results),
           "--profile", "ci"]
    procs = [subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    trained = sum(o.count(" ok ") for o in outs)
    assert trained == 4, outs  # 2 rows x 2 seeds, each trained by exactly one of the two sweeps
    for row in ("slow", "fast"):
        for seed in (0, 1):
            rec = read_record(record_path("toy_table", "ci", row, seed, results))
            assert rec.ok and rec.metrics["steps"] == 2 and rec.wall_time_s >= rec.metrics["fit_time_s"] > 0
    assert not list(results.rglob("*.tmp")) and not list(results.rglob(".*.tmp*"))


def test_killed_forced_sweep_loses_no_record(tmp_path, monkeypatch):
    spec = load_spec(write_toy_table(tmp_path))
    results, quiet = tmp_path / "results", (lambda s: None)
    run_table(spec, rows=["slow", "fast"], results_root=results, log=quiet)
    paths = {row: record_path("toy_table", "default", row, 0, results) for row in ("slow", "fast")}
    old = {row: read_record(p).started for row, p in paths.items()}
    real, calls = runner.execute_run, []

    def killed_at_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # Ctrl-C / a kill while the second run trains
        return real(*args, **kwargs)

    monkeypatch.setattr(runner, "execute_run", killed_at_second)
    with pytest.raises(KeyboardInterrupt):
        run_table(spec, rows=["slow", "fast"], force=True, results_root=results, log=quiet)
    # slow was redone: its old record moved aside when the new one was written; fast's old record is still there
    assert read_record(paths["slow"]).started > old["slow"] and read_record(paths["fast"]).started == old["fast"]
    superseded = results / "toy_table" / "superseded" / "default"
    assert len(list(superseded.glob("slow__seed0.*.json"))) == 1 and not list(superseded.glob("fast__seed0.*"))
    monkeypatch.setattr(runner, "execute_run", real)
    again = run_table(spec, rows=["slow", "fast"], results_root=results, log=quiet)
    assert again.done == [] and len(again.skipped) == 2  # both records are valid: nothing to redo
    assert _lock_of(results, "fast").path.read_text().strip()  # the lock was taken (host pid)


def test_a_forced_sweep_does_not_retrain_a_run_another_finished_meanwhile(tmp_path):
    spec = load_spec(write_toy_table(tmp_path))
    results, logs = tmp_path / "results", []
    first = run_table(spec, rows=["slow"], results_root=results, log=lambda s: None).done[0]
    other = _lock_of(results, "slow")
    assert other.acquire(block=False)  # another forced sweep is training slow
    waiting = threading.Event()

    def log(line: str) -> None:
        logs.append(line)
        if " waiting: " in line:
            waiting.set()

    def finish():  # ... and writes its fresh record, then lets go
        assert waiting.wait(60)
        from dataclasses import replace

        write_record(replace(first, started=first.started + "x", finished=first.finished + "x"), results)
        other.release()

    threading.Thread(target=finish, daemon=True).start()
    out = run_table(spec, rows=["slow", "fast"], force=True, results_root=results, log=log)
    text = "\n".join(logs)
    assert "slow seed=0 finished by another process while this one waited" in text, text
    assert [r.row for r in out.done] == ["fast"] and [p.row for p in out.skipped] == ["slow"]


def test_unwritable_results_fail_before_training(tmp_path, monkeypatch, capsys):
    spec = load_spec(write_toy_table(tmp_path))
    results = tmp_path / "results"
    (results / "toy_table").mkdir(parents=True)
    write_text(results / "toy_table" / "runs", "not a folder\n")  # fails for root too, unlike a chmod
    monkeypatch.setattr(runner, "execute_run", lambda *a, **k: pytest.fail("trained although nothing can be saved"))
    with pytest.raises(ResultsNotWritable, match=r"cannot write to .*runs/default .*nothing was trained"):
        run_table(spec, results_root=results, log=lambda s: None)
    assert main(["run", str(spec.path), "--results", str(results)]) == 2
    assert "mirbench run: error: cannot write to" in capsys.readouterr().err


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_results_fail_before_training(tmp_path, monkeypatch):
    spec = load_spec(write_toy_table(tmp_path))
    results = tmp_path / "results"
    results.mkdir()
    results.chmod(0o555)
    monkeypatch.setattr(runner, "execute_run", lambda *a, **k: pytest.fail("trained although nothing can be saved"))
    try:
        with pytest.raises(ResultsNotWritable, match="Permission denied"):
            run_table(spec, results_root=results, log=lambda s: None)
    finally:
        results.chmod(0o755)


@pytest.mark.parametrize("mask,file_mode", [(0o022, 0o644), (0o027, 0o640)])
def test_records_follow_the_umask(tmp_path, mask, file_mode):
    spec = load_spec(write_toy_table(tmp_path))
    old = os.umask(mask)
    try:
        run_table(spec, rows=["fast"], results_root=tmp_path / "r", log=lambda s: None)
    finally:
        os.umask(old)
    path = record_path("toy_table", "default", "fast", 0, tmp_path / "r")
    for p in (path, path.with_suffix(".yaml"), tmp_path / "r" / "toy_table" / "runs.csv"):
        assert stat.S_IMODE(p.stat().st_mode) == file_mode, p
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o777 & ~mask


class KillAt(Callback):
    """SIGKILLs this process at step ``$KILL_AT`` of the run whose ``lr`` is ``$KILL_LR`` (a sweep killed mid-run)."""

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        at, lr = int(os.environ.get("KILL_AT", "0")), os.environ.get("KILL_LR", "")
        if at and trainer.global_step == at and str(pl_module.lr) == lr:
            os.kill(os.getpid(), signal.SIGKILL)


@pytest.mark.slow
def test_sigkilled_sweep_resumes_without_redoing_finished_runs(tmp_path):
    spec_path = write_toy_table(tmp_path, SPEC_YAML.replace(
        'overrides: ["--trainer.max_steps=2"]',
        'overrides: ["--trainer.max_steps=2", "--trainer.callbacks+=test_fault_sweeps.KillAt"]'))
    results = tmp_path / "results"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    cmd = [sys.executable, "-m", "mirbench.cli", "run", str(spec_path), "--results", str(results), "--profile", "ci",
           "--seeds", "0"]
    killed = subprocess.run(cmd, env={**env, "KILL_AT": "1", "KILL_LR": "0.5"}, capture_output=True, text=True,
                            timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    assert read_record(record_path("toy_table", "ci", "slow", 0, results)).ok
    assert read_record(record_path("toy_table", "ci", "fast", 0, results)) is None
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "slow seed=0 skipped" in again.stdout and "fast seed=0 ok" in again.stdout
    assert read_record(record_path("toy_table", "ci", "fast", 0, results)).ok
    assert not list(results.rglob("*.tmp")) and not list(results.rglob(".*.tmp*"))


def test_results_lost_during_the_run_stop_with_a_message(tmp_path, monkeypatch):
    spec = load_spec(write_toy_table(tmp_path))
    results = tmp_path / "results"
    real = runner.execute_run

    def then_break(*args, **kwargs):  # the results folder becomes unwritable while the run trains
        out = real(*args, **kwargs)
        import shutil

        shutil.rmtree(results / "toy_table" / "runs")
        write_text(results / "toy_table" / "runs", "not a folder\n")
        return out

    monkeypatch.setattr(runner, "execute_run", then_break)
    with pytest.raises(ResultsNotWritable, match=r"could not write the record of slow seed=0 .*checkpoints and "
                                                 r"logs are in .*work/default/slow__seed0"):
        run_table(spec, rows=["slow"], results_root=results, log=lambda s: None)
