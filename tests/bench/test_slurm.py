"""The emitted SLURM job array, parsed, then run here with SLURM's environment faked (a pass-through ``srun``
and a ``scontrol`` that only notes the requeue): a task records its run, and a task preempted by SIGUSR1 is
requeued through Lightning's SLURMEnvironment and resumes from its checkpoint."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

import pytest
from lightning.pytorch import Callback
from toy import SPEC_YAML, write_toy_table

from mirbench.bench.launch import LaunchError, emit_job_scripts
from mirbench.bench.records import read_record, record_path, work_dir
from mirbench.bench.spec import load_spec

HERE = Path(__file__).resolve().parent


class PreemptAt(Callback):
    """Sends this process SIGUSR1 after step ``$PREEMPT_AT`` (as SLURM does before the time limit), then dies
    at the next step as a requeued job is killed. Without the variable it does nothing, so the config is the
    same on the rerun."""

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        at = int(os.environ.get("PREEMPT_AT", "0"))
        if at and trainer.global_step == at:
            os.kill(os.getpid(), signal.SIGUSR1)
        elif at and trainer.global_step == at + 1:
            os._exit(143)


def _fake_slurm(tmp_path: Path, task: int) -> dict[str, str]:
    bin_dir = tmp_path / "fakebin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "srun").write_text('#!/bin/bash\nexec "$@"\n')
    (bin_dir / "scontrol").write_text(f'#!/bin/bash\necho "$@" >> {tmp_path / "scontrol.log"}\n')
    for f in ("srun", "scontrol"):
        (bin_dir / f).chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]), "PYTHONWARNINGS": "ignore",
           "SLURM_ARRAY_JOB_ID": "700", "SLURM_ARRAY_TASK_ID": str(task), "SLURM_JOB_ID": "701",
           "SLURM_JOB_NAME": "mirbench-toy", "SLURM_NTASKS": "1", "SLURM_NTASKS_PER_NODE": "1", "SLURM_PROCID": "0",
           "SLURM_LOCALID": "0", "SLURM_NODEID": "0", "SLURM_NODELIST": "localhost", "SLURM_JOB_NUM_NODES": "1"}
    env.pop("MIRBENCH_RESULTS", None)
    return env


def _emit(tmp_path: Path) -> tuple[Path, Path]:
    spec_yaml = SPEC_YAML.replace('overrides: ["--trainer.max_steps=2"]',
                                  'overrides: ["--trainer.max_steps=4", "--trainer.callbacks+=test_slurm.PreemptAt"]')
    spec = load_spec(write_toy_table(tmp_path, spec_yaml))
    results = tmp_path / "results"
    scripts = emit_job_scripts(spec, tmp_path / "jobs", profile="ci", devices=1, accelerator="cpu",
                               results_root=results, sbatch={"time": "00:10:00"})
    assert len(scripts) == 1
    return scripts[0], results


@pytest.mark.slow
def test_emitted_array_parses_and_a_task_runs(tmp_path):
    script, results = _emit(tmp_path)
    text = script.read_text()
    opts = dict(re.findall(r"^#SBATCH --([\w-]+)=?(.*)$", text, re.M))
    assert opts["array"] == "0-3" and opts["signal"] == "SIGUSR1@90" and "requeue" in opts
    assert opts["nodes"] == "1" and opts["ntasks-per-node"] == "1" and opts["time"] == "00:10:00"
    assert "gres" not in opts  # no GPU asked for a CPU run
    runs = re.search(r"^RUNS=\(\n(.*?)\n\)", text, re.M | re.S).group(1).split("\n")
    assert [r.strip().strip("'") for r in runs] == ["slow 0", "slow 1", "fast 0", "fast 1"]
    srun = next(line for line in text.splitlines() if line.startswith("srun "))
    exe = srun.split()[1]
    assert Path(exe).is_absolute() and os.access(exe, os.X_OK)
    out = subprocess.run(["bash", str(script)], env=_fake_slurm(tmp_path, 2), capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
    assert "array task 2: row fast seed 0" in out.stdout
    rec = read_record(record_path("toy_table", "ci", "fast", 0, results))
    assert rec.ok and rec.metrics["steps"] == 4
    assert not record_path("toy_table", "ci", "slow", 0, results).exists()  # only this task's run


@pytest.mark.slow
def test_preempted_task_is_requeued_and_resumes(tmp_path):
    script, results = _emit(tmp_path)
    env = _fake_slurm(tmp_path, 0)
    killed = subprocess.run(["bash", str(script)], env={**env, "PREEMPT_AT": "2"}, capture_output=True, text=True,
                            timeout=120)
    assert killed.returncode != 0
    wd = work_dir("toy_table", "ci", "slow", 0, results)
    assert (tmp_path / "scontrol.log").read_text().split() == ["requeue", "700_0"]  # Lightning asked to requeue
    assert [p.name for p in wd.glob("hpc_ckpt_*.ckpt")] == ["hpc_ckpt_1.ckpt"]
    assert read_record(record_path("toy_table", "ci", "slow", 0, results)) is None
    again = subprocess.run(["bash", str(script)], env={**env, "SLURM_RESTART_COUNT": "1"}, capture_output=True,
                           text=True, timeout=120)
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-4000:]
    assert "(restart 1)" in again.stdout
    assert re.search(r"resuming slow seed=0 from its checkpoint .*hpc_ckpt_1\.ckpt", again.stdout)
    assert re.search(r"Restored all states from the checkpoint at .*hpc_ckpt_1\.ckpt", again.stdout + again.stderr)
    rec = read_record(record_path("toy_table", "ci", "slow", 0, results))
    assert rec.ok and rec.metrics["steps"] == 4 and not list(wd.glob("hpc_ckpt_*.ckpt"))
    assert len(rec.resumed_from) == 1 and rec.resumed_from[0].endswith("hpc_ckpt_1.ckpt")  # both segments' time


def test_devices_auto_is_a_clear_error(tmp_path):
    spec = load_spec(write_toy_table(tmp_path))
    with pytest.raises(LaunchError, match="--devices auto: a SLURM job asks for a fixed number"):
        emit_job_scripts(spec, tmp_path / "jobs", devices="auto")
