"""The simulated listening log: deterministic, shaped for the item-kNN protocol, and users really follow
their tastes."""

import numpy as np
import pytest

from mirbench.data.corpus import tags as T
from mirbench.data.corpus.listening import simulate_listening
from mirbench.evaluation.itemknn import itemknn_ndcg, split_users
from mirbench.metrics.ndcg import ndcg_at_k


@pytest.fixture(scope="module")
def catalogue():
    """200 songs with one genre, one era and one or two instruments each (the corpus vocabulary)."""
    rng = np.random.default_rng(0)
    cats = np.asarray(T.TAG_CATEGORIES)
    y = np.zeros((200, len(T.TAGS)), dtype=np.uint8)
    for c, k in (("genre", 1), ("era", 1), ("instrument", 2)):
        cols = np.flatnonzero(cats == c)
        for i in range(len(y)):
            y[i, rng.choice(cols, size=rng.integers(1, k + 1), replace=False)] = 1
    return y, T.TAG_CATEGORIES


def test_deterministic_and_shaped(catalogue):
    y, cats = catalogue
    a = simulate_listening(y, cats, n_users=300, seed=3)
    b = simulate_listening(y, cats, n_users=300, seed=3)
    c = simulate_listening(y, cats, n_users=300, seed=4)
    assert (a.plays != b.plays).nnz == 0 and (a.plays != c.plays).nnz > 0
    n_u = np.diff(a.plays.indptr)
    assert a.plays.shape == (300, 200) and n_u.min() >= 5 and n_u.max() <= 100
    assert 15 < n_u.mean() < 40  # mean_items = 25
    # tol: allclose's default: synthetic play counts are whole numbers stored as floats, exact
    assert (a.plays.data >= 1).all() and np.allclose(a.plays.data, np.round(a.plays.data))
    assert set(a.taste) == {"genre", "era", "instrument"}
    # tol: assert_allclose's default rtol 1e-7: float64 shares normalised to sum 1, a few eps
    np.testing.assert_allclose(a.taste["genre"].sum(1), 1.0)


def test_users_play_songs_of_their_favourite_tags(catalogue):
    y, cats = catalogue
    log = simulate_listening(y, cats, n_users=400, seed=0)
    genre_cols = np.flatnonzero(np.asarray(cats) == "genre")
    pref = log.taste["genre"] @ y[:, genre_cols].T  # (U, I): the user's preference for each song's genre
    played = log.plays.toarray() > 0
    mean_played = (pref * played).sum(1) / played.sum(1)
    # a user's songs carry genres they prefer far more than the catalogue on average
    assert (mean_played > pref.mean(1)).mean() > 0.9
    assert np.median(mean_played / pref.mean(1)) > 2.0
    # with no taste (strength 0) the songs follow popularity only, and the genre signal is gone
    flat = simulate_listening(y, cats, n_users=400, seed=0, taste_strength=0.0)
    fp = flat.plays.toarray() > 0
    assert np.median(((pref * fp).sum(1) / fp.sum(1)) / pref.mean(1)) < 1.3


def test_taste_aware_recommendation_beats_popularity_and_random_features(catalogue):
    y, cats = catalogue
    log = simulate_listening(y, cats, n_users=1000, seed=1)
    rng = np.random.default_rng(0)
    split = split_users(log.plays, rng)
    pop = np.asarray(log.plays.sum(0)).ravel()  # popularity-only ranking, the same for every user
    hidden = split.test_hidden
    pop_ndcg = np.nanmean(ndcg_at_k(np.tile(pop, (hidden.shape[0], 1)), hidden, 500))
    # the protocol's item-kNN on the true tags (content that explains the tastes) vs on random features
    tags = itemknn_ndcg(y.astype(float), log.plays, n_splits=2).ndcg
    noise = itemknn_ndcg(rng.normal(size=y.shape), log.plays, n_splits=2).ndcg
    assert tags > noise + 0.05
    assert tags > pop_ndcg  # taste-aware (content) recommendation beats popularity only
