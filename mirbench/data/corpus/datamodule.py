"""The embedded default data set: real compositions from the music21 corpus, rendered to audio.

Card
----
What: 3-s excerpts of real scores (Bach chorales, Palestrina, Monteverdi, Trecento, Haydn/Mozart/
Beethoven quartet movements, Ryan's Mammoth and O'Neill's dance tunes, Essen folk songs) rendered
with the General MIDI soundfont TimGM6mb (inside the ``pretty_midi`` wheel) by ``tinysoundfont``.
Shaped like MSD/Last.fm for Lee et al. 2020: multi-label tags in four categories (genre, mood,
instrument, era), several excerpts per piece (track identity), piece-disjoint splits, Dim-Sim-style
triplets with simulated votes. Size: ``n_pieces`` x ``clips_per_piece`` (default 360 x 6).
Source / licence: the music21 corpus (BSD; scores public domain or as its ``license.txt``) and
TimGM6mb (GPL-2, shipped with pretty_midi). Splits: drawn by ``seed``, stratified by source.
Built once by ``mirbench prepare corpus`` (or on first use) into ``$MIRBENCH_DATA/corpus/<build>``.
"""

from __future__ import annotations

import fcntl

import logging
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from lightning.pytorch import LightningDataModule

from mirbench.audio.cache import StackedArrays
from mirbench.audio.decode import SAMPLE_RATE
from mirbench.audio.features import normalize_lee2020
from mirbench.data.base import DataInfo, DimSimTriplets, RetrievalInputs
from mirbench.data.corpus.build import DEFAULT_SPLIT, CorpusParams, build_corpus
from mirbench.data.corpus.tags import CATEGORIES
from mirbench.data.featuredm import FeatureDataModule, Table, identity
from mirbench.data.sources import corpus as corpus_source
from mirbench.paths import dataset_dir

log = logging.getLogger(__name__)

FEATURE_FILES = {"logmel": "logmel.npy", "frames52": "frames52.npy", "audio": "audio.npy"}


def corpus_dir(params: CorpusParams, root: str | None = None) -> Path:
    return dataset_dir("corpus", root) / params.name


def ensure_corpus(params: CorpusParams, root: str | None = None, workers: int | None = None) -> Path:
    """The build folder for ``params``, building it first when absent.

    Processes that need the same build at once (two table runs, a test run) take turns on a lock file:
    one builds, the others wait and then read it.
    """
    path = corpus_dir(params, root)
    if (path / "corpus.json").is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / f".{path.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (path / "corpus.json").is_file():
            log.warning("building the embedded corpus into %s (once; `mirbench prepare corpus` does it ahead)", path)
            build_corpus(path, params, workers=workers)
    return path


class CorpusBuildDataModule(LightningDataModule):
    """What the corpus datamodules share: the build their ``root``/``n_pieces``/``clips_per_piece``/``seed``
    (/``split``: train/valid/test fractions of the pieces) hyper-parameters name (``build_workers`` processes build it on first use). Subclasses call
    ``save_hyperparameters()`` with those arguments."""

    @property
    def params(self) -> CorpusParams:
        h = self.hparams
        split = tuple(float(f) for f in h.get("split", DEFAULT_SPLIT))
        return CorpusParams(n_pieces=h.n_pieces, clips_per_piece=h.clips_per_piece, seed=h.seed, split=split)

    @property
    def path(self) -> Path:
        return corpus_dir(self.params, self.hparams.root)

    def build(self) -> Path:
        """The build folder, built first when absent."""
        return ensure_corpus(self.params, self.hparams.root, self.hparams.build_workers)

    def prepare_data(self) -> None:
        self.build()


def _logmel_lee2020(x: np.ndarray) -> np.ndarray:
    return normalize_lee2020(x)[None]  # (1, frames, mels)


def _int16_audio(x: np.ndarray) -> np.ndarray:
    return x / 32767.0


_TRANSFORMS = {"logmel": _logmel_lee2020, "audio": _int16_audio, "frames52": identity}


class CorpusDataModule(CorpusBuildDataModule, FeatureDataModule):
    """Clips (classification, proxy) or category/track triplets (triplet models) of the corpus: the clip
    datamodule of the real-format data sets (:class:`~mirbench.data.featuredm.FeatureDataModule`) over the
    corpus source (:func:`mirbench.data.sources.corpus.load`) and its stacked feature arrays.

    ``features``: ``logmel`` (Lee et al. 2020 input, ``(1, 129, 128)`` normalised), ``frames52``
    (Kim & Liem 2022 frames) or ``audio`` (22,050 Hz waveform). ``sampling``: ``clips`` or
    ``triplets`` (``track_triplets`` adds same-track triplets for track regularisation: two excerpts of one
    piece). Every clip is one whole item (all have one length); triplets are drawn with the corpus ``seed``.
    """

    dataset_id = "corpus"
    equal_length_items = True
    drop_last_train = False

    def __init__(self, root: str | None = None, n_pieces: int = 360, clips_per_piece: int = 6, seed: int = 0,
                 split: tuple[float, float, float] = DEFAULT_SPLIT,
                 features: Literal["logmel", "frames52", "audio"] = "logmel",
                 sampling: Literal["clips", "triplets"] = "clips", track_triplets: bool = False,
                 triplets_per_epoch: int = 4096, batch_size: int = 32, num_workers: int = 0,
                 reference_split: Literal["train", "valid"] = "train", build_workers: int | None = None):
        super().__init__(root=root, feature=features, crop_frames=None, batch_size=batch_size,
                         num_workers=num_workers, sampling=sampling, track_triplets=track_triplets,
                         triplets_per_epoch=triplets_per_epoch, triplet_seed=seed, reference_split=reference_split)
        self.save_hyperparameters()
        self._loaded = False

    # -- data ---------------------------------------------------------------------------------
    def setup(self, stage: str | None = None) -> None:
        if self._loaded:
            return
        path = self.build()
        self.source = corpus_source.load(path)  # clips, their splits, pieces and tags, parsed once
        self.clips = pd.read_csv(path / "clips.csv")  # its columns serve the id lookups (evaluation.external)
        self.track_tags = np.load(path / "tag_matrix.npy")
        self.tag_names, self.tag_categories = self.source.tag_names, self.source.tag_categories
        self.features = np.load(path / FEATURE_FILES[self.hparams.features], mmap_mode="r")
        self.clip_track = self.source.clip_track
        self.split_clips = dict(self.source.splits)
        self._store = StackedArrays(self.features, list(self.source.ids))
        self._loaded = True

    def build_table(self) -> Table:
        self.setup()
        source = self.source
        return Table(ids=list(source.ids), splits=dict(source.splits), tags=source.tags,
                     clip_track=source.clip_track, track_tags=self.track_tags)

    @property
    def cache(self) -> StackedArrays:
        self.setup()
        return self._store

    @property
    def transform(self):
        return _TRANSFORMS[self.hparams.features]

    @property
    def data_info(self) -> DataInfo:
        self.setup()
        shape = tuple(np.shape(self.transform(np.asarray(self.features[0], dtype=np.float32))))
        return DataInfo(tag_names=self.tag_names, tag_categories=self.tag_categories,
                        categories=CATEGORIES, input_shape=shape, sample_rate=SAMPLE_RATE)

    def dimsim_triplets(self, clean: bool = True) -> DimSimTriplets:
        """The source's Dim-Sim-style triplets (``dimsim_clean.csv``, or ``dimsim_raw.csv``) as positions in the
        test clip order, with their votes."""
        self.setup()
        source = self.source if clean else corpus_source.load(self.path, dimsim="raw")
        test = self.split_clips["test"]
        position = np.full(len(source), -1, dtype=np.int64)
        position[test] = np.arange(len(test))
        out = position[source.triplets]
        if (out < 0).any():
            raise ValueError(f"{self.path}: {int((out < 0).any(1).sum())} Dim-Sim triplets use clips outside the "
                             "test split; rebuild the corpus (`mirbench prepare corpus`)")
        return DimSimTriplets(anchor=out[:, 0], song1=out[:, 1], song2=out[:, 2], song1_vote=source.votes[:, 0],
                              song2_vote=source.votes[:, 1])

    def retrieval_inputs(self) -> RetrievalInputs:
        """The Lee et al. 2020 protocol's input: test clips, reference clips and the clean Dim-Sim-style triplets."""
        return RetrievalInputs(test=self.test_dataloader(), reference=self.reference_dataloader(),
                               dimsim=self.dimsim_triplets())
