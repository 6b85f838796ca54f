"""``mirbench``: Lightning's ``fit|validate|test|predict`` plus the suite's own commands.

``mirbench fit --config a.yaml --config b.yaml`` is LightningCLI (configs merged in order, typed
``class_path``/``init_args``; :mod:`mirbench.lightning_cli`); ``run``, ``table``, ``check``, ``golden``,
``prepare``, ``download``, ``evaluate`` and ``bench`` are dispatched to the modules that own them. Only the training
commands import torch and Lightning, so ``mirbench --help`` and ``mirbench table ...`` start at once.
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
import re
import shutil
import sys
import textwrap
from typing import Any

from mirbench import __version__

# Lightning's four, described here so that `mirbench --help` need not import Lightning
TRAINING = {
    "fit": "train a model (validating as it goes): a stack of --config files merged in order",
    "validate": "run the validation loop of a model (--ckpt_path best|last|FILE)",
    "test": "run the test loop and print the protocol metrics (--ckpt_path best|last|FILE)",
    "predict": "run the prediction loop (--ckpt_path best|last|FILE)",
}
# subcommand -> (module with a ``main(argv: list[str]) -> int``, one line for `mirbench --help`);
# the lines of run/table/check/golden are read from their own parser (mirbench.bench.commands).
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("mirbench.bench.commands", ""),
    "table": ("mirbench.bench.commands", ""),
    "check": ("mirbench.bench.commands", ""),
    "golden": ("mirbench.bench.commands", ""),
    "prepare": ("mirbench.data.commands", "decode a data set's audio and cache its features "
                                          "(`prepare corpus`: build the embedded default corpus)"),
    "download": ("mirbench.data.commands", "fetch a data set's public files (resumable, checksum-verified)"),
    "evaluate": ("mirbench.bench.evaluate", "run a protocol (lee2020, kimliem2022, tutorial_knn) on your own "
                                            "embeddings, embedding function or checkpoint; a record for `table --add`"),
    "bench": ("benchmarks.perf.__main__", "performance benchmarks in benchmarks/perf (`make bench`)"),
}
GROUPS = (
    ("Train and test one model (LightningCLI)", tuple(TRAINING)),
    ("Paper tables (benchmarks/tables/<id>.yaml)", ("run", "table", "check", "golden", "evaluate")),
    ("Data sets", ("prepare", "download")),
    ("Other", ("bench", "version")),
)
EXAMPLES = """\
Examples:
  mirbench run ismir2020 --profile ci          run (or resume) a table's rows at CI scale
  mirbench table ismir2020 && mirbench check ismir2020
  mirbench fit --config benchmarks/configs/base/trainer.yaml --config ... --print_config
  mirbench fit --help                          the trainer's options, the suite's methods and datamodules
"""
HELP_FLAGS = ("-h", "--help", "--model.help", "--data.help")
# what LightningCLI's top-level parser takes before the subcommand
TOP_OPTIONS = ("-c", "--config", "--print_config")
# where the classes a user can name with --model / --data live
SUITE_PACKAGES = ("mirbench.methods", "mirbench.data", "mirbench.hdpgmm")


def _command_lines() -> dict[str, str]:
    """One line per command, the table commands' taken from their argparse parser."""
    lines = {name: text for name, (_, text) in COMMANDS.items()}
    lines.update(TRAINING, version="print mirbench's version")
    from mirbench.bench.commands import build_parser

    for action in build_parser()._actions:
        for choice in getattr(action, "_choices_actions", ()):
            if choice.dest in lines and choice.help:
                lines[choice.dest] = choice.help
    return lines


def overview() -> str:
    """The text of ``mirbench --help``: every command with one line."""
    lines = _command_lines()
    width = max(len(name) for name in lines) + 2
    cols = shutil.get_terminal_size((110, 24)).columns - 2
    out = ["usage: mirbench <command> [options]    (mirbench <command> --help: its options)", "",
           f"mirbench {__version__}: reproducible benchmarks of music representation learning on PyTorch Lightning.",
           ""]
    grouped = {n for _, names in GROUPS for n in names}
    rest = tuple(n for n in COMMANDS if n not in grouped)  # a command added to COMMANDS alone still shows
    for title, names in (*GROUPS[:-1], (GROUPS[-1][0], (*rest, *GROUPS[-1][1]))):
        out.append(f"{title}:")
        for name in (n for n in names if n in lines):
            out += textwrap.wrap(lines[name], width=max(cols, width + 40), initial_indent=f"  {name:<{width}}",
                                 subsequent_indent=" " * (width + 2))
        out.append("")
    return "\n".join(out) + "\n" + EXAMPLES


def commands() -> list[str]:
    return [*TRAINING, *COMMANDS, "version", "help"]


def unknown_command(name: str) -> str:
    """The error for an unknown subcommand (or option before one), with the closest known ones."""
    option = name.startswith("-")
    known = ["--help", "--version", *TOP_OPTIONS] if option else commands()
    close = difflib.get_close_matches(name.split("=", 1)[0], known, n=2, cutoff=0.5)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    what = "option (before a command)" if option else "command"
    return f"mirbench: {name!r} is not a mirbench {what}.{hint} (mirbench --help lists the commands)"


def import_suite() -> list[str]:
    """Import every module of the suite's methods and datamodules, so LightningCLI knows them by name.

    Returns the modules that failed to import (they are left out of the listing, not fatal).
    """
    failed = []
    for package in SUITE_PACKAGES:
        pkg = importlib.import_module(package)
        for info in pkgutil.walk_packages(pkg.__path__, package + "."):
            try:
                importlib.import_module(info.name)
            except Exception as e:  # one broken optional module must not break `fit --help`
                failed.append(f"{info.name} ({type(e).__name__}: {e})")
    return failed


def _configured_class_paths() -> set[str]:
    """Every ``class_path`` named in the project's configs (a base class that a config uses is runnable too)."""
    from mirbench.paths import benchmarks_dir

    found: set[str] = set()
    for path in (benchmarks_dir() / "configs").rglob("*.yaml"):
        found.update(re.findall(r"class_path:\s*([\w.]+)", path.read_text(errors="replace")))
    return found


def _suite_classes(base: type) -> list[type]:
    """The suite's runnable subclasses of ``base``, by name: public, and either without a suite subclass of
    their own or named by a config (``FeatureDataModule`` is only a base; ``YT8MMusicVideoDataModule`` both)."""
    found, todo = {}, list(base.__subclasses__())
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        found[f"{cls.__module__}.{cls.__qualname__}"] = cls
    configured = _configured_class_paths()
    keep = [c for path, c in found.items() if c.__module__.startswith("mirbench.") and not c.__name__.startswith("_")
            and (path in configured or not any(s.__module__.startswith("mirbench.") for s in c.__subclasses__()))]
    return sorted(keep, key=lambda c: c.__name__)


def suite_listing(width: int | None = None) -> str:
    """The methods (``--model``) and datamodules (``--data``) of the suite: class path and one line each."""
    from lightning.pytorch import LightningDataModule, LightningModule

    cols = width or max(80, shutil.get_terminal_size((110, 24)).columns - 2)
    failed = import_suite()
    out = ["The suite's classes: give the class path in a YAML config (class_path:) or the name on the command",
           "line (--model TripletMethod); `mirbench fit --model.help NAME` lists a class's arguments."]
    for title, base in (("Methods (--model)", LightningModule), ("Datamodules (--data)", LightningDataModule)):
        out += ["", f"{title}:"]
        for cls in _suite_classes(base):
            doc = (cls.__doc__ or "").strip().splitlines()
            out.append(f"  {cls.__module__}.{cls.__name__}")
            if doc:
                out.append("      " + textwrap.shorten(doc[0], width=cols - 6, placeholder=" ..."))
    if failed:
        out += ["", "Not importable here (left out): " + "; ".join(failed)]
    return "\n".join(out)


def _wants_suite(args: list[str]) -> bool:
    """Help was asked for, or --model/--data names a class by its bare name (``--model TripletMethod``)."""
    if any(a.split("=", 1)[0] in HELP_FLAGS for a in args):
        return True
    for i, a in enumerate(args):
        key, _, value = a.partition("=")
        if key in ("--model", "--data"):
            value = value or (args[i + 1] if i + 1 < len(args) else "")
            if value and not any(ch in value for ch in "./{:") and value[:1].isupper():
                return True
    return False


def _training(args: list[str], from_argv: bool) -> int:
    from mirbench.lightning_cli import CheckpointNotFoundError, MirbenchCLI

    kwargs: dict[str, Any] = {}
    if args and args[0] in ("validate", "test", "predict"):
        # without a logger a fit saved config.yaml in default_root_dir: a later `test` there must not refuse
        kwargs["save_config_kwargs"] = {"config_filename": f"config_{args[0]}.yaml", "overwrite": True}
    if _wants_suite(args):
        # jsonargparse gives subcommand parsers the main parser's formatter
        kwargs["parser_kwargs"] = {"default_env": False, "formatter_class": _raw_epilog(),
                                   **{sub: {"epilog": suite_listing()} for sub in TRAINING}}
    try:
        if from_argv:
            MirbenchCLI(args=None, **kwargs)  # Lightning reads sys.argv
        else:  # called from Python: Lightning warns when sys.argv has arguments of its own (pytest's)
            from unittest import mock

            with mock.patch.object(sys, "argv", sys.argv[:1]):
                MirbenchCLI(args=args, **kwargs)
    except CheckpointNotFoundError as e:
        print(f"mirbench {args[0]}: error: {e}", file=sys.stderr)
        return 2
    return 0


def _raw_epilog() -> type:
    """jsonargparse's help formatter, keeping the epilog's line breaks."""
    import argparse

    from jsonargparse import DefaultHelpFormatter

    class RawEpilogFormatter(DefaultHelpFormatter):
        def _fill_text(self, text: str, width: int, indent: str) -> str:
            return argparse.RawDescriptionHelpFormatter._fill_text(self, text, width, indent)

    return RawEpilogFormatter


def _bench(args: list[str]) -> int:
    """``mirbench bench [name ...]``: benchmarks/ is not an installed package, so find it in the project."""
    from mirbench.paths import PROJECT_ROOT

    if not (PROJECT_ROOT / "benchmarks" / "perf").is_dir():
        print(f"mirbench bench: no benchmarks/perf under {PROJECT_ROOT} (it ships with a clone, not a wheel)",
              file=sys.stderr)
        return 2
    sys.path.insert(0, str(PROJECT_ROOT))
    module = importlib.import_module(COMMANDS["bench"][0])
    names = list(module.discover() if hasattr(module, "discover") else getattr(module, "BENCHMARKS", ()))
    if any(a in ("-h", "--help") for a in args):
        print(f"usage: mirbench bench [--full] [name ...]\n\n{COMMANDS['bench'][1]}; all of them by default "
              f"(--full: the long runs).\n\nnames: {', '.join(names)}")
        return 0
    unknown = [a for a in args[1:] if not a.startswith("-") and a not in names]
    if unknown:
        print(f"mirbench bench: unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(names)}", file=sys.stderr)
        return 2
    return int(module.main(args) or 0)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    first = args[0] if args else None
    if first in (None, "-h", "--help", "help") and len(args) <= 1:
        print(overview())
        return 0 if first else 2
    if first == "help":  # mirbench help table == mirbench table --help
        return main([args[1], "--help"])
    if first in ("--version", "version"):
        print(f"mirbench {__version__}")
        return 0
    if first == "bench":
        return _bench(args)
    if first in COMMANDS:
        module = importlib.import_module(COMMANDS[first][0])
        return int(module.main(args) or 0)
    if first in TRAINING or first.split("=", 1)[0] in TOP_OPTIONS:  # options before the subcommand: LightningCLI's
        return _training(args, argv is None)
    print(unknown_command(first), file=sys.stderr)
    return 2


def __getattr__(name: str) -> Any:
    # `from mirbench.cli import MirbenchCLI` keeps working without importing Lightning for every command
    if name == "MirbenchCLI":
        return importlib.import_module("mirbench.lightning_cli").MirbenchCLI
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if __name__ == "__main__":
    sys.exit(main())
