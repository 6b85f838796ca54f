"""MTAT: the real split pickles and label matrices, and annotations_final.csv in its real format."""

import numpy as np
import pytest
import soundfile as sf

from mirbench.data.mtat import MTATDataModule, build_table, read_annotations, tag_matrix
from mirbench.data.realformat import py2_pickle_list, write_mtat_annotations, write_py2_list
from mirbench.data.splits import load_py2_pickle, mtat_split, read_lines


@pytest.fixture(scope="module")
def split_dir(shared_data):
    return shared_data / "splits" / "MTAT_split"


def test_real_split_and_labels_load_to_published_counts(split_dir):
    lists = mtat_split(split_dir)
    assert {k: len(v) for k, v in lists.items()} == {"train": 15244, "valid": 1529, "test": 4332}
    assert lists["valid"][0] == "c/atomic_opera-alpha_and_oranges-01-rain_parade-117-146.mp3"
    assert all(p[0] in "0123456789abcdef" and p[1] == "/" for s in lists.values() for p in s)
    tags = read_lines(split_dir / "top50_tags.txt")
    assert len(tags) == 50 and tags[:2] == ["guitar", "classical"]
    for split, n in (("valid", 1529), ("test", 4332)):
        y = np.load(split_dir / f"y_{split}_pub.npy")
        assert y.shape == (n, 50) and set(np.unique(y)) <= {0.0, 1.0}
        assert (y.sum(1) >= 1).all()  # the split keeps clips with >= 1 top-50 tag
    # our Python-2 pickle writer reproduces the published bytes exactly
    raw = (split_dir / "valid_list_pub.cP").read_bytes()
    assert py2_pickle_list(load_py2_pickle(split_dir / "valid_list_pub.cP")) == raw


@pytest.fixture()
def mtat_root(split_dir, tmp_path):
    """A tiny MTAT in the real layout: the real split's first clips, annotations in the real format
    whose top-50 columns (shuffled among extra tags, one repeated) reproduce the real y_valid rows."""
    lists = mtat_split(split_dir)
    top50 = read_lines(split_dir / "top50_tags.txt")
    y_valid = np.load(split_dir / "y_valid_pub.npy")
    rng = np.random.default_rng(0)
    picks = {"train": lists["train"][:4], "valid": lists["valid"][:6], "test": lists["test"][:3]}
    extra = ["no voice", "singer", "duet", "plucking", "sitar"]
    columns = list(rng.permutation(top50 + extra)) + ["classical"]  # the real header repeats some tags
    paths, rows = [], []
    for split, ps in picks.items():
        for k, p in enumerate(ps):
            want = y_valid[k] if split == "valid" else rng.integers(0, 2, 50)
            row = [int(want[top50.index(c)]) if c in top50 else int(rng.integers(0, 2)) for c in columns]
            row[-1] = 0  # the repeated "classical" column adds nothing here
            paths.append(p)
            rows.append(row)
    paths.append("f/unlisted-clip-0-29.mp3")  # clips outside the split are ignored
    rows.append([1] * len(columns))
    clip_ids = [2 + 3 * k for k in range(len(paths))]
    root = tmp_path / "mtat"
    write_mtat_annotations(root / "annotations_final.csv", clip_ids, paths, columns, np.array(rows))
    sd = root / "MTAT_split"
    for split, ps in picks.items():
        write_py2_list(sd / f"{split}_list_pub.cP", [p[:-4] + ".npy" for p in ps])
    (sd / "top50_tags.txt").write_text("\n".join(top50) + "\n")
    for p in paths[:3]:
        (root / p).parent.mkdir(parents=True, exist_ok=True)
        sf.write(root / p, np.zeros(16000, np.float32), 16000, format="MP3")
    return root, picks, clip_ids, y_valid


def test_annotations_real_format(mtat_root):
    root, picks, clip_ids, y_valid = mtat_root
    text = (root / "annotations_final.csv").read_text().splitlines()
    assert text[0].startswith('"clip_id"\t"') and text[0].endswith('\t"mp3_path"')
    ids, paths, cols, m = read_annotations(root / "annotations_final.csv")
    assert ids == clip_ids and m.shape == (len(ids), 56) and cols.count("classical") == 2
    with pytest.raises(KeyError):
        tag_matrix(m, cols, ["no such tag"])


def test_table_maps_split_to_clip_ids_and_top50(mtat_root):
    root, picks, clip_ids, y_valid = mtat_root
    t = build_table(root, root / "MTAT_split")
    assert {k: len(v) for k, v in t.splits.items()} == {"train": 4, "valid": 6, "test": 3}
    assert t.ids[:4] == [str(c) for c in clip_ids[:4]] and "f/unlisted" not in " ".join(a.path for a in t.audio)
    np.testing.assert_array_equal(t.tags[t.splits["valid"]], y_valid[:6])
    assert t.audio[0].path.endswith(picks["train"][0])
    dm = MTATDataModule(root=str(root))
    assert dm.data_info.num_tags == 50 and dm.data_info.tag_names[0] == "guitar"


def test_unknown_split_clip_is_an_error(mtat_root):
    root, picks, *_ = mtat_root
    write_py2_list(root / "MTAT_split" / "test_list_pub.cP", ["0/not-in-annotations-0-29.npy"])
    with pytest.raises(ValueError, match="not in annotations_final.csv"):
        build_table(root, root / "MTAT_split")


def test_prepare_lists_missing_clips(mtat_root, tmp_path):
    from mirbench.data import commands

    root, picks, clip_ids, _ = mtat_root
    cache = tmp_path / "cache"
    rc = commands.main(["prepare", "mtat", "--root", str(root), "--feature", "logmel_lee2020",
                        "--cache-dir", str(cache), "--workers", "1", "--no-progress"])
    assert rc == 0
    from mirbench.audio.prepare import read_failures

    fails = read_failures(cache)
    assert len(fails) == 10 and all(f["reason"] == "file not found" for f in fails)
    dm = MTATDataModule(root=str(root), feature="logmel_lee2020", cache_dir=str(cache), batch_size=2)
    with pytest.warns(UserWarning, match="1 of 4 items have no cached features"):
        batch = next(iter(dm.train_dataloader()))
    assert batch["x"].shape == (2, 129, 128) and batch["tags"].shape == (2, 50)
