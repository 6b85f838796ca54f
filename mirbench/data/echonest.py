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
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import sparse as sp

from mirbench.audio.prepare import AudioItem
from mirbench.data.featuredm import FeatureDataModule, Table, prepare_items
from mirbench.data.msd_lastfm import audio_paths, split_file
from mirbench.paths import dataset_dir

# Card (mirbench.data.registry discovers the data set from these)
DATASET_ID = "echonest"
DATASET_NAME = "Echo Nest Taste Profile play counts on MSD tracks"
DATASET_LICENSE = "free for research"
DATASET_URL = "http://millionsongdataset.com/tasteprofile/"
DATASET_LAYOUT = "train_triplets.txt, unique_tracks.txt, sid_mismatches.txt (+ MSD previews)"
DATAMODULE = "EchonestDataModule"
DEFAULT_FEATURE = "frames_kim2022"
NEEDS_AUDIO_ROOT = True

TRIPLETS, TRACKS, MISMATCHES = "train_triplets.txt", "unique_tracks.txt", "sid_mismatches.txt"
_MISMATCH = re.compile(r"<(SO[A-Z0-9]{16}) (TR[A-Z0-9]{16})>")


@dataclass
class Interactions:
    """Play counts ``matrix`` (users x items, CSR) with the user ids and MSD track ids of its rows/columns."""

    matrix: sp.csr_matrix
    users: list[str]
    items: list[str]


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


@dataclass
class UserSplit:
    """Held-out users: ``train`` users keep all items; valid/test users are split into a visible part
    (``*_fold_in``) and hidden items (``*_held_out``) to be recommended. Matrices are users x items."""

    train_users: np.ndarray
    valid_users: np.ndarray
    test_users: np.ndarray
    valid_fold_in: sp.csr_matrix
    valid_held_out: sp.csr_matrix
    test_fold_in: sp.csr_matrix
    test_held_out: sp.csr_matrix


def user_holdout_split(mat: sp.csr_matrix, valid_ratio: float = 0.1, test_ratio: float = 0.1,
                       visible_ratio: float = 0.7, seed: int = 0) -> UserSplit:
    """Kim & Liem's user hold-out (``_split_data``): each held-out user keeps max(1, int(0.7 n)) items visible."""
    rng = np.random.default_rng(seed)
    n_users = mat.shape[0]
    perm = rng.permutation(n_users)
    n_valid, n_test = max(int(n_users * valid_ratio), 1), max(int(n_users * test_ratio), 1)
    n_train = n_users - n_valid - n_test
    users = {"train": perm[:n_train], "valid": perm[n_train : n_train + n_valid], "test": perm[n_train + n_valid :]}
    parts = {}
    for split in ("valid", "test"):
        sub = mat[users[split]].tocsr()
        sub.sort_indices()
        counts = np.diff(sub.indptr)
        row = np.repeat(np.arange(sub.shape[0]), counts)
        order = np.lexsort((rng.random(sub.nnz), row))  # a random order of each row's items
        rank = np.empty(sub.nnz, dtype=np.int64)
        rank[order] = np.arange(sub.nnz) - sub.indptr[row[order]]
        n_visible = np.maximum((visible_ratio * counts).astype(np.int64), 1)
        visible = rank < n_visible[row]
        # copies: eliminate_zeros() rewrites index arrays in place
        fold = sp.csr_matrix((sub.data * visible, sub.indices.copy(), sub.indptr.copy()), shape=sub.shape)
        held = sp.csr_matrix((sub.data * ~visible, sub.indices.copy(), sub.indptr.copy()), shape=sub.shape)
        fold.eliminate_zeros()
        held.eliminate_zeros()
        parts[split] = (fold, held)
    return UserSplit(users["train"], users["valid"], users["test"], *parts["valid"], *parts["test"])


def id_maps_root(root: Path) -> Path:
    """Where the MSD id -> 7digital path pickles of the previews are: ``root`` (the Taste Profile copy) when it
    has them, else the MSD copy (``$MIRBENCH_DATA/msd_lastfm``); without them previews are ``<MSD id>.<ext>``."""
    for cand in (Path(root), dataset_dir("msd_lastfm", None)):
        if split_file(cand, "MSD_id_to_7D_id.pkl").is_file():
            return cand
    return Path(root)


def load(root: Path, min_user_items: int = 5, min_item_users: int = 0, n_iter: int = 1) -> Interactions:
    """The filtered interactions of a Taste Profile copy under ``root``."""
    drop = read_mismatches(root / MISMATCHES) if (root / MISMATCHES).is_file() else set()
    x = load_interactions(root / TRIPLETS, read_song_to_track(root / TRACKS), drop)
    return liang_filter(x, min_user_items, min_item_users, n_iter)


class EchonestDataModule(FeatureDataModule):
    """Taste Profile items (MSD tracks with cached features) and their play-count matrix.

    Items are not split (users are, by :func:`user_holdout_split`); the table's only split is
    ``"all"``. ``interactions`` is restricted to items with features, as Kim & Liem do. The items' MSD
    previews (the table's ``audio``, for methods that read waveforms) are looked up under ``audio_root``
    (default ``<root>/audio``; 7digital layout when :func:`id_maps_root` finds the two id pickles, else
    ``<MSD id>.<ext>``) when that folder exists.
    """

    dataset_id = "echonest"

    def __init__(self, root: str | None = None, min_user_items: int = 5, feature: str = "frames_kim2022",
                 audio_root: str | None = None, **kwargs):
        super().__init__(root=root, feature=feature, **kwargs)
        self.min_user_items = min_user_items
        self.audio_root = Path(audio_root) if audio_root else self.root / "audio"
        self._interactions: Interactions | None = None

    @property
    def interactions(self) -> Interactions:
        if self._interactions is None:
            x = load(self.root, self.min_user_items)
            have = set(self.cache.ids()) if self.cache is not None else set(x.items)
            self._interactions = keep_items(x, have)
        return self._interactions

    def build_table(self) -> Table:
        items = self.interactions.items
        audio = []
        if self.audio_root.is_dir():
            paths = audio_paths(items, id_maps_root(self.root), self.audio_root)
            audio = [AudioItem(t, str(paths.get(t, f"(no audio file for {t} under {self.audio_root})"))) for t in items]
        return Table(ids=list(items), splits={"all": np.arange(len(items))}, audio=audio)

    def user_split(self, seed: int = 0, **kwargs) -> UserSplit:
        return user_holdout_split(self.interactions.matrix, seed=seed, **kwargs)

    def train_dataloader(self):
        return self._loader("all")


def prepare(args):
    """``mirbench prepare echonest --root DIR --audio-root MSD_AUDIO``: features of every filtered item."""
    root = dataset_dir("echonest", args.root)
    audio_root = Path(args.audio_root) if getattr(args, "audio_root", None) else root / "audio"
    x = load(root)
    paths = audio_paths(x.items, id_maps_root(root), audio_root)
    items = [AudioItem(t, str(paths.get(t, f"(no audio file for {t} under {audio_root})"))) for t in x.items]
    return prepare_items("echonest", items, args, "frames_kim2022")


def verify(root: str | os.PathLike) -> list[str]:
    """Problems of a Taste Profile copy (presence of the three files; the triplets are not re-counted)."""
    from mirbench.data.checksums import index_path, read_index, verify_index

    return verify_index(Path(root), read_index(index_path("echonest")))
