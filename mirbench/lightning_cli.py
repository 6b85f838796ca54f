"""``MirbenchCLI``: the LightningCLI behind ``mirbench fit|validate|test|predict``.

Three things on top of Lightning's own CLI:

- data facts flow into the model (``data.data_info`` -> ``model.init_args.data_info``), written once;
- ``--ckpt_path best|last`` in a *new* process (``mirbench test`` after ``mirbench fit``) resolves to the
  checkpoint that the earlier fit of the same model and data saved on disk; Lightning alone only knows the
  best checkpoint of a fit in the same process;
- console noise that is not the user's business (cloud tips, a dependency notice, a deprecation inside
  Lightning) is filtered by exact message, so the user's own warnings still show.

Importing this module imports Lightning; ``mirbench.cli`` imports it only for the training commands.
"""

from __future__ import annotations

import logging
import re
import warnings
from pathlib import Path
from typing import Any

import yaml
from lightning.pytorch import LightningDataModule, LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningCLI

from mirbench.checkpoints import allow_suite_globals, load_checkpoint

# warnings raised inside Lightning / torch that a mirbench user can do nothing about
_NOISY_WARNINGS = (
    r"Starting from v1\.9\.0, `tensorboardX` has been removed",  # CSVLogger is our default on purpose
    r"`isinstance\(treespec, LeafSpec\)` is deprecated",  # Lightning's own use of a torch API
    r"No seed found, seed set to",  # followed by "Seed set to N" anyway
    r"The dirpath has changed from .* won't be reloaded",  # `test` restoring a fit's ModelCheckpoint state
)
# info lines logged by Lightning's rank-zero loggers
_NOISY_INFO = re.compile(r"💡 Tip:|(TPU|HPU) available: False")


class CheckpointNotFoundError(FileNotFoundError):
    """``--ckpt_path best|last`` found no checkpoint of an earlier fit."""


class _DropNoise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not _NOISY_INFO.search(str(record.msg))


def quiet_lightning() -> None:
    """Filter Lightning's tips and notices by message (idempotent); other warnings are untouched."""
    for pattern in _NOISY_WARNINGS:
        warnings.filterwarnings("ignore", message=pattern)
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropNoise) for f in logger.filters):
            logger.addFilter(_DropNoise())


class MirbenchCLI(LightningCLI):
    """LightningCLI whose data facts (``data.data_info``) flow into the model; see the module docstring."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        quiet_lightning()
        allow_suite_globals()  # `--ckpt_path` loads weights-only (torch's default): the suite's own classes allowed
        kwargs.setdefault("subclass_mode_model", True)
        kwargs.setdefault("subclass_mode_data", True)
        kwargs.setdefault("auto_configure_optimizers", False)
        kwargs.setdefault("parser_kwargs", {"default_env": False})
        super().__init__(LightningModule, LightningDataModule, *args, **kwargs)

    def add_arguments_to_parser(self, parser) -> None:
        parser.link_arguments("data.data_info", "model.init_args.data_info", apply_on="instantiate")

    def before_validate(self) -> None:
        self._resolve_ckpt_path()

    def before_test(self) -> None:
        self._resolve_ckpt_path()

    def before_predict(self) -> None:
        self._resolve_ckpt_path()

    def _resolve_ckpt_path(self) -> None:
        init = self.config_init[self.subcommand]
        which = init.get("ckpt_path")
        if which not in ("best", "last"):
            return
        cb = self.trainer.checkpoint_callback
        if cb is not None and (cb.best_model_path if which == "best" else cb.last_model_path):
            return  # a fit ran in this process: Lightning knows
        config = self.config[self.subcommand]
        path, run_dir = saved_checkpoint(self.trainer, which, _class_path(config, "model"), _class_path(config, "data"))
        print(f"mirbench {self.subcommand}: --ckpt_path {which} -> {path} (saved by the fit in {run_dir})", flush=True)
        init["ckpt_path"] = str(path)


def _class_path(config: Any, key: str) -> str | None:
    value = config.get(key)
    return getattr(value, "class_path", None) if value is not None else None


def checkpoint_dirs(trainer: Trainer) -> list[Path]:
    """Folders where earlier fits with this trainer configuration saved checkpoints, newest first."""
    dirs: list[Path] = []
    for cb in trainer.checkpoint_callbacks:
        if isinstance(cb, ModelCheckpoint) and cb.dirpath is not None:
            dirs.append(Path(cb.dirpath))
    roots = [Path(trainer.default_root_dir) / "lightning_logs"]
    if trainer.loggers and getattr(trainer.loggers[0], "root_dir", None):
        roots.insert(0, Path(trainer.loggers[0].root_dir))
    for root in dict.fromkeys(roots):
        dirs += [p / "checkpoints" for p in root.glob("*") if (p / "checkpoints").is_dir()]
    dirs.append(Path(trainer.default_root_dir) / "checkpoints")  # a fit without a logger
    found = [d for d in dict.fromkeys(dirs) if d.is_dir() and any(d.glob("*.ckpt"))]
    return sorted(found, key=lambda d: max(f.stat().st_mtime for f in d.glob("*.ckpt")), reverse=True)


def _same_run(ckpt_dir: Path, model: str | None, data: str | None) -> bool:
    """Whether the fit that wrote ``ckpt_dir`` used the same model and data classes (when it saved its config)."""
    saved = ckpt_dir.parent / "config.yaml"
    if not saved.is_file():
        return True
    try:
        cfg = yaml.safe_load(saved.read_text()) or {}
    except yaml.YAMLError:
        return True
    fit = {k: (cfg.get(k) or {}).get("class_path") if isinstance(cfg.get(k), dict) else None for k in ("model", "data")}
    return all(theirs is None or ours is None or theirs == ours
               for ours, theirs in ((model, fit["model"]), (data, fit["data"])))


def _best_in(ckpt_dir: Path) -> Path | None:
    """The best checkpoint recorded by ModelCheckpoint's state in ``last.ckpt``, else the newest other one
    (without a monitor Lightning's "best" is the latest save)."""
    lasts = sorted(ckpt_dir.glob("last*.ckpt"), key=lambda f: f.stat().st_mtime)
    if lasts:
        state = load_checkpoint(lasts[-1], mmap=True).get("callbacks", {})
        for key, value in state.items():
            best = value.get("best_model_path") if key.startswith("ModelCheckpoint") and value.get("monitor") else None
            if best:
                # the run folder may have moved since: the file name is what identifies it
                for candidate in (Path(best), ckpt_dir / Path(best).name):
                    if candidate.is_file():
                        return candidate
    others = [f for f in ckpt_dir.glob("*.ckpt") if not f.name.startswith("last")]
    return max(others, key=lambda f: f.stat().st_mtime) if others else None


def saved_checkpoint(trainer: Trainer, which: str, model: str | None = None,
                     data: str | None = None) -> tuple[Path, Path]:
    """(checkpoint, its run folder) for ``--ckpt_path best|last`` from the newest earlier fit of ``model`` on ``data``.

    Raises :class:`CheckpointNotFoundError` with what was searched when there is none.
    """
    dirs = checkpoint_dirs(trainer)
    for ckpt_dir in dirs:
        if not _same_run(ckpt_dir, model, data):
            continue
        if which == "last":
            lasts = sorted(ckpt_dir.glob("last*.ckpt"), key=lambda f: f.stat().st_mtime)
            path = lasts[-1] if lasts else None
        else:
            path = _best_in(ckpt_dir)
        if path is not None:
            return path, ckpt_dir.parent
    where = ", ".join(str(d) for d in dirs) or f"{Path(trainer.default_root_dir) / 'lightning_logs'}/*/checkpoints"
    hint = "ModelCheckpoint(monitor=..., save_last=true)" if which == "best" else "ModelCheckpoint(save_last=true)"
    raise CheckpointNotFoundError(
        f"--ckpt_path {which}: no {which} checkpoint of an earlier `mirbench fit` with this model and data under "
        f"{where}. Run `mirbench fit` with the same configs (and --trainer.default_root_dir) first, keep a "
        f"{hint} in the trainer config, or pass --ckpt_path PATH/TO/FILE.ckpt.")
