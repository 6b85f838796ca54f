"""The data sets mirbench knows, discovered from the card constants of the modules of :mod:`mirbench.data.sources`.

A source module is a data set when it defines, at module level and as literals (mirdata's shape: one constant
set per loader), the constants of :data:`mirbench.data.sources.base.CARD`: ``DATASET_ID``, ``DATASET_NAME``,
``DATASET_LICENSE``, ``DATASET_URL``, ``DATASET_LAYOUT``, ``DATAMODULE`` (the class path of its datamodule),
``DEFAULT_FEATURE`` and ``NEEDS_AUDIO_ROOT``. The modules are read as source (:mod:`ast`), not imported, so
listing the data sets stays fast. The datamodule's module holds ``prepare(args)`` (``mirbench prepare <id>``)
and ``verify(root)`` where the data set has them.
"""

from __future__ import annotations

import ast
import importlib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from mirbench.data.sources.base import CARD as CARD_CONSTANTS

CARD = dict(zip(CARD_CONSTANTS, ("id", "title", "license", "url", "layout", "datamodule_path", "default_feature",
                                 "needs_audio_root")))
_MIRBENCH = Path(__file__).resolve().parent.parent
_SOURCES = Path(__file__).resolve().parent / "sources"


@dataclass(frozen=True)
class DatasetEntry:
    """One data set's card and where its code lives: ``source`` parses it, ``module`` holds its datamodule."""

    id: str
    source: str
    datamodule_path: str
    default_feature: str
    title: str
    license: str
    url: str
    layout: str
    needs_audio_root: bool  # audio lives outside --root (MSD previews shared by several sets)
    preparable: bool = True  # the datamodule's module has ``prepare(args)`` (``mirbench prepare <id>``)

    @property
    def module(self) -> str:
        return self.datamodule_path.rsplit(".", 1)[0]

    @property
    def datamodule(self) -> str:
        return self.datamodule_path.rsplit(".", 1)[1]

    def load(self) -> ModuleType:
        """The module of the datamodule (``prepare``, ``verify``)."""
        return importlib.import_module(self.module)

    def source_module(self) -> ModuleType:
        """The module whose ``load(root, ...)`` gives the data set's :class:`~mirbench.data.sources.base.Source`."""
        return importlib.import_module(self.source)

    def datamodule_class(self):
        return getattr(self.load(), self.datamodule)


def _module_file(module: str) -> Path:
    return _MIRBENCH.parent.joinpath(*module.split(".")).with_suffix(".py")


def _defines(path: Path, name: str) -> bool:
    tree = ast.parse(path.read_text(), filename=str(path))
    return any(isinstance(n, ast.FunctionDef) and n.name == name for n in tree.body)


def read_card(path: Path, module: str) -> DatasetEntry | None:
    """The entry of the source module at ``path`` from its literal card constants; None for another module."""
    tree = ast.parse(path.read_text(), filename=str(path))
    values = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            if node.targets[0].id in CARD:
                values[node.targets[0].id] = ast.literal_eval(node.value)
    if "DATASET_ID" not in values:
        return None
    if missing := [k for k in CARD if k not in values]:
        raise ValueError(f"{path}: data-set card lacks {missing}")
    fields = {CARD[k]: v for k, v in values.items()}
    loader = _module_file(fields["datamodule_path"].rsplit(".", 1)[0])
    return DatasetEntry(source=module, preparable=loader.is_file() and _defines(loader, "prepare"), **fields)


def discover(package: Path = _SOURCES, prefix: str = "mirbench.data.sources") -> dict[str, DatasetEntry]:
    """Every data set whose module under ``package`` carries a card, by id."""
    out: dict[str, DatasetEntry] = {}
    for path in sorted(package.glob("*.py")):
        entry = read_card(path, f"{prefix}.{path.stem}")
        if entry is not None:
            if entry.id in out:
                raise ValueError(f"data set id {entry.id!r} in both {out[entry.id].source} and {entry.source}")
            out[entry.id] = entry
    return out


DATASETS: dict[str, DatasetEntry] = discover()


def preparable() -> list[str]:
    """Ids ``mirbench prepare`` can decode and cache."""
    return sorted(i for i, e in DATASETS.items() if e.preparable)


def get(dataset_id: str) -> DatasetEntry:
    try:
        return DATASETS[dataset_id]
    except KeyError:
        raise KeyError(f"unknown data set {dataset_id!r}; known: {', '.join(DATASETS)}") from None
