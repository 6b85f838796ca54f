"""Echo Nest Taste Profile: (user, song, play count) triplets on MSD songs; item-kNN recommendation.

Card (full text in ``datasets/echonest/README.md``):
- What: McFee, Bertin-Mahieux, Ellis & Lanckriet (2012), "The Million Song Dataset Challenge";
  ``train_triplets.txt`` (tab-separated user, song id, play count; 48,373,586 rows, 1,019,318
  users, 384,546 songs). Songs map to MSD tracks through ``unique_tracks.txt``
  (``track<SEP>song<SEP>artist<SEP>title``); ``sid_mismatches.txt`` lists song-track pairs the
  Echo Nest matched wrongly (lines ``ERROR: <SONG TRACK> ...``), which are dropped.
- Source: http://millionsongdataset.com/tasteprofile/ ; licence: free for research.
- Protocol (Kim & Liem 2022, following Liang et al. 2018): keep users with >= 5 items (items >= 0,
  one pass), keep tracks with audio, hold out 10 % validation and 10 % test users, hide 30 % of
  each held-out user's items; nDCG@500 of item-kNN on the representations.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
from scipy import sparse as sp

from mirbench.audio.prepare import AudioItem
from mirbench.data.sources.base import Interactions, Source
from mirbench.data.sources.msd_lastfm import audio_paths, id_maps_root, missing_audio

DATASET_ID = "echonest"
DATASET_NAME = "Echo Nest Taste Profile play counts on MSD tracks"
DATASET_LICENSE = "free for research"
DATASET_URL = "http://millionsongdataset.com/tasteprofile/"
DATASET_LAYOUT = "train_triplets.txt, unique_tracks.txt, sid_mismatches.txt (+ MSD previews)"
DATAMODULE = "mirbench.data.echonest.EchonestDataModule"
DEFAULT_FEATURE = "frames_kim2022"
NEEDS_AUDIO_ROOT = True

TRIPLETS, TRACKS, MISMATCHES = "train_triplets.txt", "unique_tracks.txt", "sid_mismatches.txt"
_MISMATCH = re.compile(r"<(SO[A-Z0-9]{16}) (TR[A-Z0-9]{16})>")


def read_song_to_track(path: str | os.PathLike) -> dict[str, str]:
    """``unique_tracks.txt`` -> song id -> track id (the first track listed for a song)."""
    out: dict[str, str] = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            parts = line.rstrip("\n").split("<SEP>")
            if len(parts) >= 2:
                out.setdefault(parts[1], parts[0])
    return out


def read_mismatches(path: str | os.PathLike) -> set[str]:
    """Song ids of ``sid_mismatches.txt`` (song-track pairs known to be wrong)."""
    with open(path, encoding="utf-8", errors="replace") as f:
        return {m.group(1) for line in f for m in [_MISMATCH.search(line)] if m}


def load_interactions(triplets: str | os.PathLike, song_to_track: dict[str, str], drop_songs: set[str] = frozenset()) -> Interactions:
    """Read ``train_triplets.txt`` (user \\t song \\t count) into a users x tracks matrix.

    Songs in ``drop_songs`` or without a track are left out; counts of songs mapping to the same
    track are summed.
    """
    import pandas as pd

    df = pd.read_csv(triplets, sep="\t", header=None, names=["user", "song", "count"],
                     dtype={"user": str, "song": str, "count": np.int64}, engine="c")
    df = df[~df["song"].isin(drop_songs)]
    df["track"] = df["song"].map(song_to_track)
    df = df.dropna(subset=["track"])
    users, u = np.unique(df["user"].to_numpy(), return_inverse=True)
    items, i = np.unique(df["track"].to_numpy(), return_inverse=True)
    mat = sp.csr_matrix((df["count"].to_numpy(), (u, i)), shape=(len(users), len(items)))
    mat.sum_duplicates()
    return Interactions(mat, users.tolist(), items.tolist())


def liang_filter(x: Interactions, min_user_items: int = 5, min_item_users: int = 0, n_iter: int = 1) -> Interactions:
    """Frequency filter of Liang et al. (2018) as run by Kim & Liem: items first, then users, ``n_iter`` passes."""
    mat, users, items = x.matrix.tocsr(), np.asarray(x.users), np.asarray(x.items)
    for _ in range(n_iter):
        keep_items = np.asarray((mat > 0).sum(0)).ravel() >= min_item_users
        mat, items = mat[:, keep_items], items[keep_items]
        keep_users = np.asarray((mat > 0).sum(1)).ravel() >= min_user_items
        mat, users = mat[keep_users], users[keep_users]
    return Interactions(mat.tocsr(), users.tolist(), items.tolist())


def keep_items(x: Interactions, items: set[str]) -> Interactions:
    """Restrict to the given tracks (e.g. those with audio features); users left empty are dropped."""
    cols = np.array([t in items for t in x.items], dtype=bool)
    mat = x.matrix[:, cols]
    rows = np.asarray(mat.getnnz(axis=1)) > 0
    return Interactions(mat[rows].tocsr(), list(np.asarray(x.users)[rows]), list(np.asarray(x.items)[cols]))


def interactions(root: Path, min_user_items: int = 5, min_item_users: int = 0, n_iter: int = 1) -> Interactions:
    """The filtered interactions of a Taste Profile copy under ``root``."""
    drop = read_mismatches(root / MISMATCHES) if (root / MISMATCHES).is_file() else set()
    x = load_interactions(root / TRIPLETS, read_song_to_track(root / TRACKS), drop)
    return liang_filter(x, min_user_items, min_item_users, n_iter)


def item_audio(items: list[str], root: Path, audio_root: Path) -> list[AudioItem]:
    """The MSD preview of each item under ``audio_root`` (id pickles found by :func:`id_maps_root`)."""
    paths = audio_paths(items, id_maps_root(root), audio_root)
    return [AudioItem(t, str(paths.get(t, missing_audio(t, audio_root)))) for t in items]


def load(root: str | os.PathLike, min_user_items: int = 5, items: set[str] | None = None,
         audio_root: str | os.PathLike | None = None) -> Source:
    """The filtered interactions (:func:`interactions`), restricted to ``items`` when given (e.g. the tracks
    with cached features), as ``plays``; ids = the items (MSD tracks), one split ``"all"`` (users are split,
    not items). ``audio`` when ``audio_root`` (default ``<root>/audio``) is a folder."""
    root = Path(root)
    audio_root = Path(audio_root) if audio_root else root / "audio"
    x = interactions(root, min_user_items)
    x = keep_items(x, set(x.items) if items is None else items)
    return Source(dataset=DATASET_ID, ids=list(x.items), splits={"all": np.arange(len(x.items))}, plays=x,
                  audio=item_audio(x.items, root, audio_root) if audio_root.is_dir() else None)
