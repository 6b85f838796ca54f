"""GTZAN on real files: gtzan_mini written back into the real genres/<genre>/<genre>.000NN.{wav,au}
layouts, the real fault-filtered split lists, and a G1 genre probe end to end."""

import numpy as np
import pytest
import soundfile as sf

from mirbench.data.gtzan import GENRES, GTZANDataModule, audio_items, export_layout, find_tracks, stratified_split
from mirbench.data.splits import gtzan_split


@pytest.fixture(scope="module")
def mini(shared_data):
    root = shared_data / "gtzan_mini"
    if not (root / "genres").is_dir():
        pytest.skip(f"{root} not found")
    return root


@pytest.fixture(scope="module")
def split_dir(shared_data):
    return shared_data / "splits" / "GTZAN_split"


def test_published_split_counts(split_dir):
    lists = gtzan_split(split_dir)
    assert {k: len(v) for k, v in lists.items()} == {"train": 443, "valid": 197, "test": 290}
    assert not set(lists["train"]) & set(lists["test"])
    assert {t.split(".")[0] for t in lists["test"]} == set(GENRES)


@pytest.mark.parametrize("ext", ["wav", "au"])
def test_real_layouts_are_found_and_lossless(mini, tmp_path_factory, ext):
    dst = tmp_path_factory.mktemp(ext)
    wanted = [f"{g}.00001" for g in GENRES] + ["blues.00000", "jazz.00011"]
    files = export_layout(mini, dst, ext, tracks=wanted)
    assert len(files) == 12
    tracks = find_tracks(dst)
    assert sorted(tracks) == sorted(wanted) and tracks["blues.00000"] == dst / "genres" / "blues" / f"blues.00000.{ext}"
    assert sf.info(tracks["blues.00000"]).format == ext.upper()
    a, _ = sf.read(tracks["jazz.00011"], dtype="int16")
    b, _ = sf.read(mini / "genres" / "jazz" / "jazz.00011.flac", dtype="int16")
    np.testing.assert_array_equal(a, b)
    (dst / "genres" / "rock" / "notes.txt").write_text("not audio")  # ignored: not the GTZAN naming
    assert len(audio_items(dst)) == 12


def test_filtered_split_on_the_mini_subset(mini, split_dir):
    dm = GTZANDataModule(root=str(mini), split_dir=str(split_dir))
    t = dm.table
    # gtzan_mini holds tracks 0-9 (jazz: 0-8 minus 3 and 9, plus 11-12) of each genre
    assert {k: len(v) for k, v in t.splits.items()} == {"train": 40, "valid": 49, "test": 4}
    assert dm.data_info.class_names == GENRES and dm.data_info.num_classes == 10
    assert [GENRES[l] for l in t.labels[:3]] == ["blues"] * 3
    with pytest.raises(FileNotFoundError, match="music_dataset_split"):
        GTZANDataModule(root=str(mini), split_dir=str(mini)).table


def test_stratified_split_is_seeded_and_per_genre():
    ids = [f"{g}.{i:05d}" for g in GENRES for i in range(10)]
    a, b = stratified_split(ids, seed=1), stratified_split(ids, seed=1)
    assert a == b and {k: len(v) for k, v in a.items()} == {"train": 50, "valid": 20, "test": 30}
    assert sorted(sum(a.values(), [])) == sorted(ids)
