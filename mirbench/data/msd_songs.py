"""MSD songs for the representation learning of Kim & Liem (ISMIR 2022; the `real` profile of
``benchmarks/tables/hdpgmm2022.yaml``).

Card
----
What: the Million Song Dataset previews of the tagging split (jongpillee/music_dataset_split ``MSD_split``,
read by :mod:`mirbench.data.msd_lastfm`). Kim & Liem learn from 213,354 MSD songs (docs/protocols.md#kim-published,
Table 1): the split's train and valid lists (201,680 + 11,774 ids, of which those with audio); the test
list (28,435) is not learnt from (``learn_splits``). No labels are used.
Views (:mod:`mirbench.data.song_views`): ``frames52`` and ``mel`` read the features cached by
``mirbench prepare msd_lastfm --feature frames_kim2022`` (``mel_kim2022``); ``audio`` decodes the
previews (7digital layout or ``<MSD id>.mp3``) at 22,050 Hz mono on access. Items without features or
audio are left out with a warning.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from torch.utils.data import DataLoader

from mirbench.audio.decode import SAMPLE_RATE
from mirbench.data.base import DataInfo, DownstreamInputs
from mirbench.data.msd_lastfm import MSD_TRAIN_SIZE, MSDLastfmDataModule
from mirbench.data.song_views import (FeatureSongs, SongDataModule, index_loader, learning_subset,
                                      view_feature_kwargs, view_input_shape)


class MSDSongsDataModule(SongDataModule):
    """MSD previews as songs in one ``view`` (see the module docstring).

    Args:
        root, audio_root, cache_dir, train_size: as :class:`~mirbench.data.msd_lastfm.MSDLastfmDataModule`
            (``cache_dir``: the view's feature cache, default ``<root>/features/<feature>``).
        learn_splits: the MSD split lists learnt from (Kim & Liem: train and valid, 213k songs).
        view, batch_size, max_len, crop_length, train_fraction, subset_seed, num_workers: the view and its batches
            (:class:`~mirbench.data.song_views.SongDataModule`; Kim & Liem: HDPGMM
            batches of 1,024 songs cropped to 2,600 frames; KIM/CLMR 48 songs, crops of 216 mel frames / 59,049
            samples).
    """

    def __init__(
        self,
        root: str | None = None,
        audio_root: str | None = None,
        cache_dir: str | None = None,
        train_size: int = MSD_TRAIN_SIZE,
        learn_splits: tuple[str, ...] = ("train", "valid"),
        view: Literal["frames52", "mel", "audio"] = "frames52",
        batch_size: int = 1024,
        max_len: int | None = 2600,
        crop_length: int | None = None,
        train_fraction: float = 1.0,
        subset_seed: int = 0,
        num_workers: int = 0,
    ) -> None:
        super().__init__(view=view, batch_size=batch_size, max_len=max_len, crop_length=crop_length,
                         train_fraction=train_fraction, subset_seed=subset_seed, num_workers=num_workers)
        self.msd = MSDLastfmDataModule(root=root, audio_root=audio_root, cache_dir=cache_dir, tag_source="none",
                                       train_size=train_size, normalize=False, **view_feature_kwargs(self.hparams.view))
        self._songs: dict[str, FeatureSongs] = {}

    def songs(self, split: str) -> FeatureSongs:
        """The readable songs of one MSD split list, in the view (lazy)."""
        if split not in self._songs:
            self._songs[split] = FeatureSongs.of_split(self.msd, split, self.hparams.view)
        return self._songs[split]

    def learning_songs(self) -> FeatureSongs:
        """The songs learnt from: ``learn_splits``, or a ``train_fraction`` subset of them."""
        parts = [self.songs(s).rows for s in self.hparams.learn_splits]
        rows = learning_subset(np.concatenate(parts), self.hparams.train_fraction, self.hparams.subset_seed)
        return FeatureSongs(self.msd, rows, self.hparams.view)

    def downstream_inputs(self) -> DownstreamInputs:
        """The view only: MSD songs carry no probe targets (the probes read the real GTZAN, MTAT and Echonest)."""
        return DownstreamInputs(view=self.hparams.view, song_from_audio=self.song_from_audio)

    @property
    def data_info(self) -> DataInfo:
        return DataInfo(input_shape=view_input_shape(self.hparams.view, self.hparams.crop_length), sample_rate=SAMPLE_RATE)

    def test_dataloader(self) -> DataLoader:
        """One batch of song indices: ``Trainer.test`` runs, the evaluation callback reads its own data sets."""
        return index_loader(np.arange(1))
