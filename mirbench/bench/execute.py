"""Execute one run: exactly the config stack a human would pass to ``mirbench fit``, then ``test``.

In-process (default) parses the stack once (:func:`parse_run`, which also gives the runner its digest), instantiates
it as ``MirbenchCLI(args=..., run=False)`` would, and calls ``trainer.fit`` then ``trainer.test``;
``mode="subprocess"`` runs ``mirbench fit ...`` then ``mirbench test ... --ckpt_path ...`` as child processes.
Scaling (``--trainer.devices/strategy/num_nodes/accelerator``) is Lightning's own. Both modes record fit time,
steps, the device and the test metrics through :class:`RunStats` into ``<run_dir>/run_stats.json``.
"""

from __future__ import annotations

import gc
import hashlib
import json
import math
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import torch
from lightning.pytorch import Callback

from mirbench.io import write_json

STATS_FILE = "run_stats.json"
DIVERGENCE_FACTOR = 1e4  # relative rule: a loss this many times its first value (floored at 1) is a diverged run
DIVERGENCE_ABS = 1e6  # absolute rule: the suite's losses are means of O(1) terms; none legitimately reaches this
MODES = ("inprocess", "subprocess")


class RunStats(Callback):
    """Keeps fit time, steps, checkpoints, device and test metrics in ``data`` (every rank) and writes them to
    ``path`` (JSON, global rank 0).

    Also turns a diverged training loss into an error naming the step and the value, so the run is recorded
    failed, from the first step on. Three rules: the loss is non-finite; its magnitude exceeds ``max_loss``
    (absolute, default ``DIVERGENCE_ABS`` = 1e6); or it exceeds ``max_growth`` (default ``DIVERGENCE_FACTOR`` =
    1e4) times the magnitude of the *first* step's loss, floored at 1. The first loss is the untrained model's,
    computed before any update, so a learning rate that blows the loss up at step 2 cannot raise its own
    reference (a median of early steps could).

    A fit resumed from a checkpoint (a killed run, a SLURM requeue) goes on counting: the checkpoint carries this
    callback's state (fit time so far, the first loss, the checkpoints resumed from), so ``fit_time_s`` is the sum
    of the segments up to each one's last checkpoint (work lost after it, and redone, is not counted) and
    ``resumed_from`` lists every checkpoint the fit restarted from.

    ``train_time_s`` is the time of the training passes alone (batches and their data loading; validation,
    checkpointing and setup excluded) and ``epochs`` the (fractional) number of passes over the training data:
    Lee et al. 2020 (Sec. 4.3.1) report training time as epochs x the time of one epoch, which is ``train_time_s``.
    """

    def __init__(self, path: str, max_loss: float = DIVERGENCE_ABS, max_growth: float = DIVERGENCE_FACTOR):
        self.path = str(path)
        self.max_loss, self.max_growth = float(max_loss), float(max_growth)
        self._t0: float | None = None  # this segment's start; None outside a fit
        self._prior_s = 0.0  # fit time of the earlier segments, from the checkpoint resumed from
        self.resumed_from: list[str] = []
        self.data: dict[str, Any] = {}
        self._first_loss: float | None = None
        self._train_s = 0.0  # time inside training passes (Sec. 4.3.1 of Lee et al. 2020)
        self._mark: float | None = None  # start of the current stretch of training batches

    def _fit_time(self) -> float:
        return self._prior_s + (time.perf_counter() - self._t0 if self._t0 is not None else 0.0)

    def state_dict(self) -> dict[str, Any]:
        return {"fit_time_s": self._fit_time(), "first_loss": self._first_loss,
                "resumed_from": list(self.resumed_from), "train_time_s": self._train_s}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._prior_s = float(state_dict.get("fit_time_s", 0.0))
        self._first_loss = state_dict.get("first_loss", self._first_loss)
        self.resumed_from = [str(p) for p in state_dict.get("resumed_from", [])]
        self._train_s = float(state_dict.get("train_time_s", 0.0))

    def _update(self, trainer, **values: Any) -> None:
        self.data.update(values)
        if not trainer.is_global_zero:
            return
        p = Path(self.path)
        data = json.loads(p.read_text()) if p.is_file() else {}
        data.update(values)
        write_json(p, data)

    def on_fit_start(self, trainer, pl_module) -> None:
        self._t0 = time.perf_counter()
        if trainer.ckpt_path:  # restored before this hook: the state above is the checkpoint's
            self.resumed_from.append(str(trainer.ckpt_path))

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._mark = time.perf_counter()

    def on_validation_end(self, trainer, pl_module) -> None:
        self._mark = time.perf_counter()  # a validation inside an epoch is not training time

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        now = time.perf_counter()
        if self._mark is not None:
            self._train_s += now - self._mark
        self._mark = now
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if not isinstance(loss, torch.Tensor):
            return
        if not torch.isfinite(loss.detach()).all():
            raise FloatingPointError(f"non-finite training loss ({loss.item()}) at step {trainer.global_step}")
        value = abs(float(loss.detach().float().mean()))
        if value > self.max_loss:
            raise FloatingPointError(f"diverged: training loss {value:.4g} at step {trainer.global_step}, over the "
                                     f"absolute limit {self.max_loss:g} (a learning rate too high?)")
        if self._first_loss is None:
            self._first_loss = value
            return
        ref = max(self._first_loss, 1.0)
        if value > self.max_growth * ref:
            raise FloatingPointError(f"diverged: training loss {value:.4g} at step {trainer.global_step}, over "
                                     f"{self.max_growth:g} x its first value {ref:.4g} (a learning rate too high?)")

    def on_fit_end(self, trainer, pl_module) -> None:
        ckpt = trainer.checkpoint_callback
        best = ckpt.best_model_path if ckpt is not None and ckpt.monitor is not None else ""
        last = (ckpt.last_model_path or ckpt.best_model_path) if ckpt is not None else ""
        fit_time, self._prior_s, self._t0 = self._fit_time(), self._fit_time(), None
        per_epoch = trainer.num_training_batches  # batches of one pass (inf for an iterable without a length)
        epochs = trainer.global_step / per_epoch if per_epoch and math.isfinite(per_epoch) else float("nan")
        self._update(trainer, fit_time_s=fit_time, steps=int(trainer.global_step), resumed_from=self.resumed_from,
                     train_time_s=self._train_s, epochs=epochs,
                     best_ckpt=best or "", last_ckpt=last or "", device=_device(trainer),
                     world_size=int(trainer.world_size))
        if trainer.is_global_zero:  # a finished fit's requeue checkpoints are stale: `test` must not restore them
            for path in Path(trainer.default_root_dir).glob("hpc_ckpt_*.ckpt"):
                path.unlink(missing_ok=True)
        trainer.strategy.barrier("mirbench_hpc_cleanup")

    def on_test_end(self, trainer, pl_module) -> None:
        self._update(trainer, test={k: _float(v) for k, v in trainer.callback_metrics.items()})


def _float(v: Any) -> float | None:
    f = float(v.item() if isinstance(v, torch.Tensor) else v)
    return f if math.isfinite(f) else None


def _device(trainer) -> str:
    dev = trainer.strategy.root_device
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else dev.type
    return f"{name} x{trainer.num_devices} x{trainer.num_nodes} nodes ({type(trainer.strategy).__name__})"


def cli_args(configs: list[str], overrides: list[str], seed: int, trainer_overrides: dict | None = None) -> list[str]:
    """The arguments a human types after ``mirbench fit``: configs in order, overrides, seed, trainer flags."""
    args = [a for c in configs for a in ("--config", str(c))]
    args += list(overrides) + [f"--seed_everything={int(seed)}"]
    args += [f"--trainer.{k}={v}" for k, v in (trainer_overrides or {}).items() if v is not None]
    return args


# what LightningCLI.__init__ does after parsing, in order: a parse-only CLI skips them, ParsedRun.instantiate runs them
_AFTER_PARSE = ("_set_seed", "_add_instantiators", "before_instantiate_classes", "instantiate_classes",
                "after_instantiate_classes")


def _parse_only_cli(args: list[str]):
    """A MirbenchCLI that stops after parsing: no seed set, nothing instantiated (see :class:`ParsedRun`)."""
    from mirbench.cli import MirbenchCLI

    cls = type("ParseOnlyCLI", (MirbenchCLI,), {name: lambda self: None for name in _AFTER_PARSE})
    with mock.patch.object(sys, "argv", sys.argv[:1]):
        return cls(args=args, run=False, parser_kwargs={"default_env": False, "exit_on_error": False})


@dataclass
class ParsedRun:
    """One run's command line, parsed once: the resolved config (``text``), its digest, and the parsed CLI, which
    :meth:`instantiate` finishes as ``MirbenchCLI(args=...)`` would have (seed, then model, data, trainer)."""

    text: str
    sha256: str
    cli: Any

    def instantiate(self, run_dir: Path, callbacks: list[Callback]):
        """The CLI with ``--trainer.default_root_dir=run_dir``, ``callbacks`` added to the trainer's, instantiated.
        Once only: the parsed run lets go of the CLI, so a sweep holds no finished run's model."""
        from mirbench.cli import MirbenchCLI

        cli, self.cli = self.cli, None
        if cli is None:
            raise RuntimeError("this parsed run was instantiated already; parse it again (parse_run) to rerun it")
        cli.config["trainer.default_root_dir"] = str(run_dir)
        cli.trainer_defaults = {"callbacks": list(callbacks)}
        cli.save_config_kwargs = {"overwrite": True}
        for step in _AFTER_PARSE:
            getattr(MirbenchCLI, step)(cli)
        return cli


def parse_run(configs: list[str], overrides: list[str], seed: int, trainer_overrides: dict | None = None) -> ParsedRun:
    """Parse one run's config stack (nothing instantiated); the digest skips comment lines."""
    cli = _parse_only_cli(cli_args(configs, overrides, seed, trainer_overrides))
    text = cli.parser.dump(cli.config, skip_none=False)
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    return ParsedRun(text, hashlib.sha256(body.encode()).hexdigest(), cli)


def resolve_config(configs: list[str], overrides: list[str], seed: int,
                   trainer_overrides: dict | None = None) -> tuple[str, str]:
    """(resolved config YAML, its SHA-256) without instantiating anything; comment lines are not hashed."""
    parsed = parse_run(configs, overrides, seed, trainer_overrides)
    return parsed.text, parsed.sha256


def human_command(configs: list[str], overrides: list[str], seed: int, trainer_overrides: dict | None = None) -> str:
    return shlex.join(["mirbench", "fit", *cli_args(configs, overrides, seed, trainer_overrides)])


def execute_run(configs: list[str], overrides: list[str], seed: int, run_dir: Path,
                trainer_overrides: dict | None = None, mode: str = "inprocess",
                parsed: ParsedRun | None = None, resume_from: Path | None = None) -> dict[str, float]:
    """Fit then test one config stack; returns the test metrics plus ``fit_time_s`` and ``steps``.

    The test uses the best checkpoint when a ModelCheckpoint monitored something, else the final weights
    (in a subprocess: the last checkpoint). Raises on any failure, including a non-finite training loss.
    ``parsed``: this stack already parsed (:func:`parse_run`, as the runner does for the digest), used in-process
    instead of parsing again; a subprocess parses its own command line, as a human's ``mirbench fit`` does.
    ``resume_from``: a checkpoint of this run's earlier, interrupted fit (``trainer.fit(ckpt_path=...)``, Lightning's
    own resume: weights, optimizer, loops, callbacks).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    stats_path = run_dir / STATS_FILE
    stats_path.unlink(missing_ok=True)
    args = cli_args(configs, overrides, seed, trainer_overrides)
    try:  # in-process: this process's own stats (every rank has them), never a file another one wrote
        if mode == "inprocess":
            stats = _inprocess(parsed or parse_run(configs, overrides, seed, trainer_overrides), run_dir, stats_path,
                               resume_from)
        else:
            stats = _subprocess(args, run_dir, stats_path, resume_from)
    finally:  # a long in-process sweep must not accumulate models and GPU memory
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    if "test" not in stats:
        raise RuntimeError(f"the run logged no test metrics ({stats_path} has no 'test' entry)")
    out = {k: (math.nan if v is None else float(v)) for k, v in stats["test"].items()}
    out.update(fit_time_s=float(stats["fit_time_s"]), steps=float(stats["steps"]),
               **{k: float(stats[k]) for k in ("train_time_s", "epochs") if stats.get(k) is not None})
    return out


def _inprocess(parsed: ParsedRun, run_dir: Path, stats_path: Path, resume_from: Path | None) -> dict[str, Any]:
    stats = RunStats(str(stats_path))
    cli = parsed.instantiate(run_dir, [stats])
    trainer = cli.trainer
    trainer.fit(cli.model, datamodule=cli.datamodule, ckpt_path=str(resume_from) if resume_from else None)
    ckpt = trainer.checkpoint_callback
    best = ckpt.best_model_path if ckpt is not None and ckpt.monitor is not None and ckpt.best_model_path else None
    trainer.test(cli.model, datamodule=cli.datamodule, ckpt_path=best)
    return stats.data


def _subprocess(args: list[str], run_dir: Path, stats_path: Path, resume_from: Path | None) -> dict[str, Any]:
    stats_args = ["--trainer.callbacks+=mirbench.bench.execute.RunStats", f"--trainer.callbacks.path={stats_path}"]
    resume = [f"--ckpt_path={resume_from}"] if resume_from else []
    _child("fit", args + [f"--trainer.default_root_dir={run_dir}"] + stats_args + resume, run_dir / "fit.log")
    stats = json.loads(stats_path.read_text()) if stats_path.is_file() else {}
    ckpt = stats.get("best_ckpt") or stats.get("last_ckpt")
    if not ckpt:
        raise RuntimeError("subprocess mode tests a checkpoint, but `mirbench fit` saved none "
                           "(enable trainer.enable_checkpointing or add a ModelCheckpoint)")
    # its own root dir: LightningCLI refuses to overwrite the config.yaml that fit saved
    _child("test", args + [f"--trainer.default_root_dir={run_dir / 'test'}", f"--ckpt_path={ckpt}"] + stats_args,
           run_dir / "test.log")
    return json.loads(stats_path.read_text()) if stats_path.is_file() else {}


def _child(subcommand: str, args: list[str], log_path: Path) -> None:
    cmd = [sys.executable, "-m", "mirbench.cli", subcommand, *args]
    with open(log_path, "w") as log:
        log.write("$ " + shlex.join(cmd) + "\n")
        log.flush()
        rc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT).returncode
    if rc != 0:
        tail = "\n".join(log_path.read_text().splitlines()[-15:])
        raise RuntimeError(f"`mirbench {subcommand}` exited with status {rc} (log: {log_path}):\n{tail}")
