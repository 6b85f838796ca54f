"""The embedded default corpus: 3-s excerpts of music21 scores rendered to audio, read from its build folder.

Card (full text in :mod:`mirbench.data.corpus.datamodule`): multi-label tags in four categories (genre,
mood, instrument, era) per piece, several excerpts per piece (clip -> track), piece-disjoint splits and
Dim-Sim-style triplets with simulated votes. Built (not downloaded) by :mod:`mirbench.data.corpus.build`
into ``$MIRBENCH_DATA/corpus/<build>``: ``clips.csv``, ``pieces.csv``, ``tags.csv``, ``tag_matrix.npy``,
``dimsim_{clean,raw}.csv`` and the feature arrays.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from mirbench.data.corpus.dimsim import track_id
from mirbench.data.corpus.tags import CATEGORIES
from mirbench.data.sources.base import SPLITS, Source

DATASET_ID = "corpus"
DATASET_NAME = "embedded corpus: music21 scores rendered to 3-s clips with four tag categories"
DATASET_LICENSE = "built here: music21 corpus (BSD; scores public domain) + TimGM6mb soundfont (GPL-2)"
DATASET_URL = "https://web.mit.edu/music21/"  # the corpus the clips are rendered from
DATASET_LAYOUT = "clips.csv, pieces.csv, tags.csv, tag_matrix.npy, dimsim_{clean,raw}.csv, {logmel,frames52,audio}.npy"
DATAMODULE = "mirbench.data.corpus.datamodule.CorpusDataModule"
DEFAULT_FEATURE = "logmel"
NEEDS_AUDIO_ROOT = False

DIMSIM_FILES = {"clean": "dimsim_clean.csv", "raw": "dimsim_raw.csv"}


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def load(build_dir: str | os.PathLike, dimsim: str = "clean") -> Source:
    """A build folder -> its clips (ids ``clip_id``, splits from ``clips.csv``), the pieces they are cut
    from (``tracks`` = piece ids, row = the build's track index), each clip's piece tags, and the Dim-Sim
    triplets of ``dimsim_<dimsim>.csv`` as clip rows (clips matched by track and start to the millisecond)."""
    build = Path(build_dir)
    clips = _rows(build / "clips.csv")
    pieces = [r["piece_id"] for r in _rows(build / "pieces.csv")]
    tags = _rows(build / "tags.csv")
    track_tags = np.load(build / "tag_matrix.npy")
    clip_track = np.array([int(c["track"]) for c in clips], dtype=np.int64)
    split = np.array([c["split"] for c in clips])
    row = {(track_id(int(c["track"])), round(float(c["start_seconds"]), 3)): i for i, c in enumerate(clips)}
    judged = _rows(build / DIMSIM_FILES[dimsim])
    triplets = np.array([[row[(r[f"{k}_id"], round(float(r[f"{k}_start_seconds"]), 3))] for k in ("anchor", "song1", "song2")]
                         for r in judged], dtype=np.int64).reshape(-1, 3)
    votes = np.array([(float(r["song1_vote"]), float(r["song2_vote"])) for r in judged], dtype=np.float64).reshape(-1, 2)
    return Source(dataset=DATASET_ID, ids=[c["clip_id"] for c in clips],
                  splits={s: np.flatnonzero(split == s) for s in SPLITS}, tags=track_tags[clip_track],
                  tag_names=tuple(t["tag"] for t in tags), tag_categories=tuple(t["category"] for t in tags),
                  categories=CATEGORIES, tracks=tuple(pieces), clip_track=clip_track, triplets=triplets, votes=votes)
