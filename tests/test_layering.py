"""Import layering: lower packages never import the layers built on them.

``audio``, ``data``, ``losses``, ``metrics``, ``backbones``, ``heads`` and ``hdpgmm`` are the
building blocks; ``methods``, ``evaluation``, ``bench`` and ``cli`` compose them. Protocols
(``evaluation``) are run by the bench and never reach back into it. Every ``import`` in every file
counts, at module level and inside functions (a lazy import is still a dependency).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mirbench"
LOWER = ("audio", "data", "losses", "metrics", "backbones", "heads", "hdpgmm")
UPPER = ("methods", "evaluation", "bench", "cli")
RULES: dict[str, tuple[str, ...]] = {**{p: UPPER for p in LOWER}, "evaluation": ("bench",)}

# Violations still to be fixed by the owners of these files: "<file relative to mirbench/>" -> the
# layers it may still import. Remove an entry once its file is fixed; never add one.
KNOWN: dict[str, set[str]] = {}


def _package_of(path: Path) -> list[str]:
    """The package a relative import in ``path`` starts from: ``mirbench/data/gtzan.py`` -> ``["mirbench", "data"]``."""
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return parts[:-1]


def imported_modules(source: str, package: list[str]) -> Iterator[tuple[str, int]]:
    """Every absolute dotted name ``source`` imports (``from a import b`` yields ``a`` and ``a.b``), with its line."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            yield module, node.lineno
            for alias in node.names:
                yield f"{module}.{alias.name}", node.lineno


def _layers(path: Path) -> Iterator[tuple[str, int, str]]:
    """``(layer, line, module)`` for each ``mirbench.<layer>...`` that the file at ``path`` imports."""
    for module, line in imported_modules(path.read_text(), _package_of(path)):
        top = module.split(".")
        if top[0] == "mirbench" and len(top) > 1:
            yield top[1], line, module


def violations(package: str, forbidden: tuple[str, ...]) -> list[str]:
    """``"<file>:<line> imports <module>"`` for each import of a forbidden layer from ``package``, less ``KNOWN``."""
    found = []
    for path in sorted((PACKAGE / package).rglob("*.py")):
        name = path.relative_to(PACKAGE).as_posix()
        for layer, line, _ in _layers(path):
            if layer in forbidden and layer not in KNOWN.get(name, set()):
                found.append(f"{name}:{line} imports mirbench.{layer}")
    return sorted(set(found))


@pytest.mark.parametrize("package", sorted(RULES))
def test_package_never_imports_upper_layers(package: str) -> None:
    assert violations(package, RULES[package]) == []


def test_known_violations_still_exist() -> None:
    """A fixed file leaves ``KNOWN``: the allow-list only ever shrinks."""
    for name, layers in KNOWN.items():
        path = PACKAGE / name
        hits = {layer for layer, _, _ in _layers(path)} if path.exists() else set()
        assert layers <= hits, f"{name} no longer imports {sorted(layers - hits)}: drop it from KNOWN"


def test_imports_are_resolved_relative_and_inside_functions() -> None:
    """The parser sees relative imports, ``from mirbench import x`` and imports inside a function body."""
    source = "def f():\n    from ..bench import spec\n    import mirbench.cli\n    from mirbench import methods\n"
    names = {m for m, _ in imported_modules(source, ["mirbench", "data"])}
    assert {"mirbench.bench", "mirbench.bench.spec", "mirbench.cli", "mirbench.methods"} <= names
    assert {m for m, _ in imported_modules("from . import x", ["mirbench", "data"])} >= {"mirbench.data.x"}
