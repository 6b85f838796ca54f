"""``mirbench``: Lightning's ``fit|validate|test|predict`` plus the suite's own commands.

``mirbench fit --config a.yaml --config b.yaml`` is LightningCLI (configs merged in order, typed
``class_path``/``init_args``); ``prepare``, ``download``, ``run``, ``table``, ``check``, ``golden`` and
``bench`` are dispatched to the modules that own them.
"""

from __future__ import annotations

import importlib
import sys

from lightning.pytorch import LightningDataModule, LightningModule
from lightning.pytorch.cli import LightningCLI

from mirbench import __version__

# subcommand -> module with a ``main(argv: list[str]) -> int``
COMMANDS = {
    "prepare": "mirbench.data.commands",
    "download": "mirbench.data.commands",
    "run": "mirbench.bench.commands",
    "table": "mirbench.bench.commands",
    "check": "mirbench.bench.commands",
    "golden": "mirbench.bench.commands",
    "bench": "benchmarks.perf.__main__",
}


class MirbenchCLI(LightningCLI):
    """LightningCLI whose data facts (``data.data_info``) flow into the model."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("subclass_mode_model", True)
        kwargs.setdefault("subclass_mode_data", True)
        kwargs.setdefault("auto_configure_optimizers", False)
        kwargs.setdefault("parser_kwargs", {"default_env": False})
        super().__init__(LightningModule, LightningDataModule, *args, **kwargs)

    def add_arguments_to_parser(self, parser) -> None:
        parser.link_arguments("data.data_info", "model.init_args.data_info", apply_on="instantiate")


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in ("--version", "version"):
        print(f"mirbench {__version__}")
        return 0
    if args and args[0] in COMMANDS:
        module = importlib.import_module(COMMANDS[args[0]])
        return int(module.main(args) or 0)
    MirbenchCLI(args=argv)  # None: LightningCLI reads sys.argv itself
    return 0


if __name__ == "__main__":
    sys.exit(main())
