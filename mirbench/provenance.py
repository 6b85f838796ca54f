"""Which code computed a number: the source of every ``mirbench`` module as it was when this process imported it.

:func:`install` (called by ``mirbench/__init__.py``) puts a finder on ``sys.meta_path`` that wraps the loader of
each ``mirbench.*`` module: when the module is executed, its source file is read and kept, so a RunRecord can hash
the code that ran even if a file is edited on disk while a sweep is running (a hash of the disk at write time
would then describe code that never ran).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from pathlib import Path

_SOURCES: dict[str, bytes] = {}  # resolved file path -> its bytes when the module was executed


def source_at_import(path: str | Path) -> bytes | None:
    """The bytes of ``path`` when its module was imported in this process; None if it was not (yet) imported."""
    return _SOURCES.get(str(Path(path).resolve()))


class _SnapshotLoader(importlib.abc.Loader):
    def __init__(self, loader: importlib.abc.Loader, origin: str):
        self._loader, self._origin = loader, origin

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        path = Path(self._origin).resolve()
        try:
            _SOURCES[str(path)] = path.read_bytes()
        except OSError:
            pass
        self._loader.exec_module(module)

    def __getattr__(self, name):  # get_source, get_code, is_package, ... of the wrapped loader
        return getattr(self._loader, name)


class _SnapshotFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if not fullname.startswith("mirbench."):
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is not None and spec.origin and spec.origin.endswith(".py") and spec.loader is not None:
            spec.loader = _SnapshotLoader(spec.loader, spec.origin)
        return spec


def install() -> None:
    """Snapshot ``mirbench.*`` sources from now on (idempotent); the package's own ``__init__`` is read here."""
    if not any(isinstance(f, _SnapshotFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _SnapshotFinder())
    init = Path(__file__).with_name("__init__.py").resolve()
    _SOURCES.setdefault(str(init), init.read_bytes())
