"""The ``mirbench`` command line: the overview, fast non-training commands, suggestions, ``fit --help``,
``--ckpt_path best`` in a new CLI, ``run --trainer.*`` pass-through and the console filters."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from mirbench import cli

TOY_DIR = Path(__file__).parent / "bench"  # toy.py: a tiny LightningModule + DataModule
TRAINER_YAML = """\
trainer:
  accelerator: cpu
  devices: 1
  max_steps: 8
  log_every_n_steps: 1
  limit_val_batches: 2
  enable_progress_bar: false
  enable_model_summary: false
  callbacks:
    - class_path: lightning.pytorch.callbacks.ModelCheckpoint
      init_args: {monitor: val/loss, mode: min, save_last: true}
"""
TOY_YAML = "data:\n  class_path: toy.ToyDataModule\nmodel:\n  class_path: toy.ToyModel\n"


def _modules_after(argv: list[str]) -> set[str]:
    """Top-level modules imported by ``mirbench ARGV`` in a fresh interpreter."""
    code = ("import sys, contextlib, io\nfrom mirbench.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            f"    try: main({argv!r})\n    except SystemExit: pass\n"
            "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


@pytest.mark.parametrize("argv", [["--help"], ["table", "--help"], ["check", "--help"], ["tabel"]])
def test_non_training_commands_do_not_import_torch(argv):
    assert not _modules_after(argv) & {"torch", "lightning", "jsonargparse"}


def test_overview_lists_every_command(capsys):
    assert cli.main(["--help"]) == 0
    text = capsys.readouterr().out
    for name in ("fit", "validate", "test", "predict", "run", "table", "check", "golden", "prepare", "download",
                 "bench", "version", *cli.COMMANDS):
        assert f"\n  {name} " in text, name
    # the table commands' lines are their own parser's help, written once
    assert "run (or resume) the runs of a table" in text


def test_no_arguments_shows_the_overview(capsys):
    assert cli.main([]) == 2
    assert "Paper tables" in capsys.readouterr().out


@pytest.mark.parametrize("typo, suggestion", [("tabel", "'table'"), ("fti", "'fit'"), ("chek", "'check'"),
                                              ("donwload", "'download'")])
def test_unknown_command_suggests_the_closest(typo, suggestion, capsys):
    assert cli.main([typo]) == 2
    err = capsys.readouterr().err
    assert f"{typo!r} is not a mirbench command" in err and f"Did you mean {suggestion}" in err


def test_unknown_option_suggests_the_closest(capsys):
    assert cli.main(["--verison"]) == 2
    assert "Did you mean '--version'" in capsys.readouterr().err


def test_help_command_is_the_commands_help(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["help", "table"])
    assert e.value.code == 0 and "usage: mirbench table" in capsys.readouterr().out


def test_bench_help_lists_the_benchmarks(capsys):
    assert cli.main(["bench", "--help"]) == 0
    assert "retrieval_speed" in capsys.readouterr().out
    assert cli.main(["bench", "no_such_benchmark"]) == 2


def test_fit_help_lists_methods_and_datamodules(capsys):
    with pytest.raises(SystemExit):
        cli.main(["fit", "--help"])
    out = capsys.readouterr().out
    assert "--trainer.max_steps" in out
    for name in ("mirbench.methods.triplet.TripletMethod", "mirbench.methods.tagging.ClassificationMethod",
                 "mirbench.methods.hdpgmm.HDPGMMMethod", "mirbench.data.corpus.datamodule.CorpusDataModule",
                 "mirbench.data.gtzan.GTZANDataModule", "mirbench.data.yt8m_musicvideo.YT8MMusicVideoDataModule"):
        assert name in out, name
    listing = out.split("The suite's classes")[1]
    assert "mirbench.data.featuredm.FeatureDataModule" not in listing  # a base class, not something to run


def test_mirbench_cli_is_importable_lazily():
    from mirbench.cli import MirbenchCLI
    from mirbench.lightning_cli import MirbenchCLI as direct

    assert MirbenchCLI is direct


def test_ckpt_path_best_and_last_in_a_new_cli(tmp_path, monkeypatch, capsys):
    """``mirbench test ... --ckpt_path best`` after ``mirbench fit ...`` (each its own CLI, as in two processes)."""
    monkeypatch.syspath_prepend(str(TOY_DIR))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "trainer.yaml").write_text(TRAINER_YAML)
    (tmp_path / "toy.yaml").write_text(TOY_YAML)
    configs = ["--config", "trainer.yaml", "--config", "toy.yaml"]
    assert cli.main(["test", *configs, "--ckpt_path", "best"]) == 2  # nothing fitted yet
    assert "no best checkpoint of an earlier `mirbench fit`" in capsys.readouterr().err
    assert cli.main(["fit", *configs]) == 0
    [ckpts] = list((tmp_path / "lightning_logs").glob("*/checkpoints"))
    best = next(p for p in ckpts.glob("*.ckpt") if p.name != "last.ckpt")
    assert cli.main(["test", *configs, "--ckpt_path", "best"]) == 0
    assert f"--ckpt_path best -> {best}" in capsys.readouterr().out
    assert cli.main(["validate", *configs, "--ckpt_path", "last"]) == 0
    assert f"--ckpt_path last -> {ckpts / 'last.ckpt'}" in capsys.readouterr().out


def test_ckpt_path_best_without_a_logger_or_monitor(tmp_path, monkeypatch, capsys):
    """A logger-less fit saves config.yaml and checkpoints/ in default_root_dir; `test` there still works."""
    monkeypatch.syspath_prepend(str(TOY_DIR))
    monkeypatch.chdir(tmp_path)
    trainer = TRAINER_YAML.split("  callbacks:")[0] + "  logger: false\n  default_root_dir: run\n"
    (tmp_path / "trainer.yaml").write_text(trainer)
    (tmp_path / "toy.yaml").write_text(TOY_YAML)
    configs = ["--config", "trainer.yaml", "--config", "toy.yaml"]
    assert cli.main(["fit", *configs]) == 0
    [ckpt] = (tmp_path / "run" / "checkpoints").glob("*.ckpt")
    for _ in range(2):  # the second test overwrites its own config_test.yaml, never the fit's config.yaml
        assert cli.main(["test", *configs, "--ckpt_path", "best"]) == 0
        assert f"--ckpt_path best -> {Path('run') / 'checkpoints' / ckpt.name}" in capsys.readouterr().out
    assert (tmp_path / "run" / "config.yaml").is_file() and (tmp_path / "run" / "config_test.yaml").is_file()


def test_ckpt_path_best_skips_a_fit_of_another_model(tmp_path, monkeypatch, capsys):
    from mirbench.lightning_cli import _same_run

    run = tmp_path / "version_0"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.yaml").write_text("model:\n  class_path: a.A\ndata:\n  class_path: b.B\n")
    assert _same_run(run / "checkpoints", "a.A", "b.B")
    assert not _same_run(run / "checkpoints", "a.Other", "b.B")
    assert _same_run(tmp_path / "elsewhere" / "checkpoints", "a.Other", None)  # no saved config: accepted


def test_run_passes_trainer_model_and_data_options_through():
    from mirbench.bench.commands import _passthrough, build_parser

    parser = build_parser()
    args, extra = parser.parse_known_args(["run", "ismir2020", "--trainer.max_steps=5", "--trainer.logger", "false",
                                           "--model.init_args.lr", "0.5", "--data.init_args.batch_size=8",
                                           "--devices", "2"])
    assert args.devices == "2"
    assert _passthrough(parser, "run", extra) == ({"max_steps": "5", "logger": "false"},
                                                  ["--model.init_args.lr=0.5", "--data.init_args.batch_size=8"])
    with pytest.raises(SystemExit):
        _passthrough(parser, "table", ["--trainer.max_steps=5"])  # only `run` trains
    with pytest.raises(SystemExit):
        _passthrough(parser, "run", ["--bogus"])


def test_run_model_overrides_reach_every_row(tmp_path, monkeypatch):
    """``mirbench run SPEC --model.init_args.lr=...``: each row's recorded overrides end with it."""
    import json

    from mirbench.bench.commands import main

    monkeypatch.syspath_prepend(str(TOY_DIR))
    from toy import write_toy_table

    spec = write_toy_table(tmp_path)
    results = tmp_path / "results"
    assert main(["run", str(spec), "--rows", "fast", "--results", str(results), "--model.init_args.lr=0.25",
                 "--trainer.max_steps", "2"]) == 0
    [record] = (results / "toy_table" / "runs" / "default").glob("fast__seed0.json")
    rec = json.loads(record.read_text())
    assert rec["overrides"] == ["--model.init_args.lr=0.5", "--model.init_args.lr=0.25"]
    assert rec["trainer_overrides"]["max_steps"] == "2"


def test_console_filters_keep_the_users_own_warnings():
    from mirbench.lightning_cli import quiet_lightning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet_lightning()
        warnings.warn("Starting from v1.9.0, `tensorboardX` has been removed as a dependency of ...")
        warnings.warn("my own warning")
    assert [str(w.message) for w in caught] == ["my own warning"]


def test_evaluate_is_listed_and_its_help_imports_no_torch():
    import subprocess

    from mirbench.cli import overview

    assert "evaluate" in overview()
    code = ("import sys\nfrom mirbench.cli import main\ntry:\n    main(['evaluate', '--help'])\nexcept SystemExit:\n"
            "    pass\nprint('torch' in sys.modules, 'lightning' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120).stdout
    assert out.strip().splitlines()[-1] == "False False"
