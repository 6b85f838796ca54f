"""The embedded corpus: a real small build, its layout, splits, tags and Dim-Sim triplets."""

import json

import numpy as np
import pandas as pd
import pytest

from mirbench.data.corpus import tags as T
from mirbench.data.corpus.build import _render_piece, assign_splits
from mirbench.data.corpus.datamodule import CorpusDataModule
from mirbench.data.corpus.dimsim import DIMSIM_COLUMNS
from mirbench.data.corpus.sources import PieceSpec, SOURCES, candidates, quotas, select_pieces, split_abc


def test_build_layout_is_row_aligned(tiny_corpus):
    path = tiny_corpus["path"]
    report = json.loads((path / "report.json").read_text())
    clips, pieces = pd.read_csv(path / "clips.csv"), pd.read_csv(path / "pieces.csv")
    assert report["n_pieces"] == len(pieces) and report["n_pieces"] + report["n_failed"] == 30
    assert len(clips) == len(pieces) * 3 == report["n_clips"]
    assert np.load(path / "logmel.npy", mmap_mode="r").shape == (len(clips), 129, 128)
    assert np.load(path / "frames52.npy", mmap_mode="r").shape == (len(clips), 130, 52)
    audio = np.load(path / "audio.npy", mmap_mode="r")
    assert audio.shape == (len(clips), 66150) and audio.dtype == np.int16
    assert np.abs(audio).max(axis=1).min() > 30  # no silent clip
    assert np.load(path / "tag_matrix.npy").shape == (len(pieces), len(T.TAGS))


def test_every_piece_has_genre_instrument_and_era_tags_and_sparse_moods(tiny_corpus):
    m = np.load(tiny_corpus["path"] / "tag_matrix.npy").astype(bool)
    cats = np.asarray(T.TAG_CATEGORIES)
    for c in ("genre", "instrument", "era"):
        assert m[:, cats == c].any(1).all(), c
    assert 0 < m[:, cats == "mood"].any(1).mean() < 1
    assert m[:, cats == "instrument"].sum(1).max() >= 2  # several instruments per clip exist


def test_splits_are_piece_disjoint_and_present(tiny_corpus):
    clips = pd.read_csv(tiny_corpus["path"] / "clips.csv")
    assert clips.groupby("track")["split"].nunique().max() == 1
    assert set(clips["split"]) == {"train", "valid", "test"}


def test_dimsim_files_have_the_real_columns(tiny_corpus):
    raw = pd.read_csv(tiny_corpus["path"] / "dimsim_raw.csv")
    clean = pd.read_csv(tiny_corpus["path"] / "dimsim_clean.csv")
    assert list(raw.columns) == DIMSIM_COLUMNS and list(clean.columns) == DIMSIM_COLUMNS
    assert ((raw.song1_vote + raw.song2_vote).between(5, 12)).all()
    assert set(clean.song1_vote + clean.song2_vote) <= {1}
    agreement = raw[["song1_vote", "song2_vote"]].max(1) / raw[["song1_vote", "song2_vote"]].sum(1)
    assert len(clean) == (agreement >= 0.9).sum()


def test_selection_is_deterministic_and_weighted():
    a, b = select_pieces(40, seed=3), select_pieces(40, seed=3)
    assert a == b and select_pieces(40, seed=4) != a
    q = quotas(100)
    assert sum(q.values()) == 100 and q["essen"] == 25


def test_abc_tune_types_come_from_the_r_field():
    text = "X:1\nT:A\nR:reel\nK:G\nGABc|\n\nX:2\nT:B\nR: Slip Jig\nK:D\nDEF|\n"
    tunes = split_abc(text)
    assert [n for n, _, _ in tunes] == [1, 2] and tunes[1][1]["R"] == "Slip Jig"
    ryans = candidates(next(s for s in SOURCES if s.name == "ryans"))
    assert {p.genre for p in ryans} <= {"reel", "jig", "hornpipe", "strathspey", "air"}


def test_split_assignment_covers_small_builds():
    pieces = select_pieces(24, seed=0)
    splits = assign_splits(pieces, (0.8, 0.1, 0.1), seed=0)
    assert {s: splits.count(s) for s in ("valid", "test")} == {"valid": 2, "test": 2}


def test_a_broken_piece_is_reported_not_raised():
    bad = PieceSpec("ryansMammoth/Nope.abc#1", "ryans", "ryansMammoth/Nope.abc", "reel", "traditional", 1)
    from mirbench.data.corpus.build import CorpusParams

    result = _render_piece((0, bad, CorpusParams(n_pieces=1)))
    assert "Nope.abc" in result["error"]


def test_datamodule_batches_and_data_info(tiny_corpus):
    dm = CorpusDataModule(root=tiny_corpus["root"], n_pieces=30, clips_per_piece=3, batch_size=4)
    info = dm.data_info
    assert info.categories == ("genre", "mood", "instrument", "era") and info.num_tags == len(T.TAGS)
    assert info.input_shape == (1, 129, 128)
    batch = next(iter(dm.train_dataloader()))
    assert batch["x"].shape == (4, 1, 129, 128) and batch["tags"].shape == (4, len(T.TAGS))
    d = dm.dimsim_triplets(clean=False)
    assert len(d.anchor) == 200 and d.anchor.max() < len(dm.split_clips["test"]) and d.clips is None


def test_triplets_follow_the_category_rule(tiny_corpus):
    dm = CorpusDataModule(root=tiny_corpus["root"], n_pieces=30, clips_per_piece=3, sampling="triplets",
                          track_triplets=True, triplets_per_epoch=64)
    dm.setup()
    loader = dm.train_dataloader()
    ds, sampler = loader.dataset, loader.dataset.sampler
    rng = np.random.default_rng(0)
    tags = dm.track_tags.astype(bool)
    train = dm.split_clips["train"]  # the sampler draws positions in the training clips
    assert np.array_equal(dm.split_rows("train"), train)
    for _ in range(200):
        c = int(rng.integers(4))
        a, p, n = train[list(sampler.category_triplet(c, rng))]
        cols = np.asarray(dm.tag_categories) == dm.data_info.categories[c]
        ta, tp, tn = (dm.clip_track[i] for i in (a, p, n))
        assert ta != tp and (tags[ta] & tags[tp] & cols).any()
        assert not (tags[ta] & tags[tn] & cols).any()
        a, p, n = train[list(sampler.track_triplet(rng))]
        assert dm.clip_track[a] == dm.clip_track[p] != dm.clip_track[n] and a != p
    item = ds[5]
    assert set(item) >= {"anchor", "positive", "negative", "category", "track_anchor"}
    assert ds[5]["category"] == item["category"]  # reproducible within an epoch
    # a new epoch draws new triplets (Lightning calls set_epoch on the loader's sampler at every epoch start)
    first = [int(i) for i in loader.sampler]
    loader.sampler.set_epoch(1)
    second = [int(i) for i in loader.sampler]
    assert first == list(range(64)) and second == list(range(64, 128))
    same = sum(bool((ds[i]["anchor"] == ds[j]["anchor"]).all()) for i, j in zip(first, second))
    assert same < 16


def test_mood_tags_only_where_they_stand_out():
    assert T.mood_tags("major", 110.0, 80) == []
    assert T.mood_tags("minor", 60.0, 120) == ["minor", "slow", "loud"]
    assert T.mood_tags("major", 150.0, 50) == ["fast", "soft"]


def test_unknown_genre_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown corpus genre"):
        T.genre_tags("polka")


def test_concurrent_runs_build_the_corpus_once(tmp_path, monkeypatch):
    """Two processes needing the same build take turns: one builds, the other waits and reads it."""
    import threading
    import time

    from mirbench.data.corpus import datamodule as corpus_dm

    calls = []

    def slow_build(path, params, workers=None):
        calls.append(path)
        time.sleep(0.5)
        path.mkdir(parents=True)
        (path / "corpus.json").write_text("{}")

    monkeypatch.setattr(corpus_dm, "build_corpus", slow_build)
    params = corpus_dm.CorpusParams(n_pieces=7)
    out = []
    threads = [threading.Thread(target=lambda: out.append(corpus_dm.ensure_corpus(params, str(tmp_path))))
               for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len(out) == 3 and all((p / "corpus.json").is_file() for p in out)
