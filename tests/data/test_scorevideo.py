"""The embedded score-video set: YouTube-8M frame-level TFRecords built from rendered corpus pieces."""

from __future__ import annotations

import csv
import json
import shutil
import struct

import numpy as np
import pytest
import torch

from mirbench.data import commands
from mirbench.data.corpus.score import ParsedPiece, parse_piece
from mirbench.data.corpus.sources import select_pieces
from mirbench.data.scorevideo import datamodule as svdm
from mirbench.data.scorevideo.build import VOCAB_COLUMNS, ScoreVideoParams, verify_build
from mirbench.data.scorevideo.datamodule import ScoreVideoBuildError, ScoreVideoDataModule, scorevideo_dir
from mirbench.data.scorevideo.features import audio_frames, piano_roll_frames
from mirbench.data.yt8m_musicvideo import (CorruptTFRecordError, dequantize, iter_records, quantize,
                                           read_vocabulary)

SMALL = dict(n_pieces=6, renderings=3, max_seconds=10, min_seconds=4, videos_per_shard=4, train_fraction=0.5,
             single_fraction=0.17)  # one piece rendered once
STEP = 4 / 255  # one YouTube-8M quantisation step


def _rows(path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A 6-piece x 3-rendering build (about 3 s on one core) and the datamodule over it."""
    root = tmp_path_factory.mktemp("scorevideo")
    dm = ScoreVideoDataModule(root=str(root), build_workers=1, batch_size=4, **SMALL)
    dm.prepare_data()
    return root, dm.root, dm


def _raw_sequence_examples(path):
    """Records of a TFRecord file parsed without the tfrecord reader: framing and masked CRC32C checked
    here, payload decoded by the SequenceExample protobuf."""
    import crc32c
    from tfrecord import example_pb2

    def masked(b: bytes) -> int:
        c = crc32c.crc32c(b)
        return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF

    data = path.read_bytes()
    pos, out = 0, []
    while pos < len(data):
        header = data[pos: pos + 8]
        (length,), (hcrc,) = struct.unpack("<Q", header), struct.unpack("<I", data[pos + 8: pos + 12])
        assert hcrc == masked(header)
        payload = data[pos + 12: pos + 12 + length]
        assert struct.unpack("<I", data[pos + 12 + length: pos + 16 + length])[0] == masked(payload)
        ex = example_pb2.SequenceExample()
        ex.ParseFromString(payload)
        out.append(ex)
        pos += 16 + length
    return out


def test_build_layout_and_report(built):
    _, build, _ = built
    rep = json.loads((build / "report.json").read_text())
    assert rep["n_pieces_requested"] == 6 and rep["n_pieces"] + rep["n_failed"] == 6 and rep["n_pieces"] >= 5
    assert rep["n_videos"] == 3 * rep["n_pieces"] - 2 * rep["n_single_pieces"]
    assert all(f["reason"] for f in rep["failed"])
    assert rep["n_single_pieces"] <= 1
    with open(build / "vocabulary.csv", newline="") as f:
        assert tuple(csv.DictReader(f).fieldnames) == VOCAB_COLUMNS
    assert "Music video" in read_vocabulary(build / "vocabulary.csv")
    names = sorted(p.name for p in (build / "frame").glob("*.tfrecord"))
    assert names[0] == "train0000.tfrecord" and any(n.startswith("validate") for n in names)
    assert verify_build(build) == []


def test_records_parse_with_the_real_loader(built):
    _, build, _ = built
    music = read_vocabulary(build / "vocabulary.csv")["Music video"]
    renderings = {r["id"]: r for r in _rows(build / "renderings.csv")}
    seen = set()
    for path in sorted((build / "frame").glob("*.tfrecord")):
        for vid, labels, audio, rgb in iter_records(path):
            assert len(vid) == 4 and vid.isalnum()
            if music not in labels.tolist():  # one distractor per shard
                assert vid not in renderings
                continue
            assert audio.shape == (int(renderings[vid]["seconds"]), 128) and rgb.shape == (len(audio), 1024)
            assert 4 <= len(audio) <= 10 and audio.dtype == np.float32
            assert np.abs(audio).max() <= 2 + STEP and np.abs(rgb).max() <= 2 + STEP
            seen.add(vid)
    assert seen == set(renderings)


def test_records_parse_with_an_independent_reader(built):
    """Framing, CRCs and the SequenceExample fields, read with the protobuf directly, agree with the loader."""
    _, build, _ = built
    path = build / "frame" / "train0000.tfrecord"
    raw = _raw_sequence_examples(path)
    loaded = list(iter_records(path))
    assert len(raw) == len(loaded)
    for ex, (vid, labels, audio, rgb) in zip(raw, loaded):
        ctx, lists = ex.context.feature, ex.feature_lists.feature_list
        assert ctx["id"].bytes_list.value[0].decode() == vid
        assert list(ctx["labels"].int64_list.value) == labels.tolist()
        for key, dim, feats in (("audio", 128, audio), ("rgb", 1024, rgb)):
            frames = [f.bytes_list.value[0] for f in lists[key].feature]
            assert all(len(b) == dim for b in frames)
            q = np.stack([np.frombuffer(b, np.uint8) for b in frames])
            np.testing.assert_array_equal(quantize(feats), q)
            # tol: values on the 8-bit grid: quantise then dequantise returns them up to float32 rounding (~u x 2)
            np.testing.assert_allclose(dequantize(q), feats, atol=1e-6)


def test_uint8_round_trip_within_half_a_step():
    rng = np.random.default_rng(0)
    x = np.concatenate([np.linspace(-2, 2, 4001), rng.uniform(-2, 2, 10000)])
    assert np.abs(dequantize(quantize(x)) - x).max() <= STEP / 2 + 1e-9
    q = np.arange(256, dtype=np.uint8)
    np.testing.assert_array_equal(quantize(dequantize(q)), q)  # exact inverse on the 256 levels
    audio = audio_frames(np.sin(np.arange(3 * 22050) * 0.05).astype(np.float32) * 0.3, 3)
    assert audio.shape == (3, 128)
    assert np.abs(dequantize(quantize(audio)) - audio).max() <= STEP / 2 + 1e-6


def test_rgb_is_the_score_at_the_rendering_tempo(built):
    one_note = ParsedPiece([np.array([[0.0, 1.0, 60.0], [1.0, 0.5, 62.0]])], "major", 0, 1.5)
    roll = piano_roll_frames(one_note, bpm=120.0, seconds=2).reshape(2, 128, 8)
    o = (roll + 2) / 4  # occupancy
    # tol: assert_allclose's default: occupancies of whole frames, exact small integers / 4 (and the next line)
    np.testing.assert_allclose(o[0, 60], [1, 1, 1, 1, 0, 0, 0, 0])  # a quarter note = 0.5 s at 120 BPM
    np.testing.assert_allclose(o[0, 62], [0, 0, 0, 0, 1, 1, 0, 0])
    assert o[1].max() == 0 and o[0].sum() == 6
    _, build, _ = built
    spec = {s.piece_id: s for s in select_pieces(SMALL["n_pieces"], 0)}
    rows = [r for r in _rows(build / "renderings.csv") if r["file"].endswith("train0000.tfrecord")][:2]
    records = {vid: rgb for vid, _, _, rgb in iter_records(build / "frame" / "train0000.tfrecord")}
    for r in rows:
        want = piano_roll_frames(parse_piece(spec[r["piece_id"]]), float(r["bpm"]), int(r["seconds"]))
        assert np.abs(records[r["id"]] - want).max() <= STEP / 2 + 0.02  # bpm stored to 2 decimals


def test_splits_are_piece_disjoint(built):
    _, build, dm = built
    pieces = {p["piece_id"]: p for p in _rows(build / "pieces.csv")}
    groups = dm.group_names()
    split_of_group: dict[str, str] = {}
    for split in ("train", "valid", "test"):
        assert len(dm.split_rows(split)) > 0
        for g in dm.item_groups(split):
            assert split_of_group.setdefault(groups[g], split) == split
    assert split_of_group == {k: p["split"] for k, p in pieces.items()}
    sizes = sorted(len(p["ids"].split()) for p in pieces.values())
    assert len(dm.table.ids) == sum(sizes)  # distractors are not "Music video"
    assert set(sizes) <= {1, 3} and sizes.count(1) == json.loads((build / "report.json").read_text())["n_single_pieces"]


def test_item_renderings_follow_item_order(built):
    _, _, dm = built
    rows = dm.item_renderings("test")
    assert [r["id"] for r in rows] == dm.item_ids("test")
    names = dm.group_names()
    assert [r["piece_id"] for r in rows] == [names[g] for g in dm.item_groups("test")]
    every = [r for s in ("train", "valid", "test") for r in dm.item_renderings(s)]
    assert all((r["siblings"] == "0") == (r["tempo_gap"] == float("inf")) for r in every)
    assert all(r["tempo_gap"] < 2 for r in every if r["siblings"] == "2")
    assert any(r["siblings"] == "0" for r in every)


def test_the_cli_prepares_the_build_as_a_youtube8m_copy(built, tmp_path, monkeypatch):
    root, build, dm = built
    cache = tmp_path / "cache"
    assert commands.main(["prepare", "yt8m_mv", "--root", str(build), "--cache-dir", str(cache), "--no-progress"]) == 0
    from mirbench.data.yt8m_musicvideo import YT8MMusicVideoDataModule

    real = YT8MMusicVideoDataModule(root=str(build), cache_dir=str(cache), sequences=True)
    for split in ("train", "valid", "test"):
        assert real.item_ids(split) == dm.item_ids(split)
    monkeypatch.setattr(svdm, "ScoreVideoParams", lambda: ScoreVideoParams(**SMALL))
    assert commands.main(["prepare", "scorevideo", "--root", str(root), "--workers", "1", "--no-progress"]) == 0


def test_batches_follow_the_two_tower_contract(built):
    _, _, dm = built
    b = next(iter(dm.test_dataloader()))
    n = len(dm.split_rows("test"))
    assert set(b) == {"audio", "rgb", "mask", "lengths", "item", "group", "track"}
    B, T = b["mask"].shape
    assert b["audio"].shape == (B, T, 128) and b["rgb"].shape == (B, T, 1024) and B == min(4, n)
    assert b["audio"].dtype == b["rgb"].dtype == torch.float32 and b["mask"].dtype == torch.bool
    assert b["item"].dtype == b["group"].dtype == torch.long
    assert b["item"].tolist() == list(range(B))  # evaluation keeps the split's order
    assert b["group"].tolist() == dm.item_groups("test")[:B].tolist()
    assert torch.equal(b["mask"], torch.arange(T)[None] >= b["lengths"][:, None])
    assert b["audio"][b["mask"]].abs().sum() == 0 and b["audio"][~b["mask"]].abs().sum() > 0
    assert int(b["lengths"].max()) == T
    train = next(iter(dm.train_dataloader()))
    assert train["audio"].shape[0] == 4 and train["rgb"].shape[-1] == 1024
    cropped = ScoreVideoDataModule(root=str(dm.build_root), build_workers=1, batch_size=4, crop_frames=5, **SMALL)
    c = next(iter(cropped.val_dataloader()))
    assert c["audio"].shape[1] == 5 and not c["mask"].any()


@pytest.mark.parametrize("damage", ["missing", "truncated"])
def test_a_damaged_tfrecord_is_named(built, tmp_path, damage):
    root, build, _ = built
    copy_root = tmp_path / "copy"
    shutil.copytree(build, copy_root / build.name, ignore=shutil.ignore_patterns("features"))
    shard = copy_root / build.name / "frame" / "validate0000.tfrecord"
    if damage == "missing":
        shard.unlink()
    else:
        shard.write_bytes(shard.read_bytes()[:-100])
        with pytest.raises(CorruptTFRecordError, match="validate0000.tfrecord"):
            list(iter_records(shard))
    assert scorevideo_dir(ScoreVideoParams(**SMALL), str(copy_root)) == copy_root / build.name
    dm = ScoreVideoDataModule(root=str(copy_root), build_workers=1, **SMALL)
    problem = "missing" if damage == "missing" else "corrupt"
    with pytest.raises(ScoreVideoBuildError, match=f"validate0000.tfrecord: {problem}"):
        dm.prepare_data()
    with pytest.raises(CorruptTFRecordError, match="nothere.tfrecord"):
        list(iter_records(tmp_path / "nothere.tfrecord"))


@pytest.mark.parametrize("bad", [dict(renderings=0), dict(train_fraction=1.0), dict(min_seconds=40)])
def test_params_are_checked(bad):
    with pytest.raises(ValueError):
        ScoreVideoParams(**bad)
