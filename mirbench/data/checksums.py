"""Checksummed file indexes: ``datasets/<id>/index.csv`` lists the files a real copy must hold.

Columns ``path,size,sha256,note``: ``path`` relative to the data set root; ``size`` in bytes and
``sha256`` where the published bytes are known (blank where they are not, e.g. audio we have never
seen); ``note`` says where a checksum comes from. :func:`verify_index` reports every missing,
wrong-sized or wrong-hashed file.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path

from mirbench.paths import PROJECT_ROOT


@dataclass(frozen=True)
class IndexEntry:
    path: str
    size: int | None = None
    sha256: str | None = None
    note: str = ""


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def index_path(dataset_id: str) -> Path:
    return PROJECT_ROOT / "datasets" / dataset_id / "index.csv"


def read_index(path: str | os.PathLike) -> list[IndexEntry]:
    rows = csv.DictReader(io.StringIO(Path(path).read_text()))
    return [
        IndexEntry(r["path"], int(r["size"]) if r.get("size") else None, r.get("sha256") or None, r.get("note", ""))
        for r in rows
    ]


def write_index(path: str | os.PathLike, entries: list[IndexEntry]) -> None:
    from mirbench.io import write_text

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["path", "size", "sha256", "note"])
    for e in entries:
        w.writerow([e.path, "" if e.size is None else e.size, e.sha256 or "", e.note])
    write_text(path, buf.getvalue())


def verify_index(root: str | os.PathLike, entries: list[IndexEntry], hash_files: bool = True) -> list[str]:
    """Problems found under ``root`` (empty list = the copy matches the index)."""
    root = Path(root)
    problems = []
    for e in entries:
        p = root / e.path
        if not p.is_file():
            problems.append(f"missing: {e.path}")
            continue
        if e.size is not None and p.stat().st_size != e.size:
            problems.append(f"size mismatch: {e.path} has {p.stat().st_size} bytes, expected {e.size}")
            continue
        if hash_files and e.sha256 and sha256_file(p) != e.sha256:
            problems.append(f"sha256 mismatch: {e.path} (expected {e.sha256}{'; ' + e.note if e.note else ''})")
    return problems
