"""Where mirbench finds data, caches and the repository's own files.

Data roots come from the environment, never from absolute paths in YAML:
``MIRBENCH_DATA`` (default ``<project>/data``) holds downloaded data sets and built caches;
``MIRBENCH_SHARED_DATA`` (default ``<project>/../shared/data``) the real public files used by tests.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def data_root() -> Path:
    """Root under which each data set lives in ``<root>/<dataset_id>``."""
    return Path(os.environ.get("MIRBENCH_DATA", PROJECT_ROOT / "data")).expanduser()


def dataset_dir(dataset_id: str, root: str | os.PathLike | None = None) -> Path:
    """Folder of one data set: ``root/<dataset_id>`` (``root`` defaults to :func:`data_root`)."""
    return Path(root).expanduser() if root is not None else data_root() / dataset_id


def shared_data_dir() -> Path:
    """The project's ``../shared/data`` (real public files for tests); may not exist."""
    return Path(os.environ.get("MIRBENCH_SHARED_DATA", PROJECT_ROOT.parent / "shared" / "data"))


def benchmarks_dir() -> Path:
    return PROJECT_ROOT / "benchmarks"


def results_dir() -> Path:
    return Path(os.environ.get("MIRBENCH_RESULTS", PROJECT_ROOT / "results"))
