"""MagnaTagATune (MTAT): 25,863 clips of 29 s from 5,405 Magnatune tracks, 188 tags; top-50 auto-tagging.

The datamodule; the data set's card, files and parsing are in :mod:`mirbench.data.sources.mtat`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from mirbench.data.featuredm import FeatureDataModule, Table, prepare_items
from mirbench.data.sources.base import to_table
from mirbench.data.sources.mtat import load, read_annotations, tag_matrix  # noqa: F401
from mirbench.data.splits import MTAT_SPLIT_SIZES, read_lines
from mirbench.paths import dataset_dir


class MTATDataModule(FeatureDataModule):
    """MTAT top-50 auto-tagging from cached features; ``tags`` = (50,) multi-hot in ``top50_tags.txt`` order.

    ``root`` holds ``annotations_final.csv`` and the audio folders; ``split_dir`` holds the
    ``MTAT_split`` files (default ``<root>/MTAT_split``). Rows are the clips of the split lists,
    identified by ``clip_id``.
    """

    dataset_id = "mtat"

    def __init__(self, root: str | None = None, split_dir: str | None = None, feature: str = "frames_kim2022", **kwargs):
        super().__init__(root=root, feature=feature, **kwargs)
        self.split_dir = Path(split_dir) if split_dir else self.root / "MTAT_split"

    @property
    def tag_names(self) -> list[str]:
        return read_lines(self.split_dir / "top50_tags.txt")

    def build_table(self) -> Table:
        return build_table(self.root, self.split_dir)

    def info_fields(self) -> dict:
        return {"tag_names": tuple(self.tag_names)}


def build_table(root: str | os.PathLike, split_dir: str | os.PathLike) -> Table:
    """The :class:`Table` of :func:`mirbench.data.sources.mtat.load`."""
    return to_table(load(root, split_dir))


def prepare(args):
    """``mirbench prepare mtat --root DIR``: features of the clips of the split (21,105 when complete)."""
    root = dataset_dir("mtat", args.root)
    split_dir = Path(getattr(args, "split_dir", None) or root / "MTAT_split")
    table = build_table(root, split_dir)
    return prepare_items("mtat", table.audio, args, "frames_kim2022")


def published_split_sizes() -> dict[str, int]:
    return dict(MTAT_SPLIT_SIZES)


def verify(root: str | os.PathLike) -> list[str]:
    """Problems of a full MTAT copy: index files, every split clip's mp3, counts, labels = ``y_*_pub.npy``."""
    from mirbench.data.checksums import index_path, read_index, verify_index

    root = Path(root)
    problems = verify_index(root, [e for e in read_index(index_path("mtat")) if e.sha256 or e.size])
    if problems:
        return problems
    table = build_table(root, root / "MTAT_split")
    sizes = {k: len(v) for k, v in table.splits.items()}
    if sizes != MTAT_SPLIT_SIZES:
        problems.append(f"split sizes {sizes}, published {MTAT_SPLIT_SIZES}")
    problems += [f"missing audio: {a.path}" for a in table.audio if not Path(a.path).is_file()]
    for split in ("valid", "test"):
        y = np.load(root / "MTAT_split" / f"y_{split}_pub.npy")
        if not np.array_equal(table.tags[table.splits[split]], y.astype(np.uint8)):
            problems.append(f"top-50 tags of {split} differ from y_{split}_pub.npy")
    return problems
