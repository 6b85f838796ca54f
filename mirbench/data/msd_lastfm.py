"""Million Song Dataset with Last.fm top-50 tags, the split of Lee et al. (ISMIR 2020).

The datamodule; the data set's card, files and parsing are in :mod:`mirbench.data.sources.msd_lastfm`.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from mirbench.audio.features import normalize_lee2020
from mirbench.audio.prepare import AudioItem
from mirbench.data.base import RetrievalInputs
from mirbench.data.featuredm import FeatureDataModule, Table, prepare_items
from mirbench.data.sources.base import to_table
from mirbench.data.sources.msd_lastfm import (CATEGORIES, audio_paths, load, missing_audio, split_file,  # noqa: F401
                                              tag_category, tags_from_db)
from mirbench.data.splits import MSD_TRAIN_SIZE, load_py2_pickle, read_lines
from mirbench.paths import dataset_dir


class MSDLastfmDataModule(FeatureDataModule):
    """MSD / Last.fm top-50 tags from cached features; ``tags`` = (50,) multi-hot in ``50tagList.txt`` order.

    ``root`` holds the ``MSD_split`` files (and optionally ``lastfm_tags.db``); audio is found under
    ``audio_root`` (default ``<root>/audio``). Without ``filtered_list_train.cP`` only the test split
    exists. ``train_size`` is the published 201,680 (smaller only for fixtures). ``normalize``: Lee et
    al.'s fixed z-score ``(x - 0.2) / 0.25`` of ``logmel_lee2020`` crops (docs/protocols.md#lee-input; other features
    are left as cached). Triplet sampling, track triplets and the reference split are
    :class:`FeatureDataModule`'s (``sampling``, ``track_triplets``, ``triplets_per_epoch``,
    ``reference_split``), over the tag categories of :func:`tag_category`.

    ``dimsim``: also give the Lee 2020 protocol the Dim-Sim triplets (``dimsim_version`` ``clean``, the 879 of
    Table A, or ``raw``) from ``dimsim_root`` (default ``$MIRBENCH_DATA/dimsim``, prepared with
    ``mirbench prepare dimsim``), their clips cropped and z-scored as the test clips are.
    """

    dataset_id = "msd_lastfm"

    def __init__(self, root: str | None = None, audio_root: str | None = None, layout: str = "auto",
                 tag_source: str = "auto", train_size: int = MSD_TRAIN_SIZE, feature: str = "logmel_lee2020",
                 normalize: bool = True, dimsim: bool = False, dimsim_root: str | None = None,
                 dimsim_version: str = "clean", **kwargs):
        super().__init__(root=root, feature=feature, **kwargs)
        self.audio_root = Path(audio_root) if audio_root else self.root / "audio"
        self.layout, self.tag_source, self.train_size = layout, tag_source, train_size
        self.normalize = bool(normalize)
        self.dimsim, self.dimsim_root, self.dimsim_version = bool(dimsim), dimsim_root, dimsim_version

    @property
    def transform(self):
        return normalize_lee2020 if self.normalize and self.feature == "logmel_lee2020" else super().transform

    @property
    def tag_names(self) -> list[str]:
        return read_lines(split_file(self.root, "50tagList.txt"))

    def build_table(self) -> Table:
        return build_table(self.root, self.audio_root, self.layout, self.tag_source, self.train_size)

    def retrieval_inputs(self) -> RetrievalInputs:
        """The test and reference clips, and with ``dimsim`` the Dim-Sim triplets over their own clips."""
        inputs = super().retrieval_inputs()
        if not self.dimsim:
            return inputs
        from mirbench.data.dimsim import DimSimDataModule

        dm = DimSimDataModule(root=self.dimsim_root, version=self.dimsim_version, feature=self.feature,
                              crop_frames=self.crop_frames, batch_size=self.batch_size, num_workers=self.num_workers)
        try:
            triplets = dm.dimsim_triplets(transform=self.transform)
        except FileNotFoundError as e:
            raise FileNotFoundError(f"Dim-Sim for the MSD table: {e} (the CSVs go in {dm.root}, then `mirbench "
                                    f"prepare dimsim --root {dm.root} --audio-root MSD_AUDIO`); or set "
                                    "data.init_args.dimsim: false to leave the Dim-Sim column out") from e
        return replace(inputs, dimsim=triplets)

    def info_fields(self) -> dict:
        tags = self.tag_names
        return {"tag_names": tuple(tags), "tag_categories": tuple(tag_category(t) for t in tags),
                "categories": CATEGORIES}


def build_table(root: Path, audio_root: Path, layout: str = "auto", tag_source: str = "auto",
                train_size: int = MSD_TRAIN_SIZE, with_audio: bool = True) -> Table:
    """The :class:`Table` of :func:`mirbench.data.sources.msd_lastfm.load`."""
    return to_table(load(root, audio_root, layout, tag_source, train_size, with_audio))


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
    items = [AudioItem(i, str(paths.get(i, missing_audio(i, audio_root)))) for i in ids]
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
