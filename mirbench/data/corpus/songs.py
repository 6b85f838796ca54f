"""The embedded corpus as *songs* for the Kim & Liem (ISMIR 2022) table: one song = one corpus piece,
its clips concatenated in order (default build: 360 pieces x 6 clips of 3 s = 18 s per song).

Card
----
What: the music21 corpus build of :mod:`mirbench.data.corpus.datamodule`, regrouped by piece. It stands
in for all four data sets of the paper: representation learning on the train-split songs (MSD's role);
the genre probe on a single-label genre per song (GTZAN's role); the tagging probe on the corpus tags
(MTAT's role); item-kNN on a *simulated* listening log over the songs (Echonest's role,
:mod:`mirbench.data.corpus.listening`). Splits: the build's piece-disjoint train/valid/test.

Views (``view``), each what one family of methods consumes:

- ``frames52``: ``(N_j, 52)`` Kim & Liem frames (HDPGMM, G1, VQCodebook); training batches are padded
  frame batches (:func:`mirbench.data.song_batches.collate_frames`), songs randomly cropped to ``max_len``.
- ``mel``: ``(1, T_j, 128)`` dB mel of the KIM baseline (:func:`mirbench.audio.features.mel_kim2022`,
  22,050 Hz, n_fft 1024, hop 256) computed over the whole song once and cached beside the build
  (``mel_kim2022.npy``, float16, memory-mapped). The corpus is mono: one channel (``in_channels: 1``)
  where the reference duplicates mono files into two identical channels.
- ``audio``: ``(n_j,)`` float32 mono waveform at 22,050 Hz (CLMR).

For ``mel`` and ``audio`` the training set is two random crops per song
(:class:`mirbench.data.song_batches.CropPairDataset`, ``crop_length`` frames or samples).

Genre (GTZAN role): every piece has exactly one *leaf* genre (``pieces.csv: genre``, the style its source
defines; the other genre tags are umbrellas such as "dance"). A leaf genre with fewer than
``min_genre_pieces`` pieces in the build is folded into the most common genre of the same source collection
(default build: "strathspey" -> "reel", "air" -> "jig", "luxembourg folk" -> "german folk"), or "other" when
the source has no other genre: a class with three training songs only adds noise to a macro-F1.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from torch.utils.data import DataLoader

from mirbench.audio.decode import SAMPLE_RATE
from mirbench.audio.features import mel_kim2022
from mirbench.data.base import DataInfo, DownstreamInputs, DownstreamSet
from mirbench.data.corpus import tags as T
from mirbench.data.corpus.build import DEFAULT_SPLIT
from mirbench.data.corpus.datamodule import CorpusBuildDataModule
from mirbench.data.sources.base import SPLITS
from mirbench.data.song_views import SongDataModule, index_loader, learning_subset, view_input_shape
from mirbench.io import save_npy

log = logging.getLogger(__name__)

MEL_FILE = "mel_kim2022.npy"
AUDIO_SCALE = 32767.0  # the build stores int16


def primary_genres(pieces: pd.DataFrame, min_pieces: int = 10) -> np.ndarray:
    """One genre per piece (see the module docstring): the leaf genre; a leaf genre with fewer than
    ``min_pieces`` pieces is folded into the most common other genre of the piece's source collection
    ("strathspey" -> "reel" in Ryan's Mammoth Collection), or "other" when the source has none."""
    genre = pieces["genre"].astype(str).to_numpy()
    source = pieces["source"].astype(str).to_numpy()
    counts = pd.Series(genre).value_counts()
    rare = {g for g, n in counts.items() if n < min_pieces}
    out = genre.copy()
    for i in np.flatnonzero(np.isin(genre, list(rare))):
        siblings = pd.Series(genre[(source == source[i]) & ~np.isin(genre, list(rare))]).value_counts()
        # most common, ties broken by name for determinism
        out[i] = min(siblings.index, key=lambda g: (-siblings[g], g)) if len(siblings) else "other"
    return out


class SongView(Sequence):
    """Lazy per-song arrays over a memory-mapped clip array: item ``j`` concatenates song ``j``'s clips."""

    def __init__(self, array: np.ndarray, clips_of: list[np.ndarray], songs: np.ndarray, fn) -> None:
        self.array, self.clips_of, self.songs, self.fn = array, clips_of, np.asarray(songs), fn

    def __len__(self) -> int:
        return len(self.songs)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        return self.fn(self.array, self.clips_of[int(self.songs[int(i)])])


def _frames(array, clips):
    return np.asarray(array[clips], dtype=np.float32).reshape(-1, array.shape[-1])


def _audio(array, clips):
    return np.asarray(array[clips], dtype=np.float32).reshape(-1) / AUDIO_SCALE


def _song_row(array, rows):  # the mel cache holds one row per song already
    return np.asarray(array[rows[0]], dtype=np.float32)[None]


class CorpusSongsDataModule(CorpusBuildDataModule, SongDataModule):
    """Songs of the embedded corpus in one ``view`` (see the module docstring).

    Args:
        n_pieces, clips_per_piece, seed, split: the corpus build (as :class:`CorpusDataModule`).
        min_genre_pieces: leaf genres with fewer pieces are folded (see :func:`primary_genres`).
        listening_users, listening_seed, listening_items_per_user: the simulated listening log
            (:func:`mirbench.data.corpus.listening.simulate_listening`).
        view, batch_size, max_len, crop_length, train_fraction, subset_seed, num_workers: the view and its batches
            (:class:`~mirbench.data.song_views.SongDataModule`); ``train_fraction`` subsets the train-split songs.
    """

    def __init__(
        self,
        root: str | None = None,
        n_pieces: int = 360,
        clips_per_piece: int = 6,
        seed: int = 0,
        split: tuple[float, float, float] = DEFAULT_SPLIT,
        view: Literal["frames52", "mel", "audio"] = "frames52",
        batch_size: int = 1024,
        max_len: int | None = 2600,
        crop_length: int | None = None,
        train_fraction: float = 1.0,
        subset_seed: int = 0,
        min_genre_pieces: int = 10,
        listening_users: int = 2000,
        listening_seed: int = 0,
        listening_items_per_user: float = 25.0,
        num_workers: int = 0,
        build_workers: int | None = None,
    ) -> None:
        super().__init__(view=view, batch_size=batch_size, max_len=max_len, crop_length=crop_length,
                         train_fraction=train_fraction, subset_seed=subset_seed, num_workers=num_workers)
        self._loaded = False

    # -- data ---------------------------------------------------------------------------------
    def prepare_data(self) -> None:
        super().prepare_data()
        if self.hparams.view == "mel":
            self._ensure_mel()

    def setup(self, stage: str | None = None) -> None:
        if self._loaded:
            return
        path = self.build()
        self.pieces = pd.read_csv(path / "pieces.csv")
        clips = pd.read_csv(path / "clips.csv")
        tags = pd.read_csv(path / "tags.csv")
        self.tag_names, self.tag_categories = tuple(tags["tag"]), tuple(tags["category"])
        self._tags = np.load(path / "tag_matrix.npy")
        n = len(self.pieces)
        order = np.lexsort((np.arange(len(clips)), clips["track"].to_numpy()))  # clips of a song, in order
        track = clips["track"].to_numpy()[order]
        self._clips_of = [order[track == j] for j in range(n)]
        self._split = self.pieces["split"].astype(str).to_numpy()
        self._genre = primary_genres(self.pieces, self.hparams.min_genre_pieces)
        self._loaded = True

    def _ensure_mel(self) -> Path:
        """The KIM mel of every song (whole-song dB mel, float16), computed once beside the build."""
        self.setup()
        out = self.path / MEL_FILE
        if out.is_file():
            return out
        log.warning("computing the KIM mel of %d corpus songs into %s (once)", len(self.pieces), out)
        audio = np.load(self.path / "audio.npy", mmap_mode="r")
        mels = [mel_kim2022(_audio(audio, c)) for c in self._clips_of]
        save_npy(out, np.stack(mels).astype(np.float16))
        return out

    @cached_property
    def _array(self) -> np.ndarray:
        self.setup()
        view = self.hparams.view
        if view == "mel":
            return np.load(self._ensure_mel(), mmap_mode="r")
        return np.load(self.path / ("frames52.npy" if view == "frames52" else "audio.npy"), mmap_mode="r")

    def _fn(self):
        view = self.hparams.view
        if view == "mel":
            return _song_row
        return _frames if view == "frames52" else _audio

    def song_indices(self, split: str | None = None) -> np.ndarray:
        """Indices of the songs of ``split`` (all songs when ``None``), in corpus order."""
        self.setup()
        if split is None:
            return np.arange(len(self._split))
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS} or None, got {split!r}")
        return np.flatnonzero(self._split == split)

    def train_indices(self) -> np.ndarray:
        """The songs the representation learns from: the train split, or a ``train_fraction`` subset of it."""
        return learning_subset(self.song_indices("train"), self.hparams.train_fraction, self.hparams.subset_seed)

    def learning_songs(self) -> SongView:
        """The train-split songs (or their ``train_fraction`` subset), in the view."""
        return self.songs(indices=self.train_indices())

    def songs(self, split: str | None = None, indices: Sequence[int] | None = None) -> SongView:
        """Songs in the current view (lazy, memory-mapped): all, one ``split``'s, or the given ``indices``."""
        idx = self.song_indices(split) if indices is None else np.asarray(indices)
        if self.hparams.view == "mel":
            return SongView(self._array, [np.array([j]) for j in range(len(self._split))], idx, self._fn())
        return SongView(self._array, self._clips_of, idx, self._fn())

    def song_splits(self) -> np.ndarray:
        """``(J,)`` str: train/valid/test of every song."""
        self.setup()
        return self._split.copy()

    def song_tags(self) -> np.ndarray:
        """``(J, T)`` uint8 multi-hot over :attr:`tag_names` (MTAT role)."""
        self.setup()
        return self._tags.copy()

    def song_genres(self) -> tuple[np.ndarray, tuple[str, ...]]:
        """``(labels (J,) int64, class names)``: one genre per song (GTZAN role)."""
        self.setup()
        names = tuple(sorted(set(self._genre)))
        return np.array([names.index(g) for g in self._genre], dtype=np.int64), names

    def interactions(self):
        """The simulated listening log ``(U, J)`` (CSR play counts; Echonest role), deterministic."""
        from mirbench.data.corpus.listening import simulate_listening

        self.setup()
        return simulate_listening(self._tags, self.tag_categories, n_users=self.hparams.listening_users,
                                  mean_items=self.hparams.listening_items_per_user,
                                  seed=self.hparams.listening_seed).plays

    def downstream_inputs(self) -> DownstreamInputs:
        """The Kim & Liem protocol's input: every song, with genres (GTZAN's role), tags (MTAT's) and the simulated
        listening log (Echonest's), on the predefined train/valid/test split."""
        info = self.data_info
        songs = DownstreamSet(name=type(self).__name__, songs=self.songs(), split=self.song_splits(),
                              labels=self.song_genres()[0], tags=self.song_tags(), plays=self.interactions(),
                              tag_names=tuple(info.tag_names), tag_categories=tuple(info.tag_categories))
        return DownstreamInputs(view=self.hparams.view, song_from_audio=self.song_from_audio, genre=songs, tags=songs,
                                recommendation=songs)

    @property
    def data_info(self) -> DataInfo:
        self.setup()
        dim = int(np.load(self.path / "frames52.npy", mmap_mode="r").shape[-1])
        shape = view_input_shape(self.hparams.view, self.hparams.crop_length, dim)
        return DataInfo(tag_names=self.tag_names, tag_categories=self.tag_categories, categories=T.CATEGORIES,
                        class_names=self.song_genres()[1], input_shape=shape, sample_rate=SAMPLE_RATE)

    # -- loaders ------------------------------------------------------------------------------
    def test_dataloader(self) -> DataLoader:
        """Indices of the test songs: ``Trainer.test`` runs, the evaluation callback does the work."""
        return index_loader(self.song_indices("test"))
