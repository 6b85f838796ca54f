"""Every YAML under benchmarks/configs names classes that exist and only arguments they take: configs no table
references (the real-format data sets' own, for a user's ``mirbench fit``) cannot rot unseen."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import yaml

CONFIGS = Path(__file__).resolve().parents[1] / "benchmarks" / "configs"


def _class(path: str):
    module, _, name = path.rpartition(".")
    if not module:  # a bare name Lightning resolves itself (e.g. ModelCheckpoint)
        module = "lightning.pytorch.callbacks"
    return getattr(importlib.import_module(module), name)


def _components(node, where: str):
    """``(where, class_path, init_args)`` of every ``class_path`` entry, nested ones included."""
    if isinstance(node, dict):
        if "class_path" in node:
            yield where, node["class_path"], node.get("init_args") or {}
        for key, value in node.items():
            yield from _components(value, f"{where}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _components(value, f"{where}[{i}]")


def _accepted(cls) -> set[str]:
    """The keyword arguments the CLI's parser takes for ``cls``: jsonargparse's own resolution of its signature
    (``**kwargs`` followed into the base classes or the class they are passed to, as ``mirbench fit`` does)."""
    from jsonargparse._parameter_resolvers import get_signature_parameters  # the resolver behind LightningCLI

    return {p.name for p in get_signature_parameters(cls)}


@pytest.mark.parametrize("path", sorted(CONFIGS.rglob("*.yaml")), ids=lambda p: str(p.relative_to(CONFIGS)))
def test_config_names_real_classes_and_arguments(path):
    found = list(_components(yaml.safe_load(path.read_text()) or {}, path.stem))
    for where, class_path, init_args in found:
        unknown = sorted(set(init_args) - _accepted(_class(class_path)))
        assert not unknown, f"{path}: {where} ({class_path}) takes no {unknown}"
