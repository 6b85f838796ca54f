"""Million Song Dataset with Last.fm top-50 tags, the split of Lee et al. (ISMIR 2020).

Card (full text in ``datasets/msd_lastfm/README.md``):
- What: 241,889 MSD tracks (30-s 7digital previews) with >= 1 of the 50 most frequent Last.fm tags;
  tags grouped into 28 genre, 12 mood, 5 instrument and 5 era tags (Lee et al. 2020).
- Split: jongpillee/music_dataset_split ``MSD_split`` (MIT), derived from keunwoochoi/MSD_split_for_tagging:
  ``filtered_list_train.cP`` (first 201,680 train, remaining 11,774 valid), ``filtered_list_test.cP``
  (28,435), Python-2 pickles; tag vectors ``msd_id_to_tag_vector.cP`` or the Last.fm dataset's
  ``lastfm_tags.db`` (SQLite) with ``50tagList.txt``.
- Audio: the 7digital previews, not downloadable any more; layout either ``<audio_root>/<path>`` via
  ``MSD_id_to_7D_id.pkl`` + ``7D_id_to_path.pkl`` (paths like ``8/9/8947470.clip.mp3``) or
  ``<audio_root>/**/<MSD id>.<ext>``.
- Licence: MSD metadata and the Last.fm dataset are free for research (labrosa.ee.columbia.edu/millionsong);
  the previews are 7digital's.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import numpy as np

from mirbench.audio.prepare import AudioItem
from mirbench.data.base import LEE2020_CATEGORIES
from mirbench.data.sources.base import Source, concat_splits
from mirbench.data.splits import MSD_TRAIN_SIZE, load_py2_pickle, msd_split, read_lines
from mirbench.paths import dataset_dir

DATASET_ID = "msd_lastfm"
DATASET_NAME = "Million Song Dataset / Last.fm top-50 tags (Lee et al. 2020 split)"
DATASET_LICENSE = "MSD metadata and Last.fm tags free for research"
DATASET_URL = "http://labrosa.ee.columbia.edu/millionsong/"
DATASET_LAYOUT = "filtered_list_{train,test}.cP, 50tagList.txt, lastfm_tags.db (+ 7digital previews under --audio-root)"
DATAMODULE = "mirbench.data.msd_lastfm.MSDLastfmDataModule"
DEFAULT_FEATURE = "logmel_lee2020"
NEEDS_AUDIO_ROOT = True

CATEGORIES = LEE2020_CATEGORIES
# Category of each of the 50 tags. Lee et al. give only the counts (28 genre, 12 mood, 5 instrument,
# 5 era); this assignment is ours [I], the one partition of the list that has those counts with
# decades as era and vocalist/instrumental/guitar tags as instrument.
ERA_TAGS = ("00s", "90s", "80s", "70s", "60s")
INSTRUMENT_TAGS = ("female vocalists", "male vocalists", "female vocalist", "instrumental", "guitar")
MOOD_TAGS = ("beautiful", "chillout", "Mellow", "chill", "oldies", "acoustic", "party", "easy listening",
             "sexy", "catchy", "sad", "happy")
AUDIO_EXTS = (".mp3", ".wav", ".flac", ".ogg", ".au")


def tag_category(tag: str) -> str:
    if tag in ERA_TAGS:
        return "era"
    if tag in INSTRUMENT_TAGS:
        return "instrument"
    if tag in MOOD_TAGS:
        return "mood"
    return "genre"


def split_file(root: Path, name: str) -> Path:
    """``root/MSD_split/<name>`` or ``root/<name>``."""
    for cand in (root / "MSD_split" / name, root / name):
        if cand.is_file():
            return cand
    return root / "MSD_split" / name


def tags_from_pickle(path: str | os.PathLike, ids: list[str], n_tags: int = 50) -> np.ndarray:
    """``msd_id_to_tag_vector.cP`` (dict MSD id -> 50-d vector) -> ``(len(ids), 50)`` uint8."""
    table = load_py2_pickle(path)
    missing = [i for i in ids if i not in table]
    if missing:
        raise KeyError(f"{len(missing)} split tracks have no tag vector in {path}, e.g. {missing[:3]}")
    out = np.stack([np.asarray(table[i], dtype=np.float64).reshape(-1) for i in ids])
    if out.shape[1] != n_tags:
        raise ValueError(f"{path}: tag vectors have {out.shape[1]} entries, expected {n_tags}")
    return (out > 0).astype(np.uint8)


def tags_from_db(path: str | os.PathLike, ids: list[str], tags: list[str], min_count: float = 0.0) -> np.ndarray:
    """Multi-hot from the Last.fm dataset's ``lastfm_tags.db``: tag j is on if (track, tag) has val >= min_count.

    Schema (MSD's ``demo_tags_db.py``): ``tids(tid)``, ``tags(tag)``, ``tid_tag(tid, tag, val)`` with
    ``tid_tag.tid``/``tid_tag.tag`` the ROWIDs of ``tids``/``tags``. Tag names match case-sensitively.
    """
    row = {t: i for i, t in enumerate(ids)}
    col = {t: j for j, t in enumerate(tags)}
    out = np.zeros((len(ids), len(tags)), dtype=np.uint8)
    con = sqlite3.connect(f"file:{Path(path)}?mode=ro", uri=True)
    try:
        q = ",".join("?" * len(tags))
        cur = con.execute(
            "SELECT tids.tid, tags.tag, tid_tag.val FROM tid_tag JOIN tids ON tids.ROWID = tid_tag.tid "
            f"JOIN tags ON tags.ROWID = tid_tag.tag WHERE tags.tag IN ({q})",
            list(tags),
        )
        for tid, tag, val in cur:
            if tid in row and val >= min_count:
                out[row[tid], col[tag]] = 1
    finally:
        con.close()
    return out


def id_maps_root(root: Path) -> Path:
    """Where the MSD id -> 7digital path pickles of the previews are: ``root`` (e.g. a Taste Profile or Dim-Sim
    copy) when it has them, else the MSD copy (``$MIRBENCH_DATA/msd_lastfm``); without them previews are
    ``<MSD id>.<ext>``."""
    for cand in (Path(root), dataset_dir("msd_lastfm", None)):
        if split_file(cand, "MSD_id_to_7D_id.pkl").is_file():
            return cand
    return Path(root)


def audio_paths(ids: list[str], root: Path, audio_root: Path, layout: str = "auto") -> dict[str, Path]:
    """Audio file of each MSD id that has one: 7digital layout via the two pickles, or ``<MSD id>.<ext>``."""
    to7d, topath = split_file(root, "MSD_id_to_7D_id.pkl"), split_file(root, "7D_id_to_path.pkl")
    if layout == "auto":
        layout = "7digital" if to7d.is_file() and topath.is_file() else "by_id"
    if layout == "7digital":
        msd_to_7d, d7_to_path = load_py2_pickle(to7d), load_py2_pickle(topath)
        out = {}
        for i in ids:
            d7 = msd_to_7d.get(i)
            if d7 is not None and d7 in d7_to_path:
                out[i] = audio_root / str(d7_to_path[d7])
        return out
    if layout != "by_id":
        raise ValueError(f"layout must be auto, 7digital or by_id, got {layout!r}")
    wanted, out = set(ids), {}
    for dirpath, _, files in os.walk(audio_root):
        for name in files:
            stem, ext = os.path.splitext(name)
            if stem in wanted and ext.lower() in AUDIO_EXTS:
                out.setdefault(stem, Path(dirpath) / name)
    return out


def missing_audio(track: str, audio_root: Path) -> str:
    """The path an :class:`AudioItem` of a track without a file carries (``prepare`` reports it)."""
    return f"(no audio file for {track} under {audio_root})"


def load(root: str | os.PathLike, audio_root: str | os.PathLike | None = None, layout: str = "auto",
         tag_source: str = "auto", train_size: int = MSD_TRAIN_SIZE, with_audio: bool = True) -> Source:
    """The split tracks (train, valid, test), their top-50 tags (``tag_source``: ``pickle`` =
    ``msd_id_to_tag_vector.cP``, ``db`` = ``lastfm_tags.db``, ``none``; ``auto`` the first present) with
    categories, and their previews under ``audio_root`` (default ``<root>/audio``) when ``with_audio``.
    Without ``filtered_list_train.cP`` only the test split exists."""
    root = Path(root)
    audio_root = Path(audio_root) if audio_root else root / "audio"
    train = split_file(root, "filtered_list_train.cP")
    lists = msd_split(train if train.is_file() else None, split_file(root, "filtered_list_test.cP"), train_size)
    ids, splits = concat_splits(lists)
    tags = read_lines(split_file(root, "50tagList.txt"))
    vec, db = split_file(root, "msd_id_to_tag_vector.cP"), root / "lastfm_tags.db"
    if tag_source == "auto":
        tag_source = "pickle" if vec.is_file() else ("db" if db.is_file() else "none")
    matrix = {"pickle": lambda: tags_from_pickle(vec, ids, len(tags)), "db": lambda: tags_from_db(db, ids, tags),
              "none": lambda: None}[tag_source]()
    audio = None
    if with_audio:
        paths = audio_paths(ids, root, audio_root, layout)
        audio = [AudioItem(i, str(paths.get(i, missing_audio(i, audio_root)))) for i in ids]
    return Source(dataset=DATASET_ID, ids=ids, splits=splits, tags=matrix, tag_names=tuple(tags),
                  tag_categories=tuple(tag_category(t) for t in tags), categories=CATEGORIES, audio=audio)
