"""The corpus as songs (Kim & Liem 2022 table): views against the build's own arrays, splits, tags, genres,
loaders."""

import numpy as np
import pandas as pd
import pytest
import torch

from mirbench.audio.features import frames_kim2022, mel_kim2022
from mirbench.data.corpus.songs import CorpusSongsDataModule, primary_genres


def _dm(tiny, **kw):
    return CorpusSongsDataModule(root=tiny["root"], n_pieces=tiny["n_pieces"], clips_per_piece=tiny["clips_per_piece"],
                                 seed=tiny["seed"], **kw)


@pytest.fixture(scope="module")
def build(tiny_corpus):
    p = tiny_corpus["path"]
    clips = pd.read_csv(p / "clips.csv")
    return {"clips": clips, "pieces": pd.read_csv(p / "pieces.csv"), "frames": np.load(p / "frames52.npy"),
            "audio": np.load(p / "audio.npy"), "tags": np.load(p / "tag_matrix.npy")}


def _clip_rows(clips, j):
    rows = clips.index[clips.track == j].to_numpy()
    return rows[np.argsort(clips.clip_id[rows].to_numpy())]  # clip ids end in the clip's position in the piece


def test_frames_and_audio_songs_are_the_pieces_clips_in_order(tiny_corpus, build):
    frames, audio = _dm(tiny_corpus), _dm(tiny_corpus, view="audio", crop_length=4096)
    n = len(build["pieces"])
    assert len(frames.songs()) == len(audio.songs()) == n
    for j in (0, n // 2, n - 1):
        rows = _clip_rows(build["clips"], j)
        np.testing.assert_array_equal(frames.songs()[j], build["frames"][rows].reshape(-1, 52))
        # tol: int16 / 32767 in float32 vs float64: one rounding, within u (6e-8) relative
        np.testing.assert_allclose(audio.songs()[j], build["audio"][rows].reshape(-1) / 32767.0, rtol=1e-6)
    assert isinstance(frames.songs().array, np.memmap)
    assert frames.songs()[0].shape == (tiny_corpus["clips_per_piece"] * 130, 52)


def test_mel_songs_are_the_kim_mel_of_the_whole_song_and_memory_mapped(tiny_corpus, build):
    dm = _dm(tiny_corpus, view="mel", crop_length=64)
    dm.prepare_data()
    song = dm.songs()[1]
    y = build["audio"][_clip_rows(build["clips"], 1)].reshape(-1) / 32767.0
    ref = mel_kim2022(y.astype(np.float32))
    assert song.shape == (1, 1 + len(y) // 256, 128)
    np.testing.assert_allclose(song[0], ref, atol=0.05)  # float16 cache: about 3 significant digits
    assert isinstance(dm.songs().array, np.memmap)


def test_splits_tags_and_genres_follow_the_pieces(tiny_corpus, build):
    dm = _dm(tiny_corpus, min_genre_pieces=1)
    pieces = build["pieces"]
    np.testing.assert_array_equal(dm.song_splits(), pieces["split"].to_numpy())
    np.testing.assert_array_equal(dm.song_tags(), build["tags"])
    labels, names = dm.song_genres()
    assert [names[i] for i in labels] == list(pieces["genre"])  # no folding: the leaf genre itself
    for s in ("train", "valid", "test"):
        assert set(dm.song_indices(s)) == set(np.flatnonzero(pieces["split"].to_numpy() == s))
    info = dm.data_info
    assert info.class_names == names and info.input_shape == (52,) and info.num_tags == build["tags"].shape[1]


def test_primary_genre_folds_rare_genres_into_their_source_s_most_common_genre():
    pieces = pd.DataFrame({"genre": ["reel"] * 4 + ["jig"] * 3 + ["strathspey", "air"] + ["qq"] * 2,
                           "source": ["ryans"] * 4 + ["oneills"] * 3 + ["ryans", "oneills"] + ["solo"] * 2})
    out = primary_genres(pieces, min_pieces=3)
    assert list(out) == ["reel"] * 4 + ["jig"] * 3 + ["reel", "jig"] + ["other"] * 2
    assert list(primary_genres(pieces, min_pieces=1)) == list(pieces["genre"])


def test_train_fraction_is_a_seeded_subset_of_the_train_split(tiny_corpus):
    full = _dm(tiny_corpus).train_indices()
    half = _dm(tiny_corpus, train_fraction=0.5).train_indices()
    assert set(half) < set(full) and len(half) == round(0.5 * len(full))
    np.testing.assert_array_equal(half, _dm(tiny_corpus, train_fraction=0.5).train_indices())
    assert not np.array_equal(half, _dm(tiny_corpus, train_fraction=0.5, subset_seed=1).train_indices())
    with pytest.raises(ValueError):
        _dm(tiny_corpus, train_fraction=0.0)


def test_frame_batches_are_padded_cropped_train_songs(tiny_corpus):
    torch.manual_seed(0)
    dm = _dm(tiny_corpus, batch_size=4, max_len=200)
    batch = next(iter(dm.train_dataloader()))
    assert batch["frames"].shape == (4, 200, 52) and batch["mask"].all()
    assert set(batch["index"].tolist()) <= set(range(len(dm.train_indices())))
    loader = _dm(tiny_corpus, batch_size=64, max_len=None).train_dataloader()
    assert len(loader.dataset) == len(dm.song_indices("train"))


def test_crop_pair_batches_for_kim_and_clmr(tiny_corpus):
    mel = _dm(tiny_corpus, view="mel", crop_length=64, batch_size=3)
    b = next(iter(mel.train_dataloader()))
    assert b["view1"].shape == b["view2"].shape == (3, 1, 64, 128)
    audio = _dm(tiny_corpus, view="audio", crop_length=5000, batch_size=3)
    b = next(iter(audio.train_dataloader()))
    assert b["view1"].shape == (3, 5000) and b["view1"].abs().max() <= 1.0
    with pytest.raises(ValueError, match="crop_length"):
        _dm(tiny_corpus, view="audio")


def test_song_from_audio_matches_the_build_features(tiny_corpus, build):
    dm = _dm(tiny_corpus)
    y = build["audio"][0].astype(np.float32) / 32767.0
    got = dm.song_from_audio(y)
    np.testing.assert_array_equal(got, frames_kim2022(y))
    # the build featurised the float audio before its int16 storage: equal up to the quantisation
    assert got.shape == build["frames"][0].shape
    assert np.corrcoef(got.ravel(), build["frames"][0].ravel())[0, 1] > 0.9999
    assert _dm(tiny_corpus, view="mel", crop_length=8).song_from_audio(y).shape == (1, 1 + len(y) // 256, 128)


def test_test_loader_yields_the_test_songs(tiny_corpus):
    dm = _dm(tiny_corpus)
    idx = torch.cat([b["index"] for b in dm.test_dataloader()]).numpy()
    np.testing.assert_array_equal(idx, dm.song_indices("test"))


def test_kim_mel_is_librosa_db_mel_with_the_reference_settings():
    import librosa

    y = np.random.default_rng(0).normal(size=22050 * 2).astype(np.float32) * 0.1
    ref = librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=22050, n_fft=1024, hop_length=256)).T
    out = mel_kim2022(y)
    assert out.shape == ref.shape == (1 + len(y) // 256, 128)
    # tol: float32 vs librosa's float32 power -> dB: a relative error d moves dB by 4.3 d; ~1e-6 relative
    # gives ~5e-6 dB, 200x below 1e-3
    np.testing.assert_allclose(out, ref, atol=1e-3)
