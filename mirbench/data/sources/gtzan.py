"""GTZAN genre collection: 1,000 excerpts of 30 s, 10 genres x 100, 22,050 Hz mono 16-bit.

Card (full text in ``datasets/gtzan/README.md``):
- What: Tzanetakis & Cook (2002), "Musical genre classification of audio signals", IEEE TSAP.
- Layout: ``genres/<genre>/<genre>.000NN.au`` (original release; ``.wav`` conversions also read).
- Source: http://opihi.cs.uvic.ca/sound/genres.tar.gz (now offline; archive mirrors), 1.2 GB.
- Licence: none stated; research use. Known faults (repetitions, mislabels, distortions): Sturm 2013.
- Split: the fault-filtered artist split of Kereliuk et al. (2015), 443/197/290 tracks, as
  ``GTZAN_split/{train,valid,test}_filtered.txt`` of jongpillee/music_dataset_split (MIT); used by
  Kim & Liem (2022) for the genre probe.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from mirbench.audio.prepare import AudioItem
from mirbench.data.sources.base import Source
from mirbench.data.splits import gtzan_split, present_only

DATASET_ID = "gtzan"
DATASET_NAME = "GTZAN genres (fault-filtered split)"
DATASET_LICENSE = "none stated; research use"
DATASET_URL = "http://opihi.cs.uvic.ca/sound/genres.tar.gz"  # the archive; its checksum is in mirbench.data.download
DATASET_LAYOUT = "genres/<genre>/<genre>.000NN.au, GTZAN_split/{train,valid,test}_filtered.txt"
DATAMODULE = "mirbench.data.gtzan.GTZANDataModule"
DEFAULT_FEATURE = "frames_kim2022"
NEEDS_AUDIO_ROOT = False

GENRES = ("blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock")
AUDIO_EXTS = (".au", ".wav", ".flac")
SPLIT_KINDS = ("filtered", "stratified")


def genres_dir(root: str | os.PathLike) -> Path:
    """``root/genres`` or ``root`` itself when it already holds the genre folders."""
    root = Path(root)
    return root / "genres" if (root / "genres").is_dir() else root


def find_tracks(root: str | os.PathLike) -> dict[str, Path]:
    """``{track_id: path}`` of the excerpts on disk (``blues.00000`` -> ``genres/blues/blues.00000.au``).

    Files that do not follow the ``<genre>/<genre>.000NN.<ext>`` naming are ignored; where a track
    exists in several formats the first of ``.au``, ``.wav``, ``.flac`` is taken.
    """
    base = genres_dir(root)
    found: dict[str, Path] = {}
    for genre in GENRES:
        for ext in AUDIO_EXTS:
            for p in sorted((base / genre).glob(f"{genre}.000[0-9][0-9]{ext}")):
                found.setdefault(p.name[: -len(ext)], p)
    return dict(sorted(found.items()))


def genre_of(track_id: str) -> str:
    return track_id.split(".")[0]


def stratified_split(track_ids: list[str], fractions=(0.5, 0.25, 0.25), seed: int = 0) -> dict[str, list[str]]:
    """A seeded per-genre split (for subsets such as gtzan_mini, which the published split barely covers)."""
    rng = np.random.default_rng(seed)
    out = {"train": [], "valid": [], "test": []}
    for genre in GENRES:
        ids = [t for t in track_ids if genre_of(t) == genre]
        ids = [ids[i] for i in rng.permutation(len(ids))]
        n_tr = int(round(fractions[0] * len(ids)))
        n_va = int(round(fractions[1] * len(ids)))
        out["train"] += ids[:n_tr]
        out["valid"] += ids[n_tr : n_tr + n_va]
        out["test"] += ids[n_tr + n_va :]
    return out


def load(root: str | os.PathLike, split: str = "filtered", split_dir: str | os.PathLike | None = None,
         seed: int = 0) -> Source:
    """The excerpts on disk with their genre (``labels`` index :data:`GENRES`), sorted by id.

    ``split="filtered"``: the fault-filtered lists in ``split_dir`` (default ``<root>/GTZAN_split``); listed
    tracks absent on disk are left out with a warning. ``split="stratified"``: :func:`stratified_split`.
    """
    if split not in SPLIT_KINDS:
        raise ValueError(f"split must be 'filtered' or 'stratified', got {split!r}")
    root = Path(root)
    split_dir = Path(split_dir) if split_dir else root / "GTZAN_split"
    tracks = find_tracks(root)
    if not tracks:
        raise FileNotFoundError(f"no GTZAN excerpts (genres/<genre>/<genre>.000NN.au|wav) under {root}")
    if split == "filtered":
        if not (split_dir / "train_filtered.txt").is_file():
            raise FileNotFoundError(
                f"GTZAN split lists not found in {split_dir}: get GTZAN_split/ from "
                "github.com/jongpillee/music_dataset_split and pass split_dir, or use split='stratified'"
            )
        lists = present_only(gtzan_split(split_dir), tracks, f"GTZAN split lists in {split_dir}", stacklevel=3)
    else:
        lists = stratified_split(list(tracks), seed=seed)
    ids = sorted({t for ts in lists.values() for t in ts} & set(tracks))
    row = {t: i for i, t in enumerate(ids)}
    return Source(
        dataset=DATASET_ID, ids=ids, splits={s: [row[t] for t in ts if t in row] for s, ts in lists.items()},
        labels=np.array([GENRES.index(genre_of(t)) for t in ids], dtype=np.int64), class_names=GENRES,
        audio=[AudioItem(t, str(tracks[t])) for t in ids])
