"""Dim-Sim: human judgements of which of two 3-s MSD clips sounds more like an anchor clip.

The datamodule; the data set's card, files and parsing are in :mod:`mirbench.data.sources.dimsim`.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from mirbench.audio.prepare import AudioItem
from mirbench.data.base import DimSimTriplets
from mirbench.data.featuredm import CropDataset, FeatureDataModule, Table, prepare_items
from mirbench.data.sources.base import to_table
from mirbench.data.sources.dimsim import FILES, PUBLISHED_ROWS, load, read_triplets
from mirbench.data.sources.msd_lastfm import audio_paths, id_maps_root, missing_audio
from mirbench.paths import dataset_dir


def triplet_accuracy(anchor: np.ndarray, song1: np.ndarray, song2: np.ndarray, target: np.ndarray,
                     metric: str = "euclidean") -> float:
    """Fraction of triplets whose more-voted song (``target``: 0 = song1, 1 = song2) is strictly closer.

    Embeddings ``(n, d)``; ``metric`` ``euclidean`` or ``cosine``. Equal distances count as wrong.
    """
    a, s1, s2 = (np.asarray(v, dtype=np.float64) for v in (anchor, song1, song2))
    if metric == "cosine":
        a, s1, s2 = (v / np.linalg.norm(v, axis=1, keepdims=True) for v in (a, s1, s2))
    d1, d2 = np.linalg.norm(a - s1, axis=1), np.linalg.norm(a - s2, axis=1)
    right = np.where(np.asarray(target) == 0, d1 < d2, d2 < d1)
    return float(right.mean())


class DimSimDataModule(FeatureDataModule):
    """Dim-Sim triplets of cached 3-s clips; all triplets are the ``test`` split (an evaluation set).

    Batches: ``x`` ``(B, 3, frames, dim)`` (anchor, song1, song2), ``label`` the more-voted song
    (0 = song1, 1 = song2), ``votes`` ``(B, 2)``, ``track`` the triplet's row.
    """

    dataset_id = "dimsim"

    def __init__(self, root: str | None = None, version: str = "clean", feature: str = "logmel_lee2020", **kwargs):
        kwargs.setdefault("eval_mode", "center")
        super().__init__(root=root, feature=feature, **kwargs)
        if version not in FILES:
            raise ValueError(f"version must be one of {sorted(FILES)}, got {version!r}")
        self.version = version
        self.triplets: np.ndarray | None = None  # (n, 3) clip rows
        self.labels: np.ndarray | None = None
        self.votes: np.ndarray | None = None

    def build_table(self) -> Table:
        source = load(self.root, self.version)
        self.triplets, self.votes = source.triplets, source.votes
        self.labels = (self.votes[:, 1] > self.votes[:, 0]).astype(np.int64)
        return to_table(source)

    def _complete(self) -> np.ndarray:
        """``(n,)`` bool: the triplets whose three clips have cached features (a warning counts the others)."""
        have = set(self.split_rows("test").tolist())
        ok = np.array([all(int(r) in have for r in t) for t in self.triplets], dtype=bool)
        if not ok.all():
            warnings.warn(f"dimsim: {int((~ok).sum())} triplets have a clip without cached features; left out",
                          stacklevel=3)
        return ok

    def dataset(self, split: str, train: bool | None = None) -> Dataset:
        if split != "test":
            raise KeyError("Dim-Sim is an evaluation set: only the 'test' split exists")
        table = self.table
        ok = self._complete()
        return TripletDataset(self.cache, table, self.triplets[ok], self.labels[ok], self.votes[ok],
                              np.flatnonzero(ok), self.crop_frames)

    def dimsim_triplets(self, transform=None) -> DimSimTriplets:
        """The complete triplets as positions in their own clips: every cached clip once, in table order, its
        centre ``crop_frames`` through ``transform`` (default this module's; the MSD datamodule gives its
        z-score, so the clips are what its test clips are). What the Lee 2020 protocol scores on MSD."""
        table, rows = self.table, self.split_rows("test")
        position = np.full(len(table.ids), -1, dtype=np.int64)
        position[rows] = np.arange(len(rows))
        ok = self._complete()
        pos = position[self.triplets[ok]]
        clips = CropDataset(self.cache, table, rows, self.crop_frames, random_crop=False,
                            transform=self.transform if transform is None else transform)
        loader = DataLoader(clips, batch_size=self.batch_size, shuffle=False, num_workers=self.num_workers)
        return DimSimTriplets(anchor=pos[:, 0], song1=pos[:, 1], song2=pos[:, 2], song1_vote=self.votes[ok, 0],
                              song2_vote=self.votes[ok, 1], clips=loader)

    def val_dataloader(self):
        return self._loader("test")


class TripletDataset(Dataset):
    def __init__(self, cache, table, triplets, labels, votes, rows, crop):
        self.cache, self.table, self.triplets, self.labels, self.votes = cache, table, triplets, labels, votes
        self.rows, self.crop = rows, crop

    def __len__(self) -> int:
        return len(self.triplets)

    def __getitem__(self, i: int) -> dict:
        xs = []
        for r in self.triplets[i]:
            a = np.array(self.cache.load(self.table.ids[int(r)]), dtype=np.float32)
            if self.crop is not None:
                a = a[: self.crop]
                if len(a) < self.crop:
                    a = np.concatenate([a, np.zeros((self.crop - len(a), a.shape[1]), np.float32)])
            xs.append(a)
        return {"x": torch.from_numpy(np.stack(xs)), "label": torch.tensor(int(self.labels[i])),
                "votes": torch.from_numpy(self.votes[i].astype(np.float32)), "track": torch.tensor(int(self.rows[i]))}


def clip_items(root: Path, audio_root: Path, versions=("clean", "raw"), layout: str = "auto") -> list[AudioItem]:
    """One :class:`AudioItem` per distinct clip of the CSVs present (3 s cut from the MSD preview; the 7digital
    layout when :func:`mirbench.data.sources.msd_lastfm.id_maps_root` finds the id pickles, else ``<MSD id>.<ext>``)."""
    clips = {}
    for v in versions:
        if (root / FILES[v]).is_file():
            for t in read_triplets(root / FILES[v])[0]:
                for c in t:
                    clips[c.clip_id] = c
    if not clips:
        raise SystemExit(f"no Dim-Sim CSV ({', '.join(FILES.values())}) under {root}")
    paths = audio_paths(sorted({c.track for c in clips.values()}), id_maps_root(root), audio_root, layout)
    return [AudioItem(cid, str(paths.get(c.track, missing_audio(c.track, audio_root))),
                      c.offset, c.duration) for cid, c in sorted(clips.items())]


def prepare(args):
    """``mirbench prepare dimsim --root DIR --audio-root MSD_AUDIO``: log-mels of every 3-s clip."""
    root = dataset_dir("dimsim", args.root)
    audio_root = Path(args.audio_root) if getattr(args, "audio_root", None) else root / "audio"
    return prepare_items("dimsim", clip_items(root, audio_root), args, "logmel_lee2020")



def verify(root: str | os.PathLike) -> list[str]:
    """Problems of a Dim-Sim copy: both CSVs present with the published triplet counts."""
    root = Path(root)
    problems = []
    for version, name in FILES.items():
        if not (root / name).is_file():
            problems.append(f"missing: {name}")
            continue
        n = len(read_triplets(root / name)[0])
        if n != PUBLISHED_ROWS[version]:
            problems.append(f"{name}: {n} triplets, published {PUBLISHED_ROWS[version]}")
    return problems
