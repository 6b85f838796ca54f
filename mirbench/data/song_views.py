"""Songs as the Kim & Liem (ISMIR 2022) methods consume them: one *view* per family of methods.

- ``frames52``: ``(N, 52)`` frames (:func:`mirbench.audio.features.frames_kim2022`; HDPGMM, G1, VQCodebook);
- ``mel``: ``(1, T, 128)`` dB mel (:func:`mirbench.audio.features.mel_kim2022`; KIM, one mono channel);
- ``audio``: ``(n,)`` float32 mono waveform at 22,050 Hz (CLMR).

:func:`song_view` puts a waveform in a view (the corpus and the real data sets alike). :class:`FeatureSongs`
gives the songs of a real-format data set (a :class:`mirbench.data.featuredm.FeatureDataModule`) lazily:
``frames52`` and ``mel`` from the features ``mirbench prepare <id> --feature frames_kim2022|mel_kim2022``
cached, ``audio`` decoded from the data set's files on access.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader, Dataset

from mirbench.audio.decode import SAMPLE_RATE, load_audio
from mirbench.audio.features import frames_kim2022, mel_kim2022
from mirbench.data.song_batches import CropPairDataset, frame_loader

VIEWS = ("frames52", "mel", "audio")
VIEW_FEATURE = {"frames52": "frames_kim2022", "mel": "mel_kim2022", "audio": None}  # None: decoded audio


def check_view(view: str) -> str:
    if view not in VIEWS:
        raise ValueError(f"view must be one of {VIEWS}, got {view!r}")
    return view


def song_view(y: np.ndarray, view: str, sr: int = SAMPLE_RATE) -> np.ndarray:
    """A mono 22,050-Hz waveform ``(n,)`` in ``view`` (see the module docstring)."""
    if sr != SAMPLE_RATE:
        raise ValueError(f"the song views are at {SAMPLE_RATE} Hz, got audio at {sr} Hz")
    y = np.asarray(y, dtype=np.float32)
    if check_view(view) == "frames52":
        return frames_kim2022(y)
    if view == "mel":
        return mel_kim2022(y)[None]
    return y


def view_feature_kwargs(view: str) -> dict:
    """``FeatureDataModule`` keyword arguments for a view: the cached feature, whole items."""
    feature = VIEW_FEATURE[check_view(view)]
    return {"feature": feature or "frames_kim2022", "crop_frames": None, "batch_size": 1}


class FeatureSongs(Sequence):
    """Songs ``rows`` of a :class:`~mirbench.data.featuredm.FeatureDataModule` in ``view``, loaded on access.

    The datamodule must cache the view's feature (:func:`view_feature_kwargs`); for ``audio`` its table
    lists the audio files. :meth:`available` keeps the rows that can be read: cached ones (the datamodule
    warns about the rest), or for ``audio`` those whose file exists (a warning names the missing ones).
    """

    def __init__(self, dm, rows: np.ndarray, view: str) -> None:
        self.dm, self.rows, self.view = dm, np.asarray(rows, dtype=np.int64), check_view(view)
        feature = VIEW_FEATURE[view]
        if feature is not None and dm.feature != feature:
            raise ValueError(f"{dm.dataset_id}: view {view!r} reads cached {feature} features, the datamodule has "
                             f"feature={dm.feature!r}")

    @classmethod
    def of_split(cls, dm, split: str, view: str) -> FeatureSongs:
        """The readable songs of ``split`` (see :meth:`available`)."""
        if VIEW_FEATURE[check_view(view)] is not None:
            return cls(dm, dm.split_rows(split), view)
        rows = dm.table.splits.get(split)
        if rows is None:
            raise KeyError(f"{dm.dataset_id} has no split {split!r}; it has {sorted(dm.table.splits)}")
        return cls(dm, rows, view).available()

    def available(self) -> FeatureSongs:
        """These songs less those whose audio file is missing (``audio`` view; a decode error names the file)."""
        if self.view != "audio":
            return self
        audio = self.dm.table.audio
        if not audio:
            raise ValueError(f"{self.dm.dataset_id}: the audio view needs the data set's audio files; "
                             "its table lists none")
        ok = np.array([Path(audio[r].path).is_file() for r in self.rows], dtype=bool)
        if not ok.any():
            raise FileNotFoundError(f"{self.dm.dataset_id}: none of {len(ok)} audio files exists, "
                                    f"e.g. {audio[self.rows[0]].path}")
        if not ok.all():
            warnings.warn(f"{self.dm.dataset_id}: {int((~ok).sum())} of {len(ok)} items have no audio file "
                          f"(e.g. {audio[self.rows[~ok][0]].path}); they are left out", stacklevel=3)
        return FeatureSongs(self.dm, self.rows[ok], self.view)

    @property
    def ids(self) -> list[str]:
        return [self.dm.table.ids[r] for r in self.rows]

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        row = int(self.rows[int(i)])
        if self.view == "audio":
            return load_audio(self.dm.table.audio[row].path, sr=SAMPLE_RATE)
        x = np.asarray(self.dm.cache.load(self.dm.table.ids[row]), dtype=np.float32)
        return x[None] if self.view == "mel" else x


def check_view_args(view: str, crop_length: int | None) -> None:
    """The views that train on random crops need ``crop_length`` (KIM 216 mel frames, CLMR 59,049 samples)."""
    if check_view(view) != "frames52" and crop_length is None:
        raise ValueError(f"view {view!r} trains on random crops: set crop_length (KIM 216 frames, CLMR 59049 samples)")


def view_input_shape(view: str, crop_length: int | None, dim: int = 52) -> tuple[int, ...]:
    """``DataInfo.input_shape`` of a view: a frame ``(dim,)``, a mel crop ``(1, crop, 128)``, an audio crop
    ``(crop,)``."""
    if check_view(view) == "frames52":
        return (int(dim),)
    return (1, int(crop_length), 128) if view == "mel" else (int(crop_length),)


def check_train_fraction(fraction: float) -> None:
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"train_fraction must be in (0, 1], got {fraction}")


def learning_subset(indices: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """A seeded ``fraction`` of the learning songs (Kim & Liem's corpus-size study: random subsets of MSD)."""
    check_train_fraction(fraction)
    if fraction >= 1.0:
        return np.asarray(indices)
    n = max(int(round(fraction * len(indices))), 1)
    rng = np.random.default_rng([seed, 2022])
    return np.sort(rng.choice(indices, n, replace=False))


def song_train_loader(songs: Sequence, view: str, batch_size: int, max_len: int | None, crop_length: int | None,
                      num_workers: int = 0) -> DataLoader:
    """Training batches of a view: padded frame batches (``frames52``, songs cropped to ``max_len``) or two
    random crops per song (``mel``: ``crop_length`` frames, ``audio``: samples)."""
    if check_view(view) == "frames52":
        return frame_loader(songs, batch_size, max_len, shuffle=True, num_workers=num_workers)
    pairs = CropPairDataset(songs, int(crop_length), time_axis=1 if view == "mel" else -1)
    # drop_last: batch-norm and in-batch negatives need more than one song per batch
    return DataLoader(pairs, batch_size=batch_size, shuffle=True, num_workers=num_workers,
                      drop_last=len(pairs) > batch_size)


class _Indices(Dataset):
    def __init__(self, indices: np.ndarray) -> None:
        self.indices = np.asarray(indices)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> dict:
        return {"index": torch.tensor(int(self.indices[i]))}


def index_loader(indices: np.ndarray) -> DataLoader:
    """One batch ``{"index"}`` of song indices: what ``Trainer.test`` iterates while the Kim & Liem evaluation
    callback (:class:`mirbench.evaluation.kimliem2022.KimLiem2022Evaluation`) does the work."""
    return DataLoader(_Indices(indices), batch_size=max(len(indices), 1))


class SongDataModule(LightningDataModule):
    """Songs in one ``view`` for the Kim & Liem 2022 methods: what the song datamodules share. A subclass gives
    its songs (:meth:`learning_songs`, the songs representation learning reads; ``downstream_inputs()`` for the
    protocol) and passes these arguments on (its own signature lists them, in the order its configs' digests
    were recorded with).

    Args:
        view: ``frames52`` | ``mel`` | ``audio``.
        batch_size: songs per training batch (Kim & Liem: 1,024 for the HDPGMM, 48 for KIM and CLMR).
        max_len: frames52 crop length in frames (Kim & Liem: 2,600, about 60 s); ``None``: whole songs.
        crop_length: mel/audio crop length (frames or samples): KIM 216, CLMR 59,049.
        train_fraction: keep this share of the learning songs (the corpus-size ablation), drawn with
            ``subset_seed``; evaluation always uses every song.
        num_workers: loader processes.
    """

    def __init__(self, view: Literal["frames52", "mel", "audio"] = "frames52", batch_size: int = 1024,
                 max_len: int | None = 2600, crop_length: int | None = None, train_fraction: float = 1.0,
                 subset_seed: int = 0, num_workers: int = 0) -> None:
        super().__init__()
        check_view_args(view, crop_length)
        check_train_fraction(train_fraction)
        self.save_hyperparameters()  # the subclass's arguments too (Lightning collects every __init__ frame)

    def learning_songs(self) -> Sequence:
        """The songs representation learning reads, in the view (a ``train_fraction`` subset drawn already)."""
        raise NotImplementedError

    def song_from_audio(self, y: np.ndarray, sr: int = SAMPLE_RATE) -> np.ndarray:
        """A song given as a mono 22,050-Hz waveform, in the view (e.g. the real GTZAN excerpts)."""
        return song_view(y, self.hparams.view, sr)

    def train_dataloader(self) -> DataLoader:
        h = self.hparams
        return song_train_loader(self.learning_songs(), h.view, int(h.batch_size), h.max_len, h.crop_length,
                                 int(h.num_workers))
