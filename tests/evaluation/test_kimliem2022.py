"""Kim & Liem 2022 protocol wiring: oracle representations score as they must, the callback logs the table's
metrics through Trainer.test, the HDPGMM song-component matrix is saved, the GTZAN-mini split is right."""

import lightning as L
import numpy as np
import pytest

from mirbench.data.corpus.songs import CorpusSongsDataModule
from mirbench.data.base import DownstreamInputs, DownstreamSet
from mirbench.evaluation.kimliem2022 import RESPONSIBILITIES_FILE, KimLiem2022Evaluation, evaluate, gtzan_mini_songs
from mirbench.methods.g1 import G1Method
from mirbench.methods.hdpgmm import HDPGMMMethod

FAST = dict(genre_n_iter=4, tag_n_iter=2, itemknn_splits=2, gtzan_mini=False)


@pytest.fixture(scope="module")
def dm(tiny_corpus):
    return CorpusSongsDataModule(root=tiny_corpus["root"], n_pieces=tiny_corpus["n_pieces"],
                                 clips_per_piece=tiny_corpus["clips_per_piece"], seed=tiny_corpus["seed"],
                                 batch_size=8, max_len=None, min_genre_pieces=1, listening_users=300)


class Oracle:
    """``embed`` returns fixed per-song vectors (the songs come in the datamodule's order)."""

    def __init__(self, table: np.ndarray) -> None:
        self.table = table

    def embed(self, songs):
        assert len(songs) == len(self.table)
        return self.table


class ToySongs:
    """What the protocol reads from a datamodule: 300 songs, 6 genres, 12 tags (2 per genre, with noise),
    a simulated log over the tags."""

    def __init__(self) -> None:
        from mirbench.data.corpus.listening import simulate_listening

        rng = np.random.default_rng(0)
        self.genre = np.repeat(np.arange(6), 50)
        self.tags = np.zeros((300, 12), np.uint8)
        self.tags[np.arange(300), 2 * self.genre + rng.integers(0, 2, 300)] = 1
        self.tags[rng.random((300, 12)) < 0.05] = 1
        self.split = rng.permuted(np.array(["train"] * 200 + ["valid"] * 50 + ["test"] * 50))
        self.log = simulate_listening(self.tags, ["genre"] * 12, n_users=400, categories=("genre",), seed=0)

    def downstream_inputs(self):
        songs = DownstreamSet(name="toy", songs=[np.zeros((2, 2))] * 300, split=self.split, labels=self.genre,
                              tags=self.tags, plays=self.log.plays, tag_names=tuple(f"t{i}" for i in range(12)),
                              tag_categories=("genre",) * 12)
        return DownstreamInputs(view="frames52", song_from_audio=lambda y, sr=22050: y, genre=songs, tags=songs,
                                recommendation=songs)


def test_oracle_representations_score_high_and_noise_scores_low():
    dm = ToySongs()
    rng = np.random.default_rng(0)
    oracle = np.concatenate([np.eye(6)[dm.genre], dm.tags], 1) + 0.01 * rng.normal(size=(300, 18))
    kw = {**FAST, "tag_n_iter": 8}
    good = evaluate(Oracle(oracle), dm, **kw)
    bad = evaluate(Oracle(rng.normal(size=oracle.shape)), dm, **kw)
    assert set(good) >= {"test/gtzan_macro_f1", "test/mtat_macro_auroc", "test/echonest_ndcg500"}
    # labels, tags and log columns are aligned with the songs, and the predefined split is used
    # tol: approx's default: a perfect macro F1 is 1 up to float64 rounding; bad is < 0.4
    assert good["test/gtzan_macro_f1"] == pytest.approx(1.0) and bad["test/gtzan_macro_f1"] < 0.4
    assert good["test/mtat_macro_auroc"] > 0.95 and bad["test/mtat_macro_auroc"] < 0.65
    assert good["test/echonest_ndcg500"] > bad["test/echonest_ndcg500"] + 0.05
    assert "test/gtzan_mini_macro_f1" not in good


def test_callback_logs_the_table_metrics_through_trainer_test(dm, tmp_path):
    cb = KimLiem2022Evaluation(**FAST)
    trainer = L.Trainer(max_epochs=1, callbacks=[cb], logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, accelerator="cpu",
                        default_root_dir=tmp_path)
    model = G1Method(data_info=dm.data_info)
    trainer.fit(model, datamodule=dm)
    trainer.test(model, datamodule=dm)
    m = trainer.callback_metrics
    for k in ("gtzan_macro_f1", "mtat_macro_auroc", "echonest_ndcg500"):
        assert 0.0 <= float(m[f"test/{k}"]) <= 1.0
    assert float(m["test/eval_time_s"]) >= float(m["test/embed_time_s"]) > 0
    assert not (tmp_path / RESPONSIBILITIES_FILE).exists()  # G1 has no song-component matrix


def test_hdpgmm_song_component_matrix_is_saved_with_the_tags(dm, tmp_path):
    model = HDPGMMMethod(n_components=8, n_song_components=4, e_step_max_iter=20, init="kmeans++",
                         data_info=dm.data_info)
    trainer = L.Trainer(max_epochs=1, callbacks=[KimLiem2022Evaluation(**FAST)], logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        accelerator="cpu", default_root_dir=tmp_path)
    trainer.fit(model, datamodule=dm)
    trainer.test(model, datamodule=dm)
    saved = np.load(tmp_path / RESPONSIBILITIES_FILE)
    n = len(dm.songs())
    assert saved["song_comp"].shape == (n, 8)
    # tol: float32 responsibilities (softmax over 8 components) summed: within ~K u |r| ~ 5e-7; 1e-4 leaves 200x
    np.testing.assert_allclose(saved["song_comp"].sum(1), 1.0, atol=1e-4)
    np.testing.assert_array_equal(saved["tags"], dm.song_tags())
    assert list(saved["tag_names"]) == list(dm.data_info.tag_names)
    np.testing.assert_array_equal(saved["split"], dm.song_splits())


def test_gtzan_mini_split_is_stratified_and_deterministic(shared_data, tmp_path, monkeypatch):
    monkeypatch.setenv("MIRBENCH_DATA", str(tmp_path))
    root = shared_data / "gtzan_mini"
    if not root.is_dir():
        pytest.skip("gtzan_mini not in the shared data")
    calls = []

    def to_view(y):
        if len(y) > 22050:  # an excerpt, not the cache's 1-s probe of the transform
            calls.append(len(y))
        return np.zeros((3, 2), dtype=np.float32)

    songs, labels, split, ids = gtzan_mini_songs(root, "test-view", to_view)
    assert len(songs) == len(ids) == 100 and len(calls) == 100
    assert min(calls) >= 22050 * 29  # 30-s excerpts decoded at 22,050 Hz
    for s, n in (("train", 5), ("valid", 2), ("test", 3)):
        assert np.bincount(labels[split == s], minlength=10).tolist() == [n] * 10
    again = gtzan_mini_songs(root, "test-view", to_view)
    assert len(calls) == 100  # the view's songs are read back from disk
    np.testing.assert_array_equal(again[2], split)
    assert len(list((tmp_path / "gtzan_mini" / "features").glob("test-view-*/arrays/*/*.npy"))) == 100
    gtzan_mini_songs(root, "test-view", to_view, per_genre=2)  # a subset of the cached songs: nothing decoded
    assert len(calls) == 100
    gtzan_mini_songs(root, "audio", lambda y: y, per_genre=1)  # the waveform view is not kept
    gtzan_mini_songs(root, "audio", to_view, per_genre=1)
    assert len(calls) == 110 and not list((tmp_path / "gtzan_mini" / "features").glob("audio*"))
    other = gtzan_mini_songs(root, "test-view", lambda y: np.ones((3, 2), dtype=np.float32), per_genre=1)
    assert all((s == 1).all() for s in other[0])  # another transform under the same view name: its own cache
    assert len(list((tmp_path / "gtzan_mini" / "features").glob("test-view-*"))) == 2


def test_an_asked_for_gtzan_mini_column_without_excerpts_is_an_error(tmp_path):
    dm = ToySongs()
    with pytest.raises(FileNotFoundError, match="no GTZAN excerpts under .*gtzan_mini: false"):
        evaluate(Oracle(np.eye(300)[:, :8]), dm, **{**FAST, "gtzan_mini": True, "gtzan_mini_dir": str(tmp_path)})
