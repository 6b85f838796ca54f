"""The shared LightningDataModule of the real-format data sets: cached features in, dict batches out.

A data set module parses its real files into a :class:`Table` (item ids, split rows, tag matrix or
class labels, audio paths) and subclasses :class:`FeatureDataModule`, which reads the features
that ``mirbench prepare`` cached (memory-mapped) and yields batches::

    {"x": (B, crop_frames, dim) float32, "tags": (B, T) float32, "label": (B,) int64, "track": (B,) int64,
     "clip": (B,) int64}

``tags``/``label`` appear when the data set has them; ``clip`` is the item's row in the table and ``track`` its
track (the row itself unless the table maps clips to tracks), so per-segment outputs can be averaged per track
(Lee et al. evaluate full songs as the mean of non-overlapping 3-s windows: ``eval_mode="segments"``).

The embedded corpus is one of them (:class:`mirbench.data.corpus.datamodule.CorpusDataModule`: its clips are
items of one length, stacked in one array per feature, several per piece through ``Table.clip_track``).

Metric learning (Lee et al. 2020): ``sampling="triplets"`` makes the training batches category triplets of
:mod:`mirbench.data.sampling` (``{"anchor", "positive", "negative", "category"}``, plus
``track_anchor/positive/negative`` with ``track_triplets``) over the non-overlapping crops of the
training items; needs a tag matrix and tag categories (``data_info.categories``). ``reference_dataloader()`` gives
the segments of ``reference_split`` (tag centroids for triplet models' auto-tagging).
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

from mirbench.audio.cache import FeatureCache, StackedArrays
from mirbench.audio.features import FEATURE_DIMS
from mirbench.audio.prepare import AudioItem
from mirbench.data.base import DataInfo, RetrievalInputs
from mirbench.data.sampling import ClipDataset, EpochIndexSampler, TripletDataset, TripletSampler
from mirbench.data.sources.base import SPLITS
from mirbench.paths import dataset_dir

SAMPLINGS = ("clips", "triplets")


@dataclass
class Table:
    """A parsed data set: ``ids[i]`` is row i; ``splits`` maps split -> rows; targets are per row.

    ``clip_track``: when the items are clips cut from tracks (the corpus: several excerpts per piece), the
    track of each row, and ``track_tags`` ``(n_tracks, T)`` the tracks' tags; otherwise every item is its own
    track (``track`` = row in the batches and the triplets)."""

    ids: list[str]
    splits: dict[str, np.ndarray]
    audio: list[AudioItem] = field(default_factory=list)
    tags: np.ndarray | None = None  # (n, T) {0, 1}
    labels: np.ndarray | None = None  # (n,) int
    clip_track: np.ndarray | None = None  # (n,) int rows into track_tags
    track_tags: np.ndarray | None = None  # (n_tracks, T) {0, 1}

    def __post_init__(self):
        self.splits = {k: np.asarray(v, dtype=np.int64) for k, v in self.splits.items()}


def feature_cache_dir(dataset_id: str, feature: str, cache_dir: str | os.PathLike | None = None,
                      root: str | os.PathLike | None = None) -> Path:
    """Where ``mirbench prepare`` caches a data set's features: ``cache_dir``, else ``<root>/features/<feature>``
    with ``root`` the data set's folder (default ``$MIRBENCH_DATA/<id>``)."""
    return Path(cache_dir) if cache_dir is not None else dataset_dir(dataset_id, root) / "features" / feature


class FeatureDataModule(LightningDataModule):
    """Base datamodule over a :class:`Table` and a feature cache; subclasses implement :meth:`build_table`.

    Args:
        root: the data set in its published layout (default ``$MIRBENCH_DATA/<id>``).
        feature: cached feature name (``logmel_lee2020`` or ``frames_kim2022``).
        cache_dir: feature cache folder (default :func:`feature_cache_dir`).
        crop_frames: frames per example (129 = Lee et al.'s 3 s); ``None`` = whole items (batch_size 1).
        eval_mode: ``"segments"`` (all non-overlapping crops, ``track`` says whose) or ``"center"``.
        sampling: training examples: ``"clips"`` (one random crop per item) or ``"triplets"`` (category
            triplets of the non-overlapping crops of the training items; Lee et al. 2020).
        track_triplets: with ``"triplets"``, add same-track triplets (track regularisation, ICASSP 2020):
            anchor and positive are two different non-overlapping crops of one item.
        triplets_per_epoch: triplets per training epoch; ``None`` = one per training item (an epoch as
            long as one of ``"clips"``). Item ``i`` of epoch ``e`` is drawn from ``(triplet_seed, e, i)``.
        reference_split: the split of :meth:`reference_dataloader` (tag centroids for triplet models).
    """

    dataset_id = ""
    equal_length_items = False  # True: whole items batch together and make the triplets (crop_frames None)
    drop_last_train = True  # drop a short last training batch (when the split holds more than one batch)

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
        sampling: str = "clips",
        track_triplets: bool = False,
        triplets_per_epoch: int | None = None,
        triplet_seed: int = 0,
        reference_split: str = "train",
    ):
        super().__init__()
        if eval_mode not in ("segments", "center"):
            raise ValueError(f"eval_mode must be 'segments' or 'center', got {eval_mode!r}")
        if sampling not in SAMPLINGS:
            raise ValueError(f"sampling must be one of {SAMPLINGS}, got {sampling!r}")
        if reference_split not in SPLITS:
            raise ValueError(f"reference_split must be one of {SPLITS}, got {reference_split!r}")
        if sampling == "triplets" and crop_frames is None and not self.equal_length_items:
            raise ValueError("sampling='triplets' draws fixed-length crops: set crop_frames")
        if crop_frames is None and batch_size != 1 and not self.equal_length_items:
            raise ValueError("crop_frames=None (whole items of different lengths) needs batch_size=1")
        self.root = dataset_dir(self.dataset_id, root)
        self.feature = feature
        self.cache_dir = feature_cache_dir(self.dataset_id, feature, cache_dir, self.root)
        self.crop_frames, self.batch_size, self.num_workers = crop_frames, batch_size, num_workers
        self.eval_mode, self.max_segments_per_track = eval_mode, max_segments_per_track
        self.sampling, self.track_triplets, self.triplets_per_epoch = sampling, bool(track_triplets), triplets_per_epoch
        self.triplet_seed, self.reference_split = int(triplet_seed), reference_split
        self._table: Table | None = None
        self._cache: FeatureCache | None = None
        self._rows: dict[str, np.ndarray] = {}

    # -- to implement ----------------------------------------------------------------------
    def build_table(self) -> Table:
        raise NotImplementedError

    def info_fields(self) -> dict:
        """DataInfo fields other than ``input_shape`` (tag names, categories, class names)."""
        return {}

    @property
    def transform(self):
        """A picklable function applied to every float32 crop (or whole item) before batching; identity here."""
        return identity

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
    def cache(self) -> FeatureCache | StackedArrays | None:
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
            return CropDataset(self.cache, self.table, rows, self.crop_frames, random_crop=train,
                               transform=self.transform)
        return SegmentDataset(self.cache, self.table, rows, self.crop_frames, self.max_segments_per_track,
                              transform=self.transform)

    def triplet_dataset(self, split: str = "train") -> TripletDataset:
        """Category (+ track) triplets over every non-overlapping ``crop_frames`` crop of ``split``'s items (whole
        items when ``crop_frames`` is None); a crop's track is its item's (:attr:`Table.clip_track`, else the item)."""
        info, table = self.data_info, self.table
        tags = table.tags if table.clip_track is None else table.track_tags
        if tags is None or not info.categories:
            raise ValueError(f"{self.dataset_id}: sampling='triplets' needs a tag matrix and tag categories")
        segments = SegmentDataset(self.cache, table, self.split_rows(split), self.crop_frames, None,
                                  transform=self.transform)
        rows = np.array([r for r, _ in segments.index], dtype=np.int64)
        clip_track = rows if table.clip_track is None else np.asarray(table.clip_track)[rows]
        clips = ClipDataset(_SegmentArrays(segments), np.arange(len(clip_track)), clip_track, tags)
        sampler = TripletSampler(clips.clips, clip_track, tags, info.tag_categories, info.categories)
        length = self.triplets_per_epoch or len(sampler.tracks)
        return TripletDataset(clips, sampler, int(length), self.triplet_seed, self.track_triplets)

    def _loader(self, split: str) -> DataLoader:
        train = split == "train"
        return DataLoader(
            self.dataset(split),
            batch_size=self.batch_size,
            shuffle=train,
            drop_last=train and self.drop_last_train and len(self.split_rows(split)) > self.batch_size,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        if self.sampling == "clips":
            return self._loader("train")
        triplets = self.triplet_dataset("train")
        return DataLoader(triplets, batch_size=self.batch_size, sampler=EpochIndexSampler(len(triplets)),
                          num_workers=self.num_workers, persistent_workers=self.num_workers > 0)

    def val_dataloader(self) -> DataLoader:
        return self._loader("valid")

    def test_dataloader(self) -> DataLoader:
        return self._loader("test")

    def predict_dataloader(self) -> DataLoader:
        return self._loader("test")

    def reference_dataloader(self) -> DataLoader:
        """Evaluation crops of ``reference_split`` in a fixed order (Lee et al. 2020: the tag centroids that
        score auto-tagging for models without tag logits, see :mod:`mirbench.evaluation.lee2020`)."""
        return DataLoader(self.dataset(self.reference_split, train=False), batch_size=self.batch_size, shuffle=False,
                          num_workers=self.num_workers, persistent_workers=self.num_workers > 0)

    def retrieval_inputs(self) -> RetrievalInputs:
        """The Lee et al. 2020 protocol's input: the test clips and the reference clips (no Dim-Sim triplets)."""
        return RetrievalInputs(test=self.test_dataloader(), reference=self.reference_dataloader())

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
    track = row if table.clip_track is None else int(table.clip_track[row])
    out = {"track": torch.tensor(track, dtype=torch.long), "clip": torch.tensor(row, dtype=torch.long)}
    if table.tags is not None:
        out["tags"] = torch.from_numpy(np.asarray(table.tags[row], dtype=np.float32))
    if table.labels is not None:
        out["label"] = torch.tensor(int(table.labels[row]), dtype=torch.long)
    return out


def _crop(a: np.ndarray, start: int, n: int | None) -> np.ndarray:
    """Frames ``start`` to ``start + n`` of ``a`` (``n`` None: to the end), float32, zero-padded to ``n``."""
    x = np.array(a[start : None if n is None else start + n], dtype=np.float32)  # a copy: memmaps are read-only
    if n is None:
        return x
    if len(x) < n:  # shorter than one crop: zero-pad at the end
        x = np.concatenate([x, np.zeros((n - len(x), *x.shape[1:]), np.float32)])
    return x


def identity(x: np.ndarray) -> np.ndarray:
    """The default transform: the float32 crop as it is."""
    return x


class CropDataset(Dataset):
    """One crop per item: random (training) or centred (evaluation); ``crop=None`` = the whole item."""

    def __init__(self, cache: FeatureCache, table: Table, rows: np.ndarray, crop: int | None, random_crop: bool,
                 transform=None):
        self.cache, self.table, self.rows, self.crop, self.random_crop = cache, table, rows, crop, random_crop
        self.transform = transform or identity

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
        return {"x": torch.from_numpy(self.transform(x)), **_targets(self.table, row)}


class SegmentDataset(Dataset):
    """Every non-overlapping ``crop``-frame segment of every item (at least one, zero-padded; ``crop`` None: the
    whole item is its one segment)."""

    def __init__(self, cache: FeatureCache, table: Table, rows: np.ndarray, crop: int | None,
                 max_segments: int | None, transform=None):
        self.cache, self.table, self.crop = cache, table, crop
        self.transform = transform or identity
        index = []
        for r in rows:
            n = 1 if crop is None else max(cache.entry(table.ids[int(r)]).frames // crop, 1)
            n = min(n, max_segments) if max_segments else n
            index.extend((int(r), k * (crop or 0)) for k in range(n))
        self.index = index

    def __len__(self) -> int:
        return len(self.index)

    def segment(self, i: int) -> np.ndarray:
        row, start = self.index[i]
        return self.transform(_crop(self.cache.load(self.table.ids[row]), start, self.crop))

    def __getitem__(self, i: int) -> dict:
        return {"x": torch.from_numpy(self.segment(i)), **_targets(self.table, self.index[i][0])}


class _SegmentArrays:
    """``segments[i]`` -> the array of segment ``i`` (the ``features`` of a :class:`ClipDataset`)."""

    def __init__(self, segments: SegmentDataset):
        self.segments = segments

    def __len__(self) -> int:
        return len(self.segments)

    def __getitem__(self, i: int) -> np.ndarray:
        return self.segments.segment(int(i))


def prepare_items(dataset_id: str, items: list[AudioItem], args, default_feature: str):
    """Run :func:`prepare_features` for a data set with the options of ``mirbench prepare``."""
    from mirbench.audio.prepare import prepare_features

    feature = getattr(args, "feature", None) or default_feature
    out = feature_cache_dir(dataset_id, feature, getattr(args, "cache_dir", None), getattr(args, "root", None))
    return prepare_features(
        items,
        out,
        feature,
        workers=getattr(args, "workers", None),
        dtype=getattr(args, "dtype", None),
        progress=not getattr(args, "no_progress", False),
    )
