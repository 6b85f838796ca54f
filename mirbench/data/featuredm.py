"""The shared LightningDataModule of the real-format data sets: cached features in, dict batches out.

A data set module parses its real files into a :class:`Table` (item ids, split rows, tag matrix or
class labels, audio paths) and subclasses :class:`FeatureDataModule`, which reads the features
that ``mirbench prepare`` cached (memory-mapped) and yields batches::

    {"x": (B, crop_frames, dim) float32, "tags": (B, T) float32, "label": (B,) int64, "track": (B,) int64}

``tags``/``label`` appear when the data set has them; ``track`` is the item's row in the table, so
per-segment outputs can be averaged per track (Lee et al. evaluate full songs as the mean of
non-overlapping 3-s windows: ``eval_mode="segments"``).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader, Dataset

from mirbench.audio.cache import FeatureCache
from mirbench.audio.prepare import AudioItem
from mirbench.data.base import DataInfo
from mirbench.paths import data_root, dataset_dir

FEATURE_DIMS = {"logmel_lee2020": 128, "frames_kim2022": 52}
SPLITS = ("train", "valid", "test")


@dataclass
class Table:
    """A parsed data set: ``ids[i]`` is row i; ``splits`` maps split -> rows; targets are per row."""

    ids: list[str]
    splits: dict[str, np.ndarray]
    audio: list[AudioItem] = field(default_factory=list)
    tags: np.ndarray | None = None  # (n, T) {0, 1}
    labels: np.ndarray | None = None  # (n,) int

    def __post_init__(self):
        self.splits = {k: np.asarray(v, dtype=np.int64) for k, v in self.splits.items()}


def feature_cache_dir(dataset_id: str, feature: str, cache_dir: str | os.PathLike | None = None) -> Path:
    """Where ``mirbench prepare`` caches a data set's features: ``$MIRBENCH_DATA/<id>/features/<feature>``."""
    return Path(cache_dir) if cache_dir is not None else data_root() / dataset_id / "features" / feature


class FeatureDataModule(LightningDataModule):
    """Base datamodule over a :class:`Table` and a feature cache; subclasses implement :meth:`build_table`.

    Args:
        root: the data set in its published layout (default ``$MIRBENCH_DATA/<id>``).
        feature: cached feature name (``logmel_lee2020`` or ``frames_kim2022``).
        cache_dir: feature cache folder (default :func:`feature_cache_dir`).
        crop_frames: frames per example (129 = Lee et al.'s 3 s); ``None`` = whole items (batch_size 1).
        eval_mode: ``"segments"`` (all non-overlapping crops, ``track`` says whose) or ``"center"``.
    """

    dataset_id = ""

    def __init__(
        self,
        root: str | None = None,
        feature: str = "logmel_lee2020",
        cache_dir: str | None = None,
        crop_frames: int | None = 129,
        batch_size: int = 32,
        num_workers: int = 0,
        eval_mode: str = "segments",
        max_segments_per_track: int | None = None,
    ):
        super().__init__()
        if eval_mode not in ("segments", "center"):
            raise ValueError(f"eval_mode must be 'segments' or 'center', got {eval_mode!r}")
        if crop_frames is None and batch_size != 1:
            raise ValueError("crop_frames=None (whole items of different lengths) needs batch_size=1")
        self.root = dataset_dir(self.dataset_id, root)
        self.feature = feature
        self.cache_dir = feature_cache_dir(self.dataset_id, feature, cache_dir)
        self.crop_frames, self.batch_size, self.num_workers = crop_frames, batch_size, num_workers
        self.eval_mode, self.max_segments_per_track = eval_mode, max_segments_per_track
        self._table: Table | None = None
        self._cache: FeatureCache | None = None
        self._rows: dict[str, np.ndarray] = {}

    # -- to implement ----------------------------------------------------------------------
    def build_table(self) -> Table:
        raise NotImplementedError

    def info_fields(self) -> dict:
        """DataInfo fields other than ``input_shape`` (tag names, categories, class names)."""
        return {}

    # -- facts -----------------------------------------------------------------------------
    @property
    def table(self) -> Table:
        if self._table is None:
            self._table = self.build_table()
        return self._table

    @property
    def data_info(self) -> DataInfo:
        dim = FEATURE_DIMS.get(self.feature)
        if dim is None and self.cache is not None and len(self.cache):
            dim = self.cache.entry(self.cache.ids()[0]).dim
        shape = (self.crop_frames, dim) if self.crop_frames else (dim,)
        return DataInfo(input_shape=tuple(int(s) for s in shape if s is not None), **self.info_fields())

    @property
    def cache(self) -> FeatureCache | None:
        if self._cache is None and (self.cache_dir / "index.csv").is_file():
            self._cache = FeatureCache(self.cache_dir)
        return self._cache

    def split_rows(self, split: str) -> np.ndarray:
        """Rows of ``split`` whose features are cached (a warning names the rest and where to look)."""
        if split not in self._rows:
            self._rows[split] = self._cached_rows(split)
        return self._rows[split]

    def _cached_rows(self, split: str) -> np.ndarray:
        rows = self.table.splits.get(split)
        if rows is None:
            raise KeyError(f"{self.dataset_id} has no split {split!r}; it has {sorted(self.table.splits)}")
        cache = self.cache
        if cache is None:
            raise FileNotFoundError(
                f"no cached {self.feature} features for {self.dataset_id} at {self.cache_dir}; run "
                f"`mirbench prepare {self.dataset_id} --root {self.root} --feature {self.feature}`"
            )
        have = np.array([self.table.ids[r] in cache for r in rows], dtype=bool)
        if not have.all():
            warnings.warn(
                f"{self.dataset_id}/{split}: {int((~have).sum())} of {len(rows)} items have no cached features "
                f"(see {self.cache_dir / 'failures.csv'}); they are left out",
                stacklevel=3,
            )
        if not have.any():
            raise RuntimeError(f"{self.dataset_id}/{split}: none of {len(rows)} items is in {self.cache_dir}")
        return rows[have]

    # -- Lightning -------------------------------------------------------------------------
    def dataset(self, split: str, train: bool | None = None) -> Dataset:
        train = (split == "train") if train is None else train
        rows = self.split_rows(split)
        if train or self.eval_mode == "center" or self.crop_frames is None:
            return CropDataset(self.cache, self.table, rows, self.crop_frames, random_crop=train)
        return SegmentDataset(self.cache, self.table, rows, self.crop_frames, self.max_segments_per_track)

    def _loader(self, split: str) -> DataLoader:
        train = split == "train"
        return DataLoader(
            self.dataset(split),
            batch_size=self.batch_size,
            shuffle=train,
            drop_last=train and len(self.split_rows(split)) > self.batch_size,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train")

    def val_dataloader(self) -> DataLoader:
        return self._loader("valid")

    def test_dataloader(self) -> DataLoader:
        return self._loader("test")

    def predict_dataloader(self) -> DataLoader:
        return self._loader("test")

    # -- arrays for non-gradient protocols ------------------------------------------------
    def summary_arrays(self, split: str, reduce: str = "meanstd") -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        """Per-item summaries ``(X, y, rows)`` of whole cached items, e.g. Kim & Liem's G1 (mean and std, 104-d).

        ``y`` is the label vector or the tag matrix (None if neither). ``reduce``: ``meanstd`` or ``mean``.
        """
        rows = self.split_rows(split)
        feats = []
        for r in rows:
            a = np.asarray(self.cache.load(self.table.ids[r]), dtype=np.float64)
            parts = [a.mean(0)] + ([a.std(0)] if reduce == "meanstd" else [])
            feats.append(np.concatenate(parts))
        t = self.table
        y = t.labels[rows] if t.labels is not None else (t.tags[rows] if t.tags is not None else None)
        return np.stack(feats), y, rows


def _targets(table: Table, row: int) -> dict:
    out = {"track": torch.tensor(row, dtype=torch.long)}
    if table.tags is not None:
        out["tags"] = torch.from_numpy(np.asarray(table.tags[row], dtype=np.float32))
    if table.labels is not None:
        out["label"] = torch.tensor(int(table.labels[row]), dtype=torch.long)
    return out


def _crop(a: np.ndarray, start: int, n: int) -> np.ndarray:
    x = np.array(a[start : start + n], dtype=np.float32)  # a copy: memmaps are read-only
    if len(x) < n:  # shorter than one crop: zero-pad at the end
        x = np.concatenate([x, np.zeros((n - len(x), *x.shape[1:]), np.float32)])
    return x


class CropDataset(Dataset):
    """One crop per item: random (training) or centred (evaluation); ``crop=None`` = the whole item."""

    def __init__(self, cache: FeatureCache, table: Table, rows: np.ndarray, crop: int | None, random_crop: bool):
        self.cache, self.table, self.rows, self.crop, self.random_crop = cache, table, rows, crop, random_crop

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict:
        row = int(self.rows[i])
        a = self.cache.load(self.table.ids[row])
        if self.crop is None:
            x = np.array(a, dtype=np.float32)
        else:
            slack = max(len(a) - self.crop, 0)
            start = int(torch.randint(0, slack + 1, ()).item()) if self.random_crop else slack // 2
            x = _crop(a, start, self.crop)
        return {"x": torch.from_numpy(x), **_targets(self.table, row)}


class SegmentDataset(Dataset):
    """Every non-overlapping ``crop``-frame segment of every item (at least one, zero-padded)."""

    def __init__(self, cache: FeatureCache, table: Table, rows: np.ndarray, crop: int, max_segments: int | None):
        self.cache, self.table, self.crop = cache, table, crop
        index = []
        for r in rows:
            n = max(cache.entry(table.ids[int(r)]).frames // crop, 1)
            n = min(n, max_segments) if max_segments else n
            index.extend((int(r), k * crop) for k in range(n))
        self.index = index

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> dict:
        row, start = self.index[i]
        x = _crop(self.cache.load(self.table.ids[row]), start, self.crop)
        return {"x": torch.from_numpy(x), **_targets(self.table, row)}


def prepare_items(dataset_id: str, items: list[AudioItem], args, default_feature: str):
    """Run :func:`prepare_features` for a data set with the options of ``mirbench prepare``."""
    from mirbench.audio.prepare import prepare_features

    feature = getattr(args, "feature", None) or default_feature
    out = feature_cache_dir(dataset_id, feature, getattr(args, "cache_dir", None))
    return prepare_features(
        items,
        out,
        feature,
        workers=getattr(args, "workers", None),
        dtype=getattr(args, "dtype", None),
        progress=not getattr(args, "no_progress", False),
    )
