"""Echo Nest Taste Profile: (user, song, play count) triplets on MSD songs; item-kNN recommendation.

The datamodule; the data set's card, files and parsing are in :mod:`mirbench.data.sources.echonest`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import sparse as sp

from mirbench.data.featuredm import FeatureDataModule, Table, prepare_items
from mirbench.data.sources.base import Interactions, Source, to_table
from mirbench.data.sources.echonest import (interactions, item_audio, keep_items,  # noqa: F401
                                            liang_filter, load_interactions, read_mismatches, read_song_to_track)
from mirbench.data.sources.echonest import interactions as load  # noqa: F401  (the filtered interactions)
from mirbench.data.sources.echonest import load as load_source
from mirbench.paths import dataset_dir


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


class EchonestDataModule(FeatureDataModule):
    """Taste Profile items (MSD tracks with cached features) and their play-count matrix.

    Items are not split (users are, by :func:`user_holdout_split`); the table's only split is
    ``"all"``. ``interactions`` is restricted to items with features, as Kim & Liem do. The items' MSD
    previews (the table's ``audio``, for methods that read waveforms) are looked up under ``audio_root``
    (default ``<root>/audio``; 7digital layout when :func:`mirbench.data.sources.msd_lastfm.id_maps_root` finds
    the two id pickles, else ``<MSD id>.<ext>``) when that folder exists.
    """

    dataset_id = "echonest"

    def __init__(self, root: str | None = None, min_user_items: int = 5, feature: str = "frames_kim2022",
                 audio_root: str | None = None, **kwargs):
        super().__init__(root=root, feature=feature, **kwargs)
        self.min_user_items = min_user_items
        self.audio_root = Path(audio_root) if audio_root else self.root / "audio"
        self._source: Source | None = None

    @property
    def source(self) -> Source:
        if self._source is None:
            have = set(self.cache.ids()) if self.cache is not None else None
            self._source = load_source(self.root, self.min_user_items, have, self.audio_root)
        return self._source

    @property
    def interactions(self) -> Interactions:
        return self.source.plays

    def build_table(self) -> Table:
        return to_table(self.source)

    def user_split(self, seed: int = 0, **kwargs) -> UserSplit:
        return user_holdout_split(self.interactions.matrix, seed=seed, **kwargs)

    def train_dataloader(self):
        return self._loader("all")


def prepare(args):
    """``mirbench prepare echonest --root DIR --audio-root MSD_AUDIO``: features of every filtered item."""
    root = dataset_dir("echonest", args.root)
    audio_root = Path(args.audio_root) if getattr(args, "audio_root", None) else root / "audio"
    items = item_audio(interactions(root).items, root, audio_root)
    return prepare_items("echonest", items, args, "frames_kim2022")


def verify(root: str | os.PathLike) -> list[str]:
    """Problems of a Taste Profile copy (presence of the three files; the triplets are not re-counted)."""
    from mirbench.data.checksums import index_path, read_index, verify_index

    return verify_index(Path(root), read_index(index_path("echonest")))
