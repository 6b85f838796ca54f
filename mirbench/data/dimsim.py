"""Dim-Sim: human judgements of which of two 3-s MSD clips sounds more like an anchor clip.

Card (full text in ``datasets/dimsim/README.md``):
- What: Lee, Bryan, Salamon, Jin & Nam (ICASSP 2020), "Disentangled multidimensional metric learning
  for music similarity". 4,000 sampled triplets, 5-12 annotators each (39,440 raw annotations);
  the clean version keeps the 879 triplets with agreement >= 0.9.
- Files: Zenodo record 3889149, ``raw-dim-sim.csv`` and ``clean-dim-sim.csv`` (also JSON). Columns:
  triplet_id, anchor_id, anchor_start_seconds, anchor_start_samples, song1_id, song1_start_seconds,
  song1_start_samples, song2_id, song2_start_seconds, song2_start_samples, sampling_rate,
  clip_lengths_seconds, clip_lengths_samples, song1_vote, song2_vote (raw: vote counts; clean: 0/1).
  IDs are MSD track ids; the audio is the MSD 7digital previews (not distributed; see msd_lastfm).
- Licence: CC BY-NC 4.0.
- Protocol: triplet accuracy, the fraction of triplets where the song with more votes is closer to
  the anchor in the embedding (ties in distance count as wrong; ties in raw votes are dropped).
"""

from __future__ import annotations

import csv
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from mirbench.audio.prepare import AudioItem
from mirbench.data.featuredm import FeatureDataModule, Table, prepare_items
from mirbench.data.msd_lastfm import audio_paths
from mirbench.paths import dataset_dir

# Card (mirbench.data.registry discovers the data set from these)
DATASET_ID = "dimsim"
DATASET_NAME = "Dim-Sim triplets on 3-s MSD clips (Lee et al. 2020)"
DATASET_LICENSE = "CC BY-NC 4.0"
DATASET_URL = "https://zenodo.org/record/3889149"
DATASET_LAYOUT = "raw-dim-sim.csv, clean-dim-sim.csv (+ the MSD 7digital previews under --audio-root)"
DATAMODULE = "DimSimDataModule"
DEFAULT_FEATURE = "logmel_lee2020"
NEEDS_AUDIO_ROOT = True

FILES = {"clean": "clean-dim-sim.csv", "raw": "raw-dim-sim.csv"}
POSITIONS = ("anchor", "song1", "song2")
COLUMNS = (
    "triplet_id", "anchor_id", "anchor_start_seconds", "anchor_start_samples", "song1_id", "song1_start_seconds",
    "song1_start_samples", "song2_id", "song2_start_seconds", "song2_start_samples", "sampling_rate",
    "clip_lengths_seconds", "clip_lengths_samples", "song1_vote", "song2_vote",
)


@dataclass(frozen=True)
class Clip:
    track: str  # MSD track id
    start_samples: int
    sampling_rate: int
    length_samples: int

    @property
    def clip_id(self) -> str:
        return f"{self.track}@{self.start_samples}"

    @property
    def offset(self) -> float:
        return self.start_samples / self.sampling_rate

    @property
    def duration(self) -> float:
        return self.length_samples / self.sampling_rate


def read_triplets(path: str | os.PathLike) -> tuple[list[tuple[Clip, Clip, Clip]], np.ndarray, list[str]]:
    """A Dim-Sim CSV -> ``(triplets of clips, votes (n, 2), triplet ids)``."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = set(COLUMNS) - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path} lacks Dim-Sim columns {sorted(missing)}")
        triplets, votes, ids = [], [], []
        for r in reader:
            sr, n = int(float(r["sampling_rate"])), int(float(r["clip_lengths_samples"]))
            triplets.append(tuple(Clip(r[f"{p}_id"], int(float(r[f"{p}_start_samples"])), sr, n) for p in POSITIONS))
            votes.append((float(r["song1_vote"]), float(r["song2_vote"])))
            ids.append(r["triplet_id"])
    return triplets, np.asarray(votes, dtype=np.float64).reshape(-1, 2), ids


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
        triplets, votes, _ = read_triplets(self.root / FILES[self.version])
        keep = votes[:, 0] != votes[:, 1]
        if (~keep).any():
            warnings.warn(f"dimsim/{self.version}: {int((~keep).sum())} triplets with tied votes are left out", stacklevel=2)
        clips = sorted({c.clip_id: c for t in triplets for c in t}.items())
        row = {cid: i for i, (cid, _) in enumerate(clips)}
        self.triplets = np.array([[row[c.clip_id] for c in t] for t, k in zip(triplets, keep) if k], dtype=np.int64)
        self.votes = votes[keep]
        self.labels = (self.votes[:, 1] > self.votes[:, 0]).astype(np.int64)
        return Table(ids=[cid for cid, _ in clips], splits={"test": np.arange(len(clips))})

    def dataset(self, split: str, train: bool | None = None) -> Dataset:
        if split != "test":
            raise KeyError("Dim-Sim is an evaluation set: only the 'test' split exists")
        table = self.table
        have = set(self.split_rows("test").tolist())
        ok = np.array([all(int(r) in have for r in t) for t in self.triplets], dtype=bool)
        if not ok.all():
            warnings.warn(f"dimsim: {int((~ok).sum())} triplets have a clip without cached features; left out", stacklevel=2)
        return TripletDataset(self.cache, table, self.triplets[ok], self.labels[ok], self.votes[ok],
                              np.flatnonzero(ok), self.crop_frames)

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
    """One :class:`AudioItem` per distinct clip of the CSVs present (3 s cut from the MSD preview)."""
    clips = {}
    for v in versions:
        if (root / FILES[v]).is_file():
            for t in read_triplets(root / FILES[v])[0]:
                for c in t:
                    clips[c.clip_id] = c
    if not clips:
        raise SystemExit(f"no Dim-Sim CSV ({', '.join(FILES.values())}) under {root}")
    paths = audio_paths(sorted({c.track for c in clips.values()}), root, audio_root, layout)
    return [AudioItem(cid, str(paths.get(c.track, f"(no audio file for {c.track} under {audio_root})")),
                      c.offset, c.duration) for cid, c in sorted(clips.items())]


def prepare(args):
    """``mirbench prepare dimsim --root DIR --audio-root MSD_AUDIO``: log-mels of every 3-s clip."""
    root = dataset_dir("dimsim", args.root)
    audio_root = Path(args.audio_root) if getattr(args, "audio_root", None) else root / "audio"
    return prepare_items("dimsim", clip_items(root, audio_root), args, "logmel_lee2020")


PUBLISHED_ROWS = {"clean": 879, "raw": 4000}


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
