"""One contract over every registered data set: its card, its source's ``load`` on real files or real-format
fixtures (a consistent :class:`Source`), its datamodule and ``prepare``, and (data tier) its full copy on disk
against the checksummed index."""

from __future__ import annotations

import dataclasses
import inspect
import shutil
from pathlib import Path

import numpy as np
import pytest
from lightning.pytorch import LightningDataModule

from mirbench.audio.cache import FeatureCache
from mirbench.data.registry import DATASETS, discover, get, preparable, read_card
from mirbench.data.sources.base import CARD, Source
from mirbench.paths import PROJECT_ROOT, dataset_dir

from real_roots import (write_dimsim_root, write_echonest_root, write_gtzan_root, write_msd_root, write_mtat_root,
                         write_yt8m_root)

IDS = sorted(DATASETS)
NO_AUDIO = "(no audio file"
SCOREVIDEO = dict(n_pieces=6, renderings=2, max_seconds=8, min_seconds=4, videos_per_shard=4, train_fraction=0.5)


class Roots:
    """Each data set's real files (or real-format fixture), written once per module, and its source loaded."""

    def __init__(self, shared: Path, data: Path, corpus: dict):
        self.shared, self.data, self.corpus = shared, data, corpus
        self._msd: dict | None = None
        self._written: dict[str, Path] = {}

    @property
    def msd(self) -> dict:
        if self._msd is None:
            self._msd = write_msd_root(self.shared, self.data)
        return self._msd

    def load(self, dataset_id: str) -> Source:
        src = get(dataset_id).source_module()
        if dataset_id == "gtzan":  # the real GTZAN-mini excerpts and the real fault-filtered split
            return src.load(write_gtzan_root(self.shared, self.data))
        if dataset_id == "mtat":
            return src.load(write_mtat_root(self.shared, self.data))
        if dataset_id == "msd_lastfm":  # the real 28,435-track test list; a few tracks with 7digital audio
            return src.load(self.msd["root"], train_size=24)
        if dataset_id == "echonest":
            root = write_echonest_root(self.data, self.msd["train"] + self.msd["test"])
            for name in ("MSD_id_to_7D_id.pkl", "7D_id_to_path.pkl"):  # the previews' id maps beside the copy
                shutil.copyfile(self.msd["root"] / "MSD_split" / name, root / name)
            return src.load(root, audio_root=self.msd["root"] / "audio")
        if dataset_id == "dimsim":
            return src.load(write_dimsim_root(self.data, self.msd["test"]))
        if dataset_id == "nsynth_tutorial":  # the real tutorial CSVs
            return src.load(self.shared / "nsynth_tutorial")
        if dataset_id == "yt8m_mv":
            if "yt8m" not in self._written:  # several tests load it; the fixture is written once
                self._written["yt8m"] = write_yt8m_root(self.data)
            return src.load(self._written["yt8m"])
        if dataset_id == "corpus":
            return src.load(self.corpus["path"])
        if dataset_id == "scorevideo":
            from mirbench.data.scorevideo.build import ScoreVideoParams
            from mirbench.data.scorevideo.datamodule import ensure_scorevideo, prepare_features

            build = ensure_scorevideo(ScoreVideoParams(**SCOREVIDEO), str(self.data / "scorevideo"), workers=1,
                                      progress=False)
            prepare_features(build, progress=False)
            return src.load(build)
        raise AssertionError(f"no real files or fixture for {dataset_id}: add one to Roots.load")


@pytest.fixture(scope="module")
def roots(shared_data, tiny_corpus, tmp_path_factory) -> Roots:
    return Roots(shared_data, tmp_path_factory.mktemp("data"), tiny_corpus)


def test_every_dataset_folder_and_source_is_registered():
    folders = {p.name for p in (PROJECT_ROOT / "datasets").iterdir() if p.is_dir()}
    assert folders <= set(DATASETS), f"datasets/ without a registered source: {sorted(folders - set(DATASETS))}"
    assert set(discover()) == set(DATASETS) >= {"gtzan", "nsynth_tutorial", "corpus", "scorevideo", "yt8m_mv"}
    assert "nsynth_tutorial" not in preparable() and "corpus" not in preparable()


@pytest.mark.parametrize("dataset_id", IDS)
def test_card(dataset_id):
    """The same typed constant set in every source module; the datamodule resolves; ``prepare`` as registered."""
    entry, module = get(dataset_id), get(dataset_id).source_module()
    values = {k: getattr(module, k) for k in CARD}
    assert values["DATASET_ID"] == dataset_id and isinstance(values["NEEDS_AUDIO_ROOT"], bool)
    assert all(isinstance(v, str) and v for k, v in values.items() if k != "NEEDS_AUDIO_ROOT"), values
    assert values["DATASET_URL"].startswith(("http://", "https://"))
    assert issubclass(entry.datamodule_class(), LightningDataModule)
    assert callable(getattr(entry.load(), "prepare", None)) == entry.preparable
    assert inspect.getdoc(module).split("\n")[0], "a source module opens with its card"
    assert callable(module.load) and next(iter(inspect.signature(module.load).parameters)) in ("root", "build_dir")
    if dataset_id not in ("corpus",):  # the corpus's card is its datamodule's docstring
        assert (PROJECT_ROOT / "datasets" / dataset_id / "README.md").is_file()


@pytest.mark.parametrize("dataset_id", IDS)
def test_source_is_consistent(roots, dataset_id):
    """``load`` on real files: unique ids; disjoint splits of valid rows; every optional field shaped by ids."""
    s = roots.load(dataset_id)
    n = len(s)
    assert isinstance(s, Source) and s.dataset == dataset_id and n > 0
    assert all(isinstance(i, str) for i in s.ids) and len(set(s.ids)) == n, "ids unique"
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.ids = ()
    assert s.splits and all(v.dtype == np.int64 and v.ndim == 1 for v in s.splits.values())
    rows = np.concatenate(list(s.splits.values()))
    assert rows.min() >= 0 and rows.max() < n and len(np.unique(rows)) == len(rows), "splits: disjoint rows of ids"
    if s.tags is not None:
        assert s.tags.shape == (n, len(s.tag_names)) and s.tags.dtype == np.uint8 and set(np.unique(s.tags)) <= {0, 1}
        if s.tag_categories is not None:
            assert len(s.tag_categories) == len(s.tag_names) and set(s.tag_categories) <= set(s.categories)
    if s.labels is not None:
        assert s.labels.shape == (n,) and s.labels.dtype == np.int64
        assert 0 <= s.labels.min() and s.labels.max() < len(s.class_names)
    if s.clip_track is not None:
        assert s.clip_track.shape == (n,) and 0 <= s.clip_track.min() and s.clip_track.max() < len(s.tracks)
    if s.audio is not None:
        assert [a.item_id for a in s.audio] == list(s.ids)
        on_disk = [Path(a.path).is_file() for a in s.audio]
        assert all(ok or a.path.startswith(NO_AUDIO) for ok, a in zip(on_disk, s.audio)), "a path is a file or says so"
        assert any(on_disk)
        if dataset_id in ("gtzan", "mtat"):
            assert all(on_disk)
    if s.plays is not None:
        assert s.plays.matrix.shape == (len(s.plays.users), n) and s.plays.items == list(s.ids)
        assert s.plays.matrix.nnz and s.plays.matrix.data.min() > 0
    if s.triplets is not None:
        assert s.triplets.ndim == 2 and s.triplets.shape[1] == 3 and len(s.triplets)
        assert s.triplets.min() >= 0 and s.triplets.max() < n and s.votes.shape == (len(s.triplets), 2)
    if s.groups is not None:
        assert s.groups.shape == (n,) and 0 <= s.groups.min() and s.groups.max() < len(s.group_names)
        group_split = {}
        for split in ("valid", "test"):
            for g in s.groups[s.splits.get(split, [])]:
                assert group_split.setdefault(int(g), split) == split, "a group straddles valid and test"
    if s.features is not None:
        assert s.features.shape == (n, len(s.feature_names)) and s.features.dtype == np.float32


@pytest.mark.parametrize("dataset_id", ["yt8m_mv", "scorevideo"])
def test_paired_modalities_are_cached_for_every_id(roots, dataset_id):
    s = roots.load(dataset_id)
    src_root = roots.data / ("yt8m" if dataset_id == "yt8m_mv" else "scorevideo")
    cache = next(src_root.rglob("features/yt8m"))
    assert s.modalities == ("audio", "rgb")
    for m in s.modalities:
        assert set(s.ids) <= set(FeatureCache(cache / m).ids())


def test_read_card_rejects_a_partial_card(tmp_path):
    path = tmp_path / "x.py"
    path.write_text('DATASET_ID = "x"\nDATASET_NAME = "X"\n')
    with pytest.raises(ValueError, match="lacks"):
        read_card(path, "x")
    path.write_text("A = 1\n")
    assert read_card(path, "x") is None


@pytest.mark.data
@pytest.mark.parametrize("dataset_id", [i for i in IDS if hasattr(get(i).load(), "verify")])
def test_full_copy_matches_index(request, dataset_id):
    """``pytest --local --dataset <id> -m data``: the copy at $MIRBENCH_DATA/<id> against its index."""
    if dataset_id not in request.config.getoption("--dataset"):
        pytest.skip(f"needs --dataset {dataset_id}")
    root = dataset_dir(dataset_id)
    assert root.is_dir(), f"{root} not found: set MIRBENCH_DATA to the folder holding {dataset_id}/"
    problems = get(dataset_id).load().verify(root)
    assert not problems, f"{len(problems)} problems, e.g.\n" + "\n".join(problems[:20])
