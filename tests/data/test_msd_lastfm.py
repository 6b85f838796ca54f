"""MSD / Last.fm top-50: the real test split and tag list, and fixtures in the real formats
(Python-2 split pickles, msd_id_to_tag_vector.cP, lastfm_tags.db, 7digital and <MSD id>.mp3 layouts)."""

import collections

import numpy as np
import pytest
import soundfile as sf

from mirbench.data.msd_lastfm import MSDLastfmDataModule, audio_paths, build_table, tag_category, tags_from_db
from mirbench.data.realformat import write_lastfm_db, write_pickle, write_py2_list
from mirbench.data.splits import MSD_TEST_SIZE, load_py2_pickle, msd_split, read_lines


@pytest.fixture(scope="module")
def msd_split_dir(shared_data):
    return shared_data / "splits" / "MSD_split"


def test_real_test_split_and_tags(msd_split_dir):
    lists = msd_split(None, msd_split_dir / "filtered_list_test.cP")
    assert len(lists["test"]) == MSD_TEST_SIZE == 28435 and len(set(lists["test"])) == 28435
    assert all(t.startswith("TR") and len(t) == 18 for t in lists["test"])
    tags = read_lines(msd_split_dir / "50tagList.txt")
    assert len(tags) == 50 and tags[:3] == ["rock", "pop", "alternative"]
    counts = collections.Counter(tag_category(t) for t in tags)
    assert counts == {"genre": 28, "mood": 12, "instrument": 5, "era": 5}  # Lee et al. 2020's category sizes
    dm = MSDLastfmDataModule(root=str(msd_split_dir.parent))
    info = dm.data_info
    assert info.num_tags == 50 and info.categories == ("genre", "mood", "instrument", "era")
    assert len(info.tags_of("era")) == 5 and info.input_shape == (129, 128)
    assert {k: len(v) for k, v in dm.table.splits.items()} == {"test": 28435}


@pytest.fixture()
def msd_root(msd_split_dir, tmp_path):
    real_test = load_py2_pickle(msd_split_dir / "filtered_list_test.cP")
    tags = read_lines(msd_split_dir / "50tagList.txt")
    train = [f"TRAAAAA{k:04d}ZZZZZZZ"[:18] for k in range(10)]
    test = real_test[:4]
    root = tmp_path / "msd"
    sd = root / "MSD_split"
    write_py2_list(sd / "filtered_list_train.cP", train)  # first 7 train, last 3 valid (train_size=7)
    write_py2_list(sd / "filtered_list_test.cP", test)
    (sd / "50tagList.txt").write_text("\n".join(tags) + "\n")
    rng = np.random.default_rng(0)
    vectors = {t: (rng.random(50) < 0.1).astype(np.float64) for t in train + test}
    write_pickle(sd / "msd_id_to_tag_vector.cP", vectors)
    db = {t: {tags[j]: float(rng.integers(0, 100)) for j in np.flatnonzero(v)} for t, v in vectors.items()}
    db[test[0]]["not a top-50 tag"] = 100.0
    write_lastfm_db(root / "lastfm_tags.db", db)
    # 7digital layout for the first 5 tracks
    to7d = {t: 1000 + k for k, t in enumerate(train[:5])}
    write_pickle(sd / "MSD_id_to_7D_id.pkl", to7d)
    write_pickle(sd / "7D_id_to_path.pkl", {d: f"{d % 10}/{d % 7}/{d}.clip.mp3" for d in to7d.values()})
    for t in train[:2]:
        p = root / "audio" / f"{to7d[t] % 10}/{to7d[t] % 7}/{to7d[t]}.clip.mp3"
        p.parent.mkdir(parents=True, exist_ok=True)
        sf.write(p, 0.1 * rng.standard_normal(44100 * 4).astype(np.float32), 44100, format="MP3")
    return root, train, test, vectors, tags


def test_splits_tags_from_pickle_and_db_agree(msd_root):
    root, train, test, vectors, tags = msd_root
    t = build_table(root, root / "audio", train_size=7, with_audio=False)
    assert {k: len(v) for k, v in t.splits.items()} == {"train": 7, "valid": 3, "test": 4}
    assert [t.ids[i] for i in t.splits["valid"]] == train[7:] and [t.ids[i] for i in t.splits["test"]] == test
    np.testing.assert_array_equal(t.tags, np.stack([vectors[i] for i in t.ids]).astype(np.uint8))
    from_db = tags_from_db(root / "lastfm_tags.db", t.ids, tags)
    np.testing.assert_array_equal(from_db, t.tags)
    t2 = build_table(root, root / "audio", tag_source="db", train_size=7, with_audio=False)
    np.testing.assert_array_equal(t2.tags, t.tags)
    with pytest.raises(ValueError, match="first 201680 train"):
        build_table(root, root / "audio", with_audio=False)  # a 10-id train list is not the published one


def test_audio_layouts(msd_root, tmp_path):
    root, train, test, *_ = msd_root
    seven = audio_paths(train + test, root, root / "audio")
    assert sorted(seven) == sorted(train[:5]) and seven[train[0]].name == "1000.clip.mp3"
    flat = tmp_path / "flat"
    (flat / "A" / "B").mkdir(parents=True)
    (flat / "A" / "B" / f"{test[1]}.mp3").write_bytes(b"")
    (flat / f"{test[2]}.txt").write_bytes(b"")  # not audio
    by_id = audio_paths(train + test, root, flat, layout="by_id")
    assert by_id == {test[1]: flat / "A" / "B" / f"{test[1]}.mp3"}


def test_prepare_from_the_7digital_layout(msd_root, tmp_path):
    from mirbench.audio.cache import FeatureCache
    from mirbench.data import commands

    root, train, test, *_ = msd_root
    cache = tmp_path / "cache"
    rc = commands.main(["prepare", "msd_lastfm", "--root", str(root), "--cache-dir", str(cache), "--workers", "1", "--no-progress"])
    assert rc == 0
    c = FeatureCache(cache)
    assert sorted(c.ids()) == sorted(train[:2])
    assert c.load(train[0]).shape[1] == 128 and c.load(train[0]).dtype == np.float16  # 44.1 kHz MP3 -> 22,050 Hz
    from mirbench.audio.prepare import read_failures

    reasons = {f["item_id"]: f["reason"] for f in read_failures(cache)}
    assert len(reasons) == 12 and "no audio file" in next(f["path"] for f in read_failures(cache) if f["item_id"] == test[0])
