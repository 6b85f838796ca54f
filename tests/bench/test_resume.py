"""A run killed mid-fit resumes from its last checkpoint on the next sweep (Lightning's own resume): no checkpoint
is deleted before something supersedes it, and the record sums the segments' fit time and lists resumed_from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from lightning.pytorch import Callback
from toy import write_toy_table

from mirbench.bench.records import read_record, record_path, work_dir
from mirbench.bench.runner import _prepare_work_dir, resume_checkpoint, run_table
from mirbench.bench.spec import load_spec

TRAINER = """\
trainer:
  accelerator: cpu
  devices: 1
  max_steps: 6
  limit_val_batches: 2
  logger: false
  enable_progress_bar: false
  enable_model_summary: false
  callbacks:
    - class_path: lightning.pytorch.callbacks.ModelCheckpoint
      init_args: {save_last: true, every_n_train_steps: 1}
    - class_path: test_resume.KillOnce
"""


class SimulatedKill(BaseException):
    """Escapes every ``except Exception``, as a SIGKILL or an OOM leaves no chance to record anything."""


class KillOnce(Callback):
    """Raises :class:`SimulatedKill` at step ``KillOnce.at`` of the first fit that reaches it, then disarms."""

    at = 0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if KillOnce.at and trainer.global_step == KillOnce.at:
            KillOnce.at = 0
            raise SimulatedKill(f"killed at step {trainer.global_step}")


@pytest.fixture
def spec(tmp_path):
    path = write_toy_table(tmp_path)
    (tmp_path / "trainer.yaml").write_text(TRAINER)
    return load_spec(path)


def test_a_killed_run_resumes_from_its_last_checkpoint(spec, tmp_path):
    results, quiet = tmp_path / "r", (lambda s: None)
    KillOnce.at = 3
    with pytest.raises(SimulatedKill):
        run_table(spec, rows=["fast"], results_root=results, log=quiet)
    wd = work_dir("toy_table", "default", "fast", 0, results)
    last = resume_checkpoint(wd)
    assert last is not None and last.name.startswith("last")
    killed = torch.load(last, weights_only=True)
    assert killed["global_step"] == 2  # the kill came before step 3 was saved (checkpoints save last)
    segment1 = next(v for k, v in killed["callbacks"].items() if k.startswith("RunStats"))["fit_time_s"]
    assert read_record(record_path("toy_table", "default", "fast", 0, results)) is None

    logs: list[str] = []
    out = run_table(spec, rows=["fast"], results_root=results, log=logs.append)
    rec = out.done[0]
    assert rec.ok, rec.error
    assert rec.metrics["steps"] == 6 and rec.resumed_from == [str(last)]
    assert rec.metrics["fit_time_s"] > segment1 > 0  # both segments, not only the last one
    on_disk = json.loads(record_path("toy_table", "default", "fast", 0, results).read_text())
    assert on_disk["resumed_from"] == [str(last)]

    # the same seed uninterrupted: same step count; its weights differ (a resumed epoch reshuffles with the
    # global RNG, which no checkpoint holds), so the metrics agree in range only: Lightning's resume is not exact here
    fresh = run_table(spec, rows=["fast"], results_root=tmp_path / "r2", log=quiet).done[0]
    assert fresh.ok and fresh.metrics["steps"] == 6 and fresh.resumed_from == []
    assert abs(fresh.metrics["test/acc"] - rec.metrics["test/acc"]) <= 0.25


def test_prepare_never_deletes_a_checkpoint_it_has_not_superseded(tmp_path):
    wd = tmp_path / "work" / "default" / "fast__seed0"
    (wd / "checkpoints").mkdir(parents=True)
    ckpt = wd / "checkpoints" / "last.ckpt"
    ckpt.write_bytes(b"weights")
    (wd / "run.json").write_text(json.dumps({"config_sha256": "abc"}))
    assert _prepare_work_dir(wd, "abc", force=False) == (ckpt, None)  # same config: resume, nothing moved
    assert ckpt.is_file()
    resume, aside = _prepare_work_dir(wd, "other", force=False)  # config changed: moved aside, not deleted
    assert resume is None and (aside / "checkpoints" / "last.ckpt").read_bytes() == b"weights"
    assert not ckpt.exists() and json.loads((wd / "run.json").read_text())["config_sha256"] == "other"
    (wd / "log.txt").write_text("no checkpoint here")
    assert _prepare_work_dir(wd, "other", force=True) == (None, None) and not (wd / "log.txt").exists()


def test_a_forced_rerun_deletes_the_old_checkpoints_only_once_its_record_is_written(spec, tmp_path):
    results = tmp_path / "r"
    run_table(spec, rows=["slow"], results_root=results, log=lambda s: None)
    wd = work_dir("toy_table", "default", "slow", 0, results)
    assert resume_checkpoint(wd) is not None
    out = run_table(spec, rows=["slow"], force=True, results_root=results, log=lambda s: None)
    assert out.done[0].ok and out.done[0].resumed_from == []  # forced: trained afresh
    assert not list((wd.parent / ".superseded").glob("*"))  # the replaced folder went once the record was written
