"""Track triplets of Lee et al. ISMIR 2020 Table 4: two clips of one track vs a clip of another."""

import numpy as np
from scipy.stats import chisquare

from mirbench.metrics.triplet_accuracy import sample_track_triplets


def test_track_triplets_are_valid_and_deterministic():
    track = np.array([5, 5, 5, 9, 9, 2, 7, 7, 7, 7, 3])  # 2 and 3 have one clip: never anchors
    a, p, n = sample_track_triplets(track, 5000, 0)
    assert len(a) == len(p) == len(n) == 5000
    assert (track[a] == track[p]).all() and (a != p).all() and (track[n] != track[a]).all()
    assert not np.isin(a, [5, 10]).any()
    for x, y in zip(sample_track_triplets(track, 5000, 0), (a, p, n)):
        np.testing.assert_array_equal(x, y)


def test_track_triplets_are_uniform_given_the_anchor():
    track = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2])
    a, p, n = sample_track_triplets(track, 60000, 1)
    # anchors uniform over the 9 clips; the positive of anchor 6 uniform over clips 5, 7, 8; its negative over 0-4
    assert chisquare(np.bincount(a, minlength=9)).pvalue > 1e-3
    assert chisquare(np.bincount(p[a == 6], minlength=9)[[5, 7, 8]]).pvalue > 1e-3
    assert chisquare(np.bincount(n[a == 6], minlength=9)[:5]).pvalue > 1e-3


def test_no_track_triplet_without_two_clips_or_two_tracks():
    assert all(len(x) == 0 for x in sample_track_triplets(np.arange(4), 10, 0))
    assert all(len(x) == 0 for x in sample_track_triplets(np.zeros(4), 10, 0))
