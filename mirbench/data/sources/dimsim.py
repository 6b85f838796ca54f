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

from mirbench.data.sources.base import Source

DATASET_ID = "dimsim"
DATASET_NAME = "Dim-Sim triplets on 3-s MSD clips (Lee et al. 2020)"
DATASET_LICENSE = "CC BY-NC 4.0"
DATASET_URL = "https://zenodo.org/record/3889149"
DATASET_LAYOUT = "raw-dim-sim.csv, clean-dim-sim.csv (+ the MSD 7digital previews under --audio-root)"
DATAMODULE = "mirbench.data.dimsim.DimSimDataModule"
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


PUBLISHED_ROWS = {"clean": 879, "raw": 4000}


def load(root: str | os.PathLike, version: str = "clean") -> Source:
    """The distinct clips of one CSV (ids ``<track>@<start sample>``, sorted; all in ``test``), the MSD track
    of each, and the triplets with untied votes as clip rows (ties are left out with a warning)."""
    if version not in FILES:
        raise ValueError(f"version must be one of {sorted(FILES)}, got {version!r}")
    triplets, votes, _ = read_triplets(Path(root) / FILES[version])
    keep = votes[:, 0] != votes[:, 1]
    if (~keep).any():
        warnings.warn(f"dimsim/{version}: {int((~keep).sum())} triplets with tied votes are left out", stacklevel=2)
    clips = sorted({c.clip_id: c for t in triplets for c in t}.items())
    row = {cid: i for i, (cid, _) in enumerate(clips)}
    tracks = sorted({c.track for _, c in clips})
    track_row = {t: i for i, t in enumerate(tracks)}
    return Source(dataset=DATASET_ID, ids=[cid for cid, _ in clips], splits={"test": np.arange(len(clips))},
                  tracks=tuple(tracks), clip_track=np.array([track_row[c.track] for _, c in clips], dtype=np.int64),
                  triplets=np.array([[row[c.clip_id] for c in t] for t, k in zip(triplets, keep) if k],
                                    dtype=np.int64).reshape(-1, 3),
                  votes=votes[keep])
