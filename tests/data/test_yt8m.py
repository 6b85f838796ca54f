"""YT8M-MusicVideo: YouTube-8M TFRecords (video- and frame-level) read with the tfrecord package."""

import numpy as np
import pytest

from mirbench.data import commands
from mirbench.data.realformat import quantize, write_yt8m
from mirbench.data.yt8m_musicvideo import (CorruptTFRecordError, YT8MMusicVideoDataModule, _read_videos, dequantize,
                                           iter_records, quantize, read_vocabulary, split_of)

MUSIC = 14  # our fixture vocabulary's index of "Music video"


def _videos(rng, n, labels, frames, prefix):
    return [{"id": f"{prefix}{k:03d}", "labels": labels[k % len(labels)],
             "audio": rng.uniform(-1, 1, (frames, 128)), "rgb": rng.uniform(-1, 1, (frames, 1024))} for k in range(n)]


@pytest.fixture(params=["video", "frame"])
def yt_root(request, tmp_path):
    rng = np.random.default_rng(0)
    root = tmp_path / "yt8m"
    root.mkdir()
    (root / "vocabulary.csv").write_text(
        "Index,TrainVideoCount,KnowledgeGraphId,Name,WikiUrl\n0,100,/m/03bt1gh,Game,x\n14,50,/m/064t9,Music video,y\n")
    train = _videos(rng, 6, [[MUSIC, 2], [3]], 5, "Tr")
    valid = _videos(rng, 8, [[MUSIC]], 5, "Va")
    write_yt8m(root / request.param / "train0000.tfrecord", train, level=request.param)
    write_yt8m(root / request.param / "validate0000.tfrecord", valid, level=request.param)
    (root / request.param / "train0001.tfrecord").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00garbage")
    return root, request.param, train, valid


def test_dequantize_round_trip():
    x = np.linspace(-2, 2, 1001)
    assert np.abs(dequantize(quantize(x)) - x).max() <= 4 / 255  # within one quantisation step
    # YouTube-8M's starter code: x * 4/255 + 4/512 - 2
    # tol: float32 dequantisation of 0 and 255: one rounding of values ~2, within 2u x 2 = 2.4e-7
    assert dequantize(np.array([0, 255], np.uint8)).tolist() == pytest.approx([4 / 512 - 2, 2 + 4 / 512], abs=1e-6)


def test_read_records(yt_root):
    root, level, train, _ = yt_root
    recs = list(iter_records(root / level / "train0000.tfrecord"))
    assert [r[0] for r in recs] == [v["id"] for v in train]
    vid, labels, audio, rgb = recs[0]
    assert labels.tolist() == [MUSIC, 2]
    if level == "video":
        assert audio.shape == (1, 128) and rgb.shape == (1, 1024)
        # tol: float32 mean of 5 dequantised rows vs numpy's: a few u x |x| <= 2
        np.testing.assert_allclose(audio[0], train[0]["audio"].mean(0), atol=1e-6)
    else:
        assert audio.shape == (5, 128) and rgb.shape == (5, 1024)
        # tol: one quantisation step (4 / 255): the frames are stored as uint8
        np.testing.assert_allclose(audio, train[0]["audio"], atol=4 / 255)
    assert read_vocabulary(root / "vocabulary.csv")["Music video"] == MUSIC


def test_prepare_selects_music_videos_and_pairs(yt_root, tmp_path):
    root, level, train, valid = yt_root
    cache = tmp_path / "cache"
    args = ["prepare", "yt8m_mv", "--root", str(root), "--cache-dir", str(cache), "--no-progress"]
    assert commands.main(args) == 0
    import json

    rep = json.loads((cache / "report.json").read_text())
    n_music = sum(MUSIC in v["labels"] for v in train + valid)
    assert (rep["computed"], rep["failed"]) == (n_music, 1) and rep["failures"][0]["item_id"] == "train0001.tfrecord"
    assert commands.main(args) == 0 and json.loads((cache / "report.json").read_text())["cached"] == n_music
    crop = None if level == "video" else 3
    dm = YT8MMusicVideoDataModule(root=str(root), cache_dir=str(cache), crop_frames=crop, batch_size=2)
    sizes = {s: len(r) for s, r in dm.table.splits.items()}
    assert sizes["train"] == 3 and sizes["valid"] + sizes["test"] == 8
    b = next(iter(dm.train_dataloader()))
    shape = (2, 128) if crop is None else (2, 3, 128)
    assert b["audio"].shape == shape and b["video"].shape[-1] == 1024 and b["track"].shape == (2,)
    ids_file = tmp_path / "ids.txt"
    ids_file.write_text(train[1]["id"] + "\n")
    assert commands.main(args[:-1] + ["--cache-dir", str(tmp_path / "c2"), "--ids", str(ids_file), "--no-progress"]) == 0
    assert YT8MMusicVideoDataModule(root=str(root), cache_dir=str(tmp_path / "c2")).table.ids == [train[1]["id"]]


def test_quantize_inverts_dequantize():
    q = np.arange(256, dtype=np.uint8)
    np.testing.assert_array_equal(quantize(dequantize(q)), q)
    x = np.linspace(-2, 2, 2001)
    assert np.abs(dequantize(quantize(x)) - x).max() <= 2 / 255 + 1e-9  # half a step


# split_of before groups existed (sha1 of the video id, even -> valid): the real data set's splits stay these
PINNED = {"nXSc": "valid", "Ab3d": "test", "Va000": "test", "Va001": "valid", "Va002": "valid", "Va003": "test",
          "Va004": "valid", "Va005": "test", "Va006": "valid", "Va007": "test", "zz9Q": "test", "-09K": "test"}


def test_split_of_without_groups_is_unchanged():
    assert {v: split_of("validate0042.tfrecord", v) for v in PINNED} == PINNED
    assert {split_of("train0001.tfrecord", v) for v in PINNED} == {"train"}
    assert {split_of("test0001.tfrecord", v) for v in PINNED} == {"test"}
    # a group replaces the id as the hash key, so a group's videos share a split
    assert {split_of("validate0000.tfrecord", v, "piece-7") for v in PINNED} == {split_of("validate0", "piece-7")}


def test_groups_keep_a_groups_videos_in_one_split(yt_root, tmp_path):
    root, level, train, valid = yt_root
    (root / "groups.csv").write_text("id,group\n" + "".join(f"{v['id']},g{k // 4}\n" for k, v in enumerate(valid)))
    cache = tmp_path / "cache"
    assert commands.main(["prepare", "yt8m_mv", "--root", str(root), "--cache-dir", str(cache), "--no-progress"]) == 0
    videos = _read_videos(cache)
    for g in ("g0", "g1"):
        members = [v for v in videos.values() if v[2] == g]
        assert len(members) == 4 and len({m[0] for m in members}) == 1
    assert all(videos[v["id"]][2] == v["id"] for v in train if MUSIC in v["labels"])  # no group: its own id


def test_videos_csv_written_before_groups_still_reads(tmp_path):
    (tmp_path / "videos.csv").write_text("id,split,file\nAb3d,test,validate0000.tfrecord\n")
    assert _read_videos(tmp_path) == {"Ab3d": ("test", "validate0000.tfrecord", "Ab3d")}


def test_sequence_batches(yt_root, tmp_path):
    root, level, train, valid = yt_root
    cache = tmp_path / "cache"
    assert commands.main(["prepare", "yt8m_mv", "--root", str(root), "--cache-dir", str(cache), "--no-progress"]) == 0
    dm = YT8MMusicVideoDataModule(root=str(root), cache_dir=str(cache), batch_size=4, sequences=True)
    b = next(iter(dm.val_dataloader()))
    t = 1 if level == "video" else 5
    n = len(dm.split_rows("valid"))
    assert b["audio"].shape == (min(4, n), t, 128) and b["rgb"].shape == (min(4, n), t, 1024)
    assert not b["mask"].any() and b["lengths"].tolist() == [t] * min(4, n)
    assert b["item"].tolist() == list(range(min(4, n))) and len(dm.item_groups("valid")) == n
    assert len(dm.group_names()) == len(dm.table.ids)  # without groups.csv every video is its own group


def test_unreadable_tfrecord_is_named(yt_root):
    root, level, _, _ = yt_root
    with pytest.raises(CorruptTFRecordError, match="train0001.tfrecord"):
        list(iter_records(root / level / "train0001.tfrecord"))
