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

from mirbench.audio.features import normalize_lee2020
from mirbench.audio.prepare import AudioItem
from mirbench.data.base import LEE2020_CATEGORIES
from mirbench.data.featuredm import FeatureDataModule, Table, prepare_items
from mirbench.data.splits import MSD_TRAIN_SIZE, load_py2_pickle, msd_split, read_lines
from mirbench.paths import dataset_dir

# Card (mirbench.data.registry discovers the data set from these)
DATASET_ID = "msd_lastfm"
DATASET_NAME = "Million Song Dataset / Last.fm top-50 tags (Lee et al. 2020 split)"
DATASET_LICENSE = "MSD metadata and Last.fm tags free for research"
DATASET_URL = "http://labrosa.ee.columbia.edu/millionsong/"
DATASET_LAYOUT = "filtered_list_{train,test}.cP, 50tagList.txt, lastfm_tags.db (+ 7digital previews under --audio-root)"
DATAMODULE = "MSDLastfmDataModule"
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


class MSDLastfmDataModule(FeatureDataModule):
    """MSD / Last.fm top-50 tags from cached features; ``tags`` = (50,) multi-hot in ``50tagList.txt`` order.

    ``root`` holds the ``MSD_split`` files (and optionally ``lastfm_tags.db``); audio is found under
    ``audio_root`` (default ``<root>/audio``). Without ``filtered_list_train.cP`` only the test split
    exists. ``train_size`` is the published 201,680 (smaller only for fixtures). ``normalize``: Lee et
    al.'s fixed z-score ``(x - 0.2) / 0.25`` of ``logmel_lee2020`` crops (docs/protocols.md#lee-input; other features
    are left as cached). Triplet sampling, track triplets and the reference split are
    :class:`FeatureDataModule`'s (``sampling``, ``track_triplets``, ``triplets_per_epoch``,
    ``reference_split``), over the tag categories of :func:`tag_category`.
    """

    dataset_id = "msd_lastfm"

    def __init__(self, root: str | None = None, audio_root: str | None = None, layout: str = "auto",
                 tag_source: str = "auto", train_size: int = MSD_TRAIN_SIZE, feature: str = "logmel_lee2020",
                 normalize: bool = True, **kwargs):
        super().__init__(root=root, feature=feature, **kwargs)
        self.audio_root = Path(audio_root) if audio_root else self.root / "audio"
        self.layout, self.tag_source, self.train_size = layout, tag_source, train_size
        self.normalize = bool(normalize)

    @property
    def transform(self):
        return normalize_lee2020 if self.normalize and self.feature == "logmel_lee2020" else super().transform

    @property
    def tag_names(self) -> list[str]:
        return read_lines(split_file(self.root, "50tagList.txt"))

    def build_table(self) -> Table:
        return build_table(self.root, self.audio_root, self.layout, self.tag_source, self.train_size)

    def info_fields(self) -> dict:
        tags = self.tag_names
        return {"tag_names": tuple(tags), "tag_categories": tuple(tag_category(t) for t in tags),
                "categories": CATEGORIES}


def build_table(root: Path, audio_root: Path, layout: str = "auto", tag_source: str = "auto",
                train_size: int = MSD_TRAIN_SIZE, with_audio: bool = True) -> Table:
    train = split_file(root, "filtered_list_train.cP")
    lists = msd_split(train if train.is_file() else None, split_file(root, "filtered_list_test.cP"), train_size)
    ids = [t for s in ("train", "valid", "test") for t in lists.get(s, [])]
    bounds, splits = 0, {}
    for s in ("train", "valid", "test"):
        if s in lists:
            splits[s] = np.arange(bounds, bounds + len(lists[s]))
            bounds += len(lists[s])
    tags = read_lines(split_file(root, "50tagList.txt"))
    vec, db = split_file(root, "msd_id_to_tag_vector.cP"), root / "lastfm_tags.db"
    if tag_source == "auto":
        tag_source = "pickle" if vec.is_file() else ("db" if db.is_file() else "none")
    matrix = {"pickle": lambda: tags_from_pickle(vec, ids, len(tags)), "db": lambda: tags_from_db(db, ids, tags),
              "none": lambda: None}[tag_source]()
    audio = []
    if with_audio:
        paths = audio_paths(ids, root, audio_root, layout)
        audio = [AudioItem(i, str(paths.get(i, f"(no audio file for {i} under {audio_root})"))) for i in ids]
    return Table(ids=ids, splits=splits, audio=audio, tags=matrix)


def prepare(args):
    """``mirbench prepare msd_lastfm --root DIR [--audio-root AUDIO]``: 3-s-ready log-mels of every split track."""
    root = dataset_dir("msd_lastfm", args.root)
    audio_root = Path(args.audio_root) if getattr(args, "audio_root", None) else root / "audio"
    ids = []
    for name in ("filtered_list_train.cP", "filtered_list_test.cP"):
        if split_file(root, name).is_file():
            ids += [str(t) for t in load_py2_pickle(split_file(root, name))]
    if not ids:
        raise SystemExit(f"no MSD split lists (MSD_split/filtered_list_*.cP) under {root}")
    paths = audio_paths(ids, root, audio_root)
    items = [AudioItem(i, str(paths.get(i, f"(no audio file for {i} under {audio_root})"))) for i in ids]
    return prepare_items("msd_lastfm", items, args, "logmel_lee2020")


def verify(root: str | os.PathLike, audio_root: str | os.PathLike | None = None) -> list[str]:
    """Problems of a full MSD/Last.fm copy: index files, split counts, tag vectors, audio of every track."""
    from mirbench.data.checksums import index_path, read_index, verify_index
    from mirbench.data.splits import MSD_TEST_SIZE, MSD_VALID_SIZE

    root = Path(root)
    problems = verify_index(root, read_index(index_path("msd_lastfm")))
    if problems:
        return problems
    audio_root = Path(audio_root) if audio_root else root / "audio"
    table = build_table(root, audio_root)
    sizes = {k: len(v) for k, v in table.splits.items()}
    want = {"train": MSD_TRAIN_SIZE, "valid": MSD_VALID_SIZE, "test": MSD_TEST_SIZE}
    if sizes != want:
        problems.append(f"split sizes {sizes}, published {want}")
    if table.tags is not None and (table.tags.sum(1) == 0).any():
        problems.append(f"{int((table.tags.sum(1) == 0).sum())} tracks have no top-50 tag")
    missing = [a.path for a in table.audio if not Path(a.path).is_file()]
    if missing:
        problems.append(f"{len(missing)} tracks without audio, e.g. {missing[:3]}")
    return problems
