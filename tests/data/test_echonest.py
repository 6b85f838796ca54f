"""Echo Nest Taste Profile in its real text formats: mapping, mismatch list, Liang filter, user hold-out."""

import numpy as np
import pytest

from mirbench.audio.cache import FeatureCache
from mirbench.data.echonest import (EchonestDataModule, keep_items, liang_filter, load, load_interactions,
                                    read_mismatches, read_song_to_track, user_holdout_split)
from mirbench.data.realformat import write_taste_profile

USERS = [f"{k:040x}" for k in range(1, 31)]
SONGS = [f"SO{'A' * 10}{k:06d}" for k in range(12)]
TRACKS = [f"TR{'B' * 10}{k:06d}" for k in range(12)]


@pytest.fixture()
def root(tmp_path):
    rng = np.random.default_rng(0)
    triplets = []
    for u, user in enumerate(USERS):
        n = 3 if u < 5 else 8  # the first 5 users have < 5 items: filtered out
        for s in rng.choice(12, n, replace=False):
            triplets.append((user, SONGS[s], int(rng.integers(1, 20))))
    tracks = [(t, s, "Artist", "Title") for t, s in zip(TRACKS, SONGS)]
    tracks.append(("TR" + "C" * 16, SONGS[0], "Artist", "Duplicate"))  # a song listed twice: first track wins
    return write_taste_profile(tmp_path / "echonest", triplets, tracks, [(SONGS[11], TRACKS[11])])


def test_text_formats(root):
    assert (root / "train_triplets.txt").read_text().split("\n")[0].count("\t") == 2
    s2t = read_song_to_track(root / "unique_tracks.txt")
    assert s2t[SONGS[0]] == TRACKS[0] and len(s2t) == 12
    assert read_mismatches(root / "sid_mismatches.txt") == {SONGS[11]}


def test_filter_and_matrix(root):
    raw = load_interactions(root / "train_triplets.txt", read_song_to_track(root / "unique_tracks.txt"),
                            read_mismatches(root / "sid_mismatches.txt"))
    assert TRACKS[11] not in raw.items and raw.matrix.shape == (30, len(raw.items))
    x = load(root)
    assert len(x.users) == 25 and (np.asarray((x.matrix > 0).sum(1)).ravel() >= 5).all()
    lines = [l.split("\t") for l in (root / "train_triplets.txt").read_text().splitlines()]
    u, s, c = lines[-1]
    if s != SONGS[11]:
        assert x.matrix[x.users.index(u), x.items.index(TRACKS[SONGS.index(s)])] == int(c)
    kept = keep_items(x, set(x.items[:3]))
    assert kept.matrix.shape[1] == 3 and (np.asarray(kept.matrix.getnnz(1)) > 0).all()
    assert liang_filter(x, min_user_items=100).matrix.shape[0] == 0


def test_user_holdout_split(root):
    m = load(root).matrix
    sp = user_holdout_split(m, seed=3)
    n = m.shape[0]
    assert len(sp.valid_users) == len(sp.test_users) == max(int(0.1 * n), 1)
    assert sorted(np.r_[sp.train_users, sp.valid_users, sp.test_users].tolist()) == list(range(n))
    for users, fold, held in ((sp.valid_users, sp.valid_fold_in, sp.valid_held_out), (sp.test_users, sp.test_fold_in, sp.test_held_out)):
        np.testing.assert_array_equal((fold + held).toarray(), m[users].toarray())
        assert fold.multiply(held).nnz == 0
        counts = np.diff(m[users].indptr)
        np.testing.assert_array_equal(np.diff(fold.indptr), np.maximum((0.7 * counts).astype(int), 1))
    again = user_holdout_split(m, seed=3)
    np.testing.assert_array_equal(again.test_users, sp.test_users)


def test_datamodule_keeps_items_with_features(root, tmp_path):
    cache = FeatureCache(tmp_path / "cache", {"feature": "frames_kim2022"})
    for t in TRACKS[:6]:
        cache.put(t, np.ones((200, 52), np.float32))
    cache.flush()
    dm = EchonestDataModule(root=str(root), cache_dir=str(tmp_path / "cache"), batch_size=4)
    assert sorted(dm.interactions.items) == sorted(t for t in TRACKS[:6] if t in load(root).items)
    batch = next(iter(dm.train_dataloader()))
    assert batch["x"].shape == (4, 129, 52) and "tags" not in batch
    assert dm.user_split(seed=0).test_fold_in.shape[1] == len(dm.interactions.items)
