"""On-disk feature cache: one ``.npy`` per item, an atomically written index, memory-mapped reads.

Layout of a cache folder (one per data set and feature, e.g. ``$MIRBENCH_DATA/gtzan/features/frames_kim2022``)::

    cache.json          what the arrays are: feature name, sample rate, dtype, free-form params
    index.csv           item_id,file,frames,dim  (one row per computed item; written atomically)
    arrays/ab/<name>.npy  (frames, dim) float16 or float32; ``ab`` = first 2 hex digits of sha1(item_id)

Writers never leave a half-written array or index under its final name (:mod:`mirbench.io`), so
an interrupted run leaves a consistent cache that the next run completes (resume).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mirbench.io import save_npy, write_json, write_text

INDEX = "index.csv"
META = "cache.json"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class CacheEntry:
    item_id: str
    file: str  # relative to the cache root
    frames: int
    dim: int


class FeatureCache:
    """A folder of per-item feature arrays with an index; ``meta`` must match on reopen."""

    def __init__(self, root: str | os.PathLike, meta: dict | None = None):
        self.root = Path(root)
        self.meta = dict(meta or {})
        self._entries: dict[str, CacheEntry] = {}
        meta_path = self.root / META
        if meta_path.is_file():
            stored = json.loads(meta_path.read_text())
            clash = {k: (stored.get(k), v) for k, v in self.meta.items() if k in stored and stored[k] != v}
            if clash:
                raise ValueError(
                    f"feature cache {self.root} was built with different settings {clash} (stored, requested); "
                    "use another folder or delete this one"
                )
            self.meta = {**stored, **self.meta}
        if (self.root / INDEX).is_file():
            for row in csv.DictReader(io.StringIO((self.root / INDEX).read_text())):
                self._entries[row["item_id"]] = CacheEntry(row["item_id"], row["file"], int(row["frames"]), int(row["dim"]))

    # -- reading ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, item_id: str) -> bool:
        return item_id in self._entries

    def ids(self) -> list[str]:
        return list(self._entries)

    def entry(self, item_id: str) -> CacheEntry:
        try:
            return self._entries[item_id]
        except KeyError:
            raise KeyError(f"{item_id!r} is not in the feature cache {self.root}; run `mirbench prepare`") from None

    def load(self, item_id: str, mmap: bool = True) -> np.ndarray:
        """``(frames, dim)`` array, memory-mapped (read-only) by default."""
        return np.load(self.root / self.entry(item_id).file, mmap_mode="r" if mmap else None)

    def has_file(self, item_id: str) -> bool:
        return (self.root / self.relpath(item_id)).is_file()

    # -- writing ---------------------------------------------------------------------------
    def relpath(self, item_id: str) -> str:
        """Where an item's array lives, relative to the root (stable, file-system safe, sharded)."""
        digest = hashlib.sha1(item_id.encode("utf-8")).hexdigest()
        name = _UNSAFE.sub("_", item_id).strip("._")[-80:] or "item"
        if name != item_id:
            name = f"{name}-{digest[:8]}"  # keeps distinct ids distinct after sanitising
        return f"arrays/{digest[:2]}/{name}.npy"

    def put(self, item_id: str, array: np.ndarray) -> CacheEntry:
        """Save one array (atomically) and record it; call :meth:`flush` to write the index."""
        rel = self.relpath(item_id)
        save_npy(self.root / rel, array)
        return self.add(item_id, rel, array.shape)

    def add(self, item_id: str, rel: str, shape: tuple[int, ...]) -> CacheEntry:
        entry = CacheEntry(item_id, rel, int(shape[0]), int(shape[1]) if len(shape) > 1 else 1)
        self._entries[item_id] = entry
        return entry

    def adopt(self, item_id: str) -> CacheEntry | None:
        """Record an array that is on disk but not in the index (a run killed before its index flush)."""
        path = self.root / self.relpath(item_id)
        try:
            shape = np.load(path, mmap_mode="r").shape
        except (OSError, ValueError):
            return None
        return self.add(item_id, self.relpath(item_id), shape)

    def flush(self) -> None:
        """Write ``cache.json`` and ``index.csv`` atomically."""
        self.root.mkdir(parents=True, exist_ok=True)
        write_json(self.root / META, self.meta)
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["item_id", "file", "frames", "dim"])
        for e in self._entries.values():
            w.writerow([e.item_id, e.file, e.frames, e.dim])
        write_text(self.root / INDEX, buf.getvalue())


class StackedArrays:
    """The reading side of :class:`FeatureCache` over one ``(n, frames, ...)`` array whose row ``i`` is item
    ``ids[i]`` (the embedded corpus stores each feature so): ``load``, ``entry``, ``in``, ``ids``, ``len``."""

    def __init__(self, array: np.ndarray, ids: list[str]):
        if len(array) != len(ids):
            raise ValueError(f"{len(array)} stacked arrays for {len(ids)} ids")
        self.array, self._row = array, {item_id: i for i, item_id in enumerate(ids)}
        dim = int(array.shape[2]) if array.ndim > 2 else 1
        self._entry = {item_id: CacheEntry(item_id, "", int(array.shape[1]), dim) for item_id in self._row}

    def __len__(self) -> int:
        return len(self._row)

    def __contains__(self, item_id: str) -> bool:
        return item_id in self._row

    def ids(self) -> list[str]:
        return list(self._row)

    def entry(self, item_id: str) -> CacheEntry:
        return self._entry[item_id]

    def load(self, item_id: str, mmap: bool = True) -> np.ndarray:
        return self.array[self._row[item_id]]
