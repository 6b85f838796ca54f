"""The real-format data sets mirbench knows, discovered from the card constants of their modules.

A module of :mod:`mirbench.data` is a data set when it defines, at module level and as literals (mirdata's
shape: one constant set per loader), ``DATASET_ID``, ``DATASET_NAME``, ``DATASET_LICENSE``, ``DATASET_URL``,
``DATASET_LAYOUT``, ``DATAMODULE`` (the class name), ``DEFAULT_FEATURE`` and optionally ``NEEDS_AUDIO_ROOT``.
The modules are read as source (:mod:`ast`), not imported, so listing the data sets stays fast.
"""

from __future__ import annotations

import ast
import importlib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

CARD = {"DATASET_ID": "id", "DATASET_NAME": "title", "DATASET_LICENSE": "license", "DATASET_URL": "url",
        "DATASET_LAYOUT": "layout", "DATAMODULE": "datamodule", "DEFAULT_FEATURE": "default_feature",
        "NEEDS_AUDIO_ROOT": "needs_audio_root"}
REQUIRED = tuple(k for k in CARD if k != "NEEDS_AUDIO_ROOT")
_PACKAGE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class DatasetEntry:
    """One data set's card and where its code lives."""

    id: str
    module: str
    datamodule: str
    default_feature: str
    title: str
    license: str = ""
    url: str = ""
    layout: str = ""
    needs_audio_root: bool = False  # audio lives outside --root (MSD previews shared by several sets)
    preparable: bool = True  # the module has ``prepare(args)`` (``mirbench prepare <id>``)

    def load(self) -> ModuleType:
        return importlib.import_module(self.module)

    def datamodule_class(self):
        return getattr(self.load(), self.datamodule)


def read_card(path: Path, module: str) -> DatasetEntry | None:
    """The entry of the data-set module at ``path`` from its literal card constants; None for another module."""
    tree = ast.parse(path.read_text(), filename=str(path))
    values, preparable = {}, False
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            if node.targets[0].id in CARD:
                values[node.targets[0].id] = ast.literal_eval(node.value)
        elif isinstance(node, ast.FunctionDef) and node.name == "prepare":
            preparable = True
    if "DATASET_ID" not in values:
        return None
    if missing := [k for k in REQUIRED if k not in values]:
        raise ValueError(f"{path}: data-set card lacks {missing}")
    return DatasetEntry(module=module, preparable=preparable, **{CARD[k]: v for k, v in values.items()})


def discover(package: Path = _PACKAGE, prefix: str = "mirbench.data") -> dict[str, DatasetEntry]:
    """Every data set whose module under ``package`` carries a card, by id."""
    out: dict[str, DatasetEntry] = {}
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package).with_suffix("").parts
        entry = read_card(path, ".".join((prefix, *rel)))
        if entry is not None:
            if entry.id in out:
                raise ValueError(f"data set id {entry.id!r} in both {out[entry.id].module} and {entry.module}")
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
        raise KeyError(f"unknown data set {dataset_id!r}; known: {', '.join(DATASETS)} (and 'corpus')") from None
