"""NSynth notes of the ISMIR 2020 metric-learning tutorial: 33 summary features + instrument family.

The datamodule; the data set's card, files and parsing are in :mod:`mirbench.data.sources.nsynth`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader, Dataset, Sampler

from mirbench.data.base import DataInfo
from mirbench.data.checksums import index_path, read_index, verify_index
from mirbench.data.sources.nsynth import (DATASET_ID, FEATURES, INSTRUMENTS, SPLIT_SIZES, SPLITS, load,  # noqa: F401
                                          load_split, resolve_root)


def verify(root: str | os.PathLike) -> list[str]:
    """Problems of the copy at ``root`` against ``datasets/nsynth_tutorial/index.csv`` (empty: identical)."""
    return verify_index(root, read_index(index_path(DATASET_ID)))


class _Notes(Dataset):
    def __init__(self, x: np.ndarray, y: np.ndarray):
        self.x, self.y = torch.from_numpy(x), torch.from_numpy(y)

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> dict:
        return {"x": self.x[i], "label": self.y[i], "index": torch.tensor(i)}


class ClassBalancedBatchSampler(Sampler[list[int]]):
    """Batches of ``classes_per_batch`` random classes x ``samples_per_class`` random items each (like
    pytorch-metric-learning's ``MPerClassSampler``): every item has positives in its batch, which pair,
    triplet and prototype losses need. An epoch has ``len(labels) // batch`` batches."""

    def __init__(self, labels: np.ndarray, classes_per_batch: int, samples_per_class: int):
        self.labels = np.asarray(labels)
        self.classes = np.unique(self.labels)
        if classes_per_batch > len(self.classes):
            raise ValueError(f"classes_per_batch={classes_per_batch} > {len(self.classes)} classes")
        self.c, self.m = int(classes_per_batch), int(samples_per_class)
        self.by_class = {c: np.nonzero(self.labels == c)[0] for c in self.classes}

    def __len__(self) -> int:
        return len(self.labels) // (self.c * self.m)

    def __iter__(self):
        seed = int(torch.randint(0, 2**31 - 1, ()).item())  # follows the global (seeded) torch RNG
        rng = np.random.default_rng(seed)
        pools = {c: list(rng.permutation(ix)) for c, ix in self.by_class.items()}
        for _ in range(len(self)):
            batch = []
            for c in rng.choice(self.classes, size=self.c, replace=False):
                if len(pools[c]) < self.m:
                    pools[c] += list(rng.permutation(self.by_class[c]))
                batch += [int(i) for i in pools[c][: self.m]]
                pools[c] = pools[c][self.m :]
            yield batch


class NSynthTutorialDataModule(LightningDataModule):
    """The tutorial's NSynth features; batches ``{"x": (B, 33) float32, "label": (B,) int64, "index": (B,)}``.

    Args:
        root: folder with the three CSVs (default: see :func:`resolve_root`).
        train_splits: CSVs that form the training set (the tutorial: train + valid).
        test_split: the CSV of the test set.
        batch_size: training batch size (evaluation batches hold the whole split).
        samples_per_class: if set, class-balanced training batches of ``batch_size // samples_per_class``
            classes x ``samples_per_class`` notes (:class:`ClassBalancedBatchSampler`); else shuffled.
        verify: check sizes and SHA-256 of the CSVs against ``datasets/nsynth_tutorial/index.csv``.

    Features come as stored (unscaled); methods standardise them with training statistics, as the
    tutorial's pipelines do. ``arrays(split)`` gives whole splits (``"train"``: the training set) for
    one-shot learners and the 1-NN protocol.
    """

    dataset_id = DATASET_ID

    def __init__(self, root: str | None = None, train_splits: tuple[str, ...] = ("train", "valid"),
                 test_split: str = "test", batch_size: int = 64, samples_per_class: int | None = None,
                 num_workers: int = 0, verify: bool = True) -> None:
        super().__init__()
        for s in (*train_splits, test_split):
            if s not in SPLITS:
                raise ValueError(f"unknown split {s!r}; the CSVs are {SPLITS}")
        if samples_per_class is not None and (samples_per_class < 2 or batch_size % samples_per_class):
            raise ValueError("samples_per_class must be >= 2 and divide batch_size")
        self.root_arg, self.train_splits, self.test_split = root, tuple(train_splits), test_split
        self.batch_size, self.samples_per_class, self.num_workers = batch_size, samples_per_class, num_workers
        self.verify = verify
        self._arrays: dict[str, tuple[np.ndarray, np.ndarray, list[str]]] = {}

    @property
    def root(self) -> Path:
        return resolve_root(self.root_arg)

    @property
    def data_info(self) -> DataInfo:
        return DataInfo(class_names=INSTRUMENTS, input_shape=(len(FEATURES),))

    def setup(self, stage: str | None = None) -> None:
        if self._arrays:
            return
        root = self.root
        if self.verify and (problems := verify(root)):
            raise ValueError(f"{root} does not match datasets/{DATASET_ID}/index.csv (pass verify=False for "
                             "other copies in the same format): " + "; ".join(problems))
        source = load(root)
        for name, splits in (("train", self.train_splits), ("test", (self.test_split,))):
            rows = np.concatenate([source.splits[s] for s in splits])
            self._arrays[name] = (source.features[rows], source.labels[rows], [source.ids[r] for r in rows])

    def arrays(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """``(X (n, 33) float32, y (n,) int64)`` of ``"train"`` (the training set) or ``"test"``."""
        self.setup()
        if split not in self._arrays:
            raise KeyError(f"split must be 'train' or 'test', got {split!r}")
        x, y, _ = self._arrays[split]
        return x, y

    def ids(self, split: str) -> list[str]:
        self.setup()
        return list(self._arrays[split][2])

    def train_dataloader(self) -> DataLoader:
        ds = _Notes(*self.arrays("train"))
        if self.samples_per_class:
            sampler = ClassBalancedBatchSampler(ds.y.numpy(), self.batch_size // self.samples_per_class,
                                                self.samples_per_class)
            return DataLoader(ds, batch_sampler=sampler, num_workers=self.num_workers)
        return DataLoader(ds, batch_size=self.batch_size, shuffle=True, num_workers=self.num_workers)

    def test_dataloader(self) -> DataLoader:
        ds = _Notes(*self.arrays("test"))
        return DataLoader(ds, batch_size=len(ds), num_workers=self.num_workers)

    def predict_dataloader(self) -> DataLoader:
        return self.test_dataloader()
