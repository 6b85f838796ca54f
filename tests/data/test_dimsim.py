"""Dim-Sim: CSVs with the published columns, 3-s clips cut from MSD-style audio, triplet accuracy."""

import numpy as np
import pytest
import soundfile as sf
import torch

from mirbench.audio.features import logmel_lee2020
from mirbench.data import commands
from mirbench.data.dimsim import DimSimDataModule, clip_items, read_triplets, triplet_accuracy
from mirbench.data.realformat import write_dimsim_csv

TRACKS = ["TRAAAAW128F429D538", "TRAAABD128F429CF47", "TRAAADZ128F9348C2E", "TRAAAEF128F4273421"]


@pytest.fixture(scope="module")
def dimsim_root(shared_data, tmp_path_factory):
    root = tmp_path_factory.mktemp("dimsim")
    audio = root / "msd_audio"
    audio.mkdir()
    flacs = sorted((shared_data / "gtzan_mini" / "genres").glob("*/*.00001.flac"))[:4]
    for track, flac in zip(TRACKS, flacs):  # real music standing in for the 7digital previews
        y, sr = sf.read(flac, dtype="float32")
        sf.write(audio / f"{track}.mp3", y[: sr * 12], sr, format="MP3")
    a, b, c, d = TRACKS
    clean = [
        dict(anchor_id=a, anchor_start_seconds=1.0, song1_id=b, song1_start_seconds=2.5, song2_id=c, song2_start_seconds=4.0, song1_vote=1, song2_vote=0),
        dict(anchor_id=a, anchor_start_seconds=6.0, song1_id=c, song1_start_seconds=0.0, song2_id=d, song2_start_seconds=8.0, song1_vote=0, song2_vote=1),
        dict(anchor_id=d, anchor_start_seconds=3.0, song1_id="TRZZZZZ128F0000000", song1_start_seconds=0.0, song2_id=b, song2_start_seconds=5.0, song1_vote=0, song2_vote=1),
    ]
    raw = [dict(r, song1_vote=v1, song2_vote=v2) for r, (v1, v2) in zip(clean, [(7, 2), (3, 3), (1, 9)])]
    write_dimsim_csv(root / "clean-dim-sim.csv", clean)
    write_dimsim_csv(root / "raw-dim-sim.csv", raw)
    return root


def test_csv_columns_and_clips(dimsim_root):
    header = (dimsim_root / "clean-dim-sim.csv").read_text().splitlines()[0].split(",")
    assert header[:4] == ["triplet_id", "anchor_id", "anchor_start_seconds", "anchor_start_samples"]
    assert header[-2:] == ["song1_vote", "song2_vote"] and len(header) == 15
    triplets, votes, ids = read_triplets(dimsim_root / "clean-dim-sim.csv")
    assert len(triplets) == 3 and votes.tolist()[0] == [1.0, 0.0]
    assert triplets[0][1].clip_id == f"{TRACKS[1]}@{int(2.5 * 22050)}" and triplets[0][1].duration == 3.0
    items = clip_items(dimsim_root, dimsim_root / "msd_audio", layout="by_id")
    assert len(items) == 9 and all(it.duration == 3.0 for it in items)


@pytest.fixture(scope="module")
def prepared(dimsim_root, tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    rc = commands.main(["prepare", "dimsim", "--root", str(dimsim_root), "--audio-root", str(dimsim_root / "msd_audio"),
                        "--cache-dir", str(cache), "--workers", "1", "--no-progress"])
    assert rc == 0
    return cache


def test_prepare_cuts_3s_clips(prepared, dimsim_root):
    from mirbench.audio.cache import FeatureCache
    from mirbench.audio.decode import load_audio
    from mirbench.audio.prepare import read_failures

    c = FeatureCache(prepared)
    cid = f"{TRACKS[1]}@{int(2.5 * 22050)}"
    x = c.load(cid)
    assert x.shape == (129, 128)
    ref = logmel_lee2020(load_audio(dimsim_root / "msd_audio" / f"{TRACKS[1]}.mp3", offset=2.5, duration=3.0))
    # tol: the cache stores float16: half a step, 2^-11 |x| <= 2e-3 for log-mel values below 8
    np.testing.assert_allclose(x, ref, atol=2e-3)
    assert [f["item_id"] for f in read_failures(prepared)] == ["TRZZZZZ128F0000000@0"]  # no audio: reported


def test_triplet_batches_and_accuracy(prepared, dimsim_root):
    dm = DimSimDataModule(root=str(dimsim_root), cache_dir=str(prepared), batch_size=4)
    with pytest.warns(UserWarning) as record:  # the clip without audio is named, never dropped silently
        batch = next(iter(dm.test_dataloader()))
    messages = " | ".join(str(w.message) for w in record)
    assert "1 of 9 items have no cached features" in messages and "1 triplets have a clip without" in messages
    assert batch["x"].shape == (2, 3, 129, 128) and batch["label"].tolist() == [0, 1]
    assert batch["votes"].tolist() == [[1.0, 0.0], [0.0, 1.0]]
    raw = DimSimDataModule(root=str(dimsim_root), version="raw", cache_dir=str(prepared))
    with pytest.warns(UserWarning, match="1 triplets with tied votes"):
        assert raw.table and raw.labels.tolist() == [0, 1]
    with pytest.raises(KeyError):
        dm.dataset("train")


def test_triplets_over_their_own_clips(prepared, dimsim_root):
    """What the MSD table's Dim-Sim column reads: each complete triplet as positions in the cached clips."""
    dm = DimSimDataModule(root=str(dimsim_root), cache_dir=str(prepared), batch_size=4)
    with pytest.warns(UserWarning, match="1 triplets have a clip without cached features"):
        d = dm.dimsim_triplets(transform=lambda x: x * 2.0)
    clips = [b for b in d.clips]
    x = torch.cat([b["x"] for b in clips])
    rows = dm.split_rows("test")
    assert len(x) == len(rows) == 8  # every cached clip once, in table order
    a, b = TRACKS[:2]
    first = (dm.table.ids[rows[d.anchor[0]]], dm.table.ids[rows[d.song1[0]]])
    assert first == (f"{a}@{int(1.0 * 22050)}", f"{b}@{int(2.5 * 22050)}")
    assert d.song1_vote.tolist() == [1.0, 0.0] and d.song2_vote.tolist() == [0.0, 1.0]
    cached = np.asarray(dm.cache.load(dm.table.ids[rows[d.song1[0]]]), dtype=np.float32)[:129]
    # tol: exact: 2 x a float16 value read back as float32 (assert_allclose's default rtol 1e-7)
    np.testing.assert_allclose(x[d.song1[0]].numpy(), 2.0 * cached)  # the caller's transform, the whole 3 s


def test_triplet_accuracy():
    a = np.array([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    s1 = np.array([[1.0, 0.0], [3.0, 0.0], [1.0, 0.0]])
    s2 = np.array([[2.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    # tol: approx's default: a fraction of counts; the 1e-9 shift keeps the tie a tie (distances equal)
    assert triplet_accuracy(a + 1e-9, s1, s2, np.array([0, 1, 0])) == pytest.approx(2 / 3)  # the tie is wrong
    assert triplet_accuracy(a + 1, s1, s2, np.array([0, 0, 1]), metric="cosine") >= 0
