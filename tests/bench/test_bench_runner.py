"""The runner end to end, in-process, on the toy LightningModule/DataModule (tests/bench/toy.py)."""

import json
import re
import shlex

from toy import SPEC_YAML, write_toy_table

from mirbench.bench.commands import main
from mirbench.bench.execute import STATS_FILE, execute_run, human_command, resolve_config
from mirbench.bench.launch import mirbench_command
from mirbench.bench.records import read_record, record_path
from mirbench.bench.runner import run_table
from mirbench.bench.spec import load_spec


def test_sweep_records_skip_retry_resume(tmp_path):
    spec = load_spec(write_toy_table(tmp_path))
    results = tmp_path / "results"
    logs = []
    first = run_table(spec, results_root=results, log=logs.append)
    assert [(r.row, r.status) for r in first.done] == [("slow", "ok"), ("fast", "ok"), ("broken", "failed")]
    assert not first.ok and "RuntimeError: toy failure requested" in first.failed[0].error
    assert re.search(r"^\[1/3\] slow seed=0 ok \d+\.\d s test/acc=", "\n".join(logs), re.M)
    assert "1 failed" in logs[-1] and "FAILED broken seed=0" in logs[-1]

    path = record_path("toy_table", "default", "fast", 0, results)
    rec = read_record(path)
    assert rec.ok and rec.metrics["steps"] == 3 and 0 <= rec.metrics["test/acc"] <= 1
    assert rec.metrics["fit_time_s"] > 0 and rec.wall_time_s >= rec.metrics["fit_time_s"]
    # Lee et al. 2020's training time: epochs x epoch time = the training passes alone (3 steps of 4 per epoch)
    assert 0 < rec.metrics["train_time_s"] < rec.metrics["fit_time_s"] and rec.metrics["epochs"] == 0.75
    assert rec.overrides == ["--model.init_args.lr=0.5"] and rec.configs == ["trainer.yaml", "toy.yaml"]
    assert set(rec.versions) >= {"torch", "lightning", "mirbench", "numpy", "scikit-learn"}
    assert rec.device and rec.started <= rec.finished and rec.command.startswith("mirbench fit --config trainer.yaml")
    cfg = path.with_suffix(".yaml").read_text()
    assert "lr: 0.5" in cfg and "seed_everything: 0" in cfg
    _, sha = resolve_config(spec.resolve(rows=["fast"])[0].config_paths, ["--model.init_args.lr=0.5"], 0)
    assert rec.config_sha256 == sha
    runs_csv = (results / "toy_table" / "runs.csv").read_text()
    assert "toy_table,default,fast,0,ok,test/acc," in runs_csv and "toy_table,default,broken,0,failed,," in runs_csv

    # a second sweep skips what finished and retries what failed
    second = run_table(spec, results_root=results, log=logs.append)
    assert [p.row for p in second.skipped] == ["slow", "fast"]
    assert [(r.row, r.attempt) for r in second.done] == [("broken", 2)]

    # a killed sweep resumes: only the missing record is redone, with the same numbers (fixed seed)
    path.unlink()
    third = run_table(spec, rows=["slow", "fast"], results_root=results, log=logs.append)
    assert [r.row for r in third.done] == ["fast"] and third.ok
    assert read_record(path).metrics["test/acc"] == rec.metrics["test/acc"]

    # a changed config is not "done"
    spec2 = load_spec(write_toy_table(tmp_path, SPEC_YAML.replace("lr=0.5", "lr=0.4")))
    fourth = run_table(spec2, rows=["fast"], results_root=results, log=logs.append)
    assert [r.row for r in fourth.done] == ["fast"] and "config changed" in logs[-3]

    # the CLI: nothing left to do for these rows -> 0; an unknown row is a clear error
    args = [str(spec2.path), "--results", str(results)]
    assert main(["run", *args, "--rows", "slow,fast"]) == 0
    assert main(["run", *args, "--rows", "nope"]) == 2


def test_nan_loss_is_a_failed_run(tmp_path):
    spec = load_spec(write_toy_table(tmp_path, SPEC_YAML.replace("fail=fit", "fail=nan")))
    out = run_table(spec, rows=["broken", "slow"], results_root=tmp_path / "r", log=lambda s: None)
    assert [(r.row, r.status) for r in out.done] == [("slow", "ok"), ("broken", "failed")]
    assert "FloatingPointError: non-finite training loss" in out.failed[0].error


def test_execute_run_tests_best_checkpoint(tmp_path):
    spec = load_spec(write_toy_table(tmp_path))
    overrides = ["--trainer.enable_checkpointing=true", "--trainer.callbacks+=ModelCheckpoint",
                 "--trainer.callbacks.monitor=val/acc", "--trainer.callbacks.mode=max"]
    metrics = execute_run(spec.resolve()[0].config_paths, overrides, 1, tmp_path / "run", {"max_steps": 4})
    stats = json.loads((tmp_path / "run" / STATS_FILE).read_text())
    assert stats["best_ckpt"].endswith(".ckpt") and metrics["steps"] == 4 and "test/acc" in metrics
    cmd = human_command(["a.yaml", "b.yaml"], ["--x=1"], 3, {"devices": 2, "strategy": "ddp", "num_nodes": None})
    assert cmd == "mirbench fit --config a.yaml --config b.yaml --x=1 --seed_everything=3 " \
                  "--trainer.devices=2 --trainer.strategy=ddp"


def test_emit_slurm(tmp_path, capsys):
    spec = load_spec(write_toy_table(tmp_path))
    out = tmp_path / "jobs"
    assert main(["run", str(spec.path), "--profile", "ci", "--emit-slurm", str(out), "--devices", "2",
                 "--strategy", "ddp", "--accelerator", "gpu", "--sbatch", "time=01:00:00"]) == 0
    scripts = sorted(out.glob("*.sbatch"))
    assert [s.name for s in scripts] == ["toy_table__ci.sbatch"]  # one job array per sweep
    text = scripts[0].read_text()
    assert "#SBATCH --array=0-3" in text and "#SBATCH --ntasks-per-node=2" in text and "#SBATCH --gres=gpu:2" in text
    assert "#SBATCH --time=01:00:00" in text and "#SBATCH --signal=SIGUSR1@90" in text and "#SBATCH --requeue" in text
    assert f"srun {shlex.join(mirbench_command())} run {spec.path}" in text and mirbench_command()[0].startswith("/")
    assert '--rows "$ROW" --seeds "$SEED" --profile ci --devices 2' in text
    assert (out / "submit_all.sh").read_text().count("sbatch ") == 1


def test_sweep_parses_each_run_once(tmp_path, monkeypatch):
    from lightning.pytorch.cli import LightningCLI

    from mirbench.bench.records import work_dir

    parses = []
    real = LightningCLI.parse_arguments
    monkeypatch.setattr(LightningCLI, "parse_arguments", lambda self, *a: parses.append(1) or real(self, *a))
    spec = load_spec(write_toy_table(tmp_path))
    out = run_table(spec, rows=["slow", "fast"], results_root=tmp_path / "r", log=lambda s: None)
    assert out.ok and len(out.done) == 2 and len(parses) == 2  # the digest's parse is the run's
    # the run still trains in its own folder, with the config a human's `mirbench fit` would save there
    wd = work_dir("toy_table", "default", "fast", 0, tmp_path / "r")
    saved = next(wd.rglob("config.yaml")).read_text()
    assert f"default_root_dir: {wd}" in saved and "lr: 0.5" in saved
