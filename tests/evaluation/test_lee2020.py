"""Lee et al. 2020 protocol: macro AUC vs scikit-learn, track means, and the callback through a real
``Trainer.test`` on synthetic clips whose features are tag-informative (or not)."""

import numpy as np
import pytest
import torch
from lightning.pytorch import LightningDataModule, LightningModule, Trainer
from sklearn.metrics import roc_auc_score
from torch.utils.data import DataLoader

from mirbench.data.base import DataInfo, DimSimTriplets, RetrievalInputs
from mirbench.evaluation.embeddings import collect, mean_by_track
from mirbench.evaluation.lee2020 import Lee2020Evaluation, centroid_scores, macro_auc

TAGS = ("rock", "pop", "jazz", "metal", "happy", "sad", "calm", "angry")
INFO = DataInfo(tag_names=TAGS, tag_categories=("genre",) * 4 + ("mood",) * 4, categories=("genre", "mood"))
CLIPS = 3


def test_macro_auc_matches_sklearn_and_skips_degenerate_tags():
    rng = np.random.default_rng(0)
    y = (rng.random((200, 6)) < 0.3).astype(int)
    y[:, 4], y[:, 5] = 0, 1  # no positive / no negative: skipped
    s = rng.normal(size=(200, 6)) + 1.5 * y
    s[:, 0] = np.round(s[:, 0])  # ties
    s[:, 1] *= 100.0  # far outside [0, 1]: no sigmoid saturation
    auc, used = macro_auc(s, y)
    assert used.tolist() == [True] * 4 + [False] * 2
    # tol: float64 AUC by two algorithms (rationals of denominators < 2,500): a few eps; one pair moves it by 4e-4
    assert auc == pytest.approx(roc_auc_score(y[:, :4], s[:, :4], average="macro"), abs=1e-6)
    s[:, 2] = np.nan  # no reference centroid for tag 2
    auc, used = macro_auc(s, y)
    assert used.tolist() == [True, True, False, True, False, False]
    # tol: as above
    assert auc == pytest.approx(roc_auc_score(y[:, [0, 1, 3]], s[:, [0, 1, 3]], average="macro"), abs=1e-6)


def test_centroid_scores_and_mean_by_track():
    rng = np.random.default_rng(1)
    emb, track = rng.normal(size=(30, 4)), rng.integers(0, 7, 30)
    tags = (rng.random((7, 3)) < 0.5).astype(np.float32)[track]
    out = mean_by_track(emb, track, tags=tags, logits=emb[:, :2])
    assert out["track"].tolist() == sorted(set(track.tolist()))
    for i, t in enumerate(out["track"].tolist()):
        # tol: assert_allclose's default rtol 1e-7: float64 means of <= 30 rows, a few eps (and the next line)
        np.testing.assert_allclose(out["emb"][i].numpy(), emb[track == t].mean(0))
        np.testing.assert_allclose(out["logits"][i].numpy(), emb[track == t, :2].mean(0))
        np.testing.assert_array_equal(out["tags"][i].numpy(), tags[track == t][0])
    ref_tags = tags.copy()
    ref_tags[:, 2] = 0
    sc = centroid_scores(emb, emb, ref_tags).numpy()
    for t in range(2):
        c = emb[ref_tags[:, t] > 0].mean(0)
        # tol: assert_allclose's default: float64 norms of 4 terms, a few eps
        np.testing.assert_allclose(sc[:, t], -np.linalg.norm(emb - c, axis=1))
    assert np.isnan(sc[:, 2]).all()


# ---------------------------------------------------------------- synthetic model + datamodule
def _split(n_tracks, informative, seed):
    rng = np.random.default_rng(seed)
    genre, mood = rng.integers(0, 4, n_tracks), rng.integers(0, 4, n_tracks)
    tags = np.zeros((n_tracks, 8), np.float32)
    tags[np.arange(n_tracks), genre] = 1
    tags[np.arange(n_tracks), 4 + mood] = 1
    items = []
    for t in range(n_tracks):
        for _ in range(CLIPS):
            x = (tags[t] if informative else 0.0) + 0.3 * rng.normal(size=8)
            items.append({"x": torch.tensor(x, dtype=torch.float32), "tags": torch.from_numpy(tags[t]),
                          "track": torch.tensor(1000 + t)})
    return items, genre, mood


class FakeData(LightningDataModule):
    def __init__(self, informative=True, with_dimsim=True, n_tracks=120):
        super().__init__()
        self.test_items, self.genre, self.mood = _split(n_tracks, informative, 0)
        self.ref_items, _, _ = _split(n_tracks, informative, 1)
        self.with_dimsim = with_dimsim

    @property
    def data_info(self):
        return INFO

    def test_dataloader(self):
        return DataLoader(self.test_items, batch_size=32)

    def reference_dataloader(self):
        return DataLoader(self.ref_items, batch_size=32)

    def dimsim_triplets(self):
        if not self.with_dimsim:
            return None
        rng = np.random.default_rng(2)
        same = self.genre[:, None] * 4 + self.mood[:, None] == self.genre * 4 + self.mood
        anchor, s1, s2, v1 = [], [], [], []
        for a in rng.integers(0, len(self.genre), 300):
            sim = rng.choice([t for t in np.flatnonzero(same[a]) if t != a] or [a])
            dis = rng.choice(np.flatnonzero((self.genre != self.genre[a]) & (self.mood != self.mood[a])))
            first = rng.random() < 0.5  # which position holds the similar song
            anchor.append(a * CLIPS)
            s1.append((sim if first else dis) * CLIPS + 1)
            s2.append((dis if first else sim) * CLIPS + 2)
            v1.append(int(first))
        v1 = np.array(v1)
        return DimSimTriplets(anchor=np.array(anchor), song1=np.array(s1), song2=np.array(s2), song1_vote=v1,
                              song2_vote=1 - v1)

    def retrieval_inputs(self):
        return RetrievalInputs(test=self.test_dataloader(), reference=self.reference_dataloader(),
                               dimsim=self.dimsim_triplets())


class FakeMethod(LightningModule):
    """embed = identity on the 8 features; test_step does nothing (or logs a loss)."""

    def __init__(self, log_in_test_step=False):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(()))
        self.log_in_test_step = log_in_test_step

    def embed(self, x):
        return x * self.scale

    def test_step(self, batch, batch_idx):
        if self.log_in_test_step:
            self.log("test/loss", batch["x"].pow(2).mean())


class FakeDisentangled(FakeMethod):
    def subspaces(self):
        return {"genre": slice(0, 4), "mood": slice(4, 8)}


class FakeClassifier(FakeMethod):
    def tag_logits(self, x):
        return 5.0 * x - 2.5


def _run(model, dm, root=None, **kw):
    kw.setdefault("save_embeddings", root is not None)
    cb = Lee2020Evaluation(n_triplets_per_category=2000, **kw)
    trainer = Trainer(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False, default_root_dir=root,
                      enable_progress_bar=False, enable_model_summary=False, callbacks=[cb])
    out = trainer.test(model, datamodule=dm, verbose=False)[0]
    assert set(cb.metrics) <= set(out)
    return out


def _chance_r1(dm):
    """Eq. 12 at K = 1 for a random nearest track: the mean share of a query's tags that another track carries."""
    t = (torch.stack([dm.test_items[i * CLIPS]["tags"] for i in range(len(dm.genre))]) > 0).float()
    shared = t @ t.T
    shared.fill_diagonal_(0)
    return float((shared.sum(1) / (len(t) - 1) / t.sum(1)).mean())


def test_informative_embeddings_score_high(tmp_path):
    out = _run(FakeDisentangled(), FakeData(informative=True), root=tmp_path)
    saved = np.load(tmp_path / "embeddings_test.npz")  # track-level test embeddings for the projection plot
    assert saved["embeddings"].shape[0] == saved["tags"].shape[0] and "genre" in str(saved["subspaces"])
    for k in (1, 2, 4, 8):
        assert out[f"test/recall_at_{k}"] > 0.95
    assert out["test/auc"] > 0.95
    for cat in ("genre", "mood", "overall"):
        # complete space: a positive of another mood ties a negative of the same mood (3/16 of triplets)
        assert out[f"test/triplet_acc_{cat}"] > 0.85
        assert out[f"test/subspace_triplet_acc_{cat}"] > 0.97 > out[f"test/triplet_acc_{cat}"]
    # tol: approx's default: the mean of two float64 accuracies, one rounding
    assert out["test/triplet_acc_overall"] == pytest.approx(
        (out["test/triplet_acc_genre"] + out["test/triplet_acc_mood"]) / 2)
    assert out["test/dimsim_acc"] > 0.95
    assert out["test/track_triplet_acc"] > 0.7  # another track with the same two tags is as close: 1 in 16


def test_random_embeddings_near_chance():
    dm = FakeData(informative=False)
    out = _run(FakeMethod(log_in_test_step=True), dm)
    assert abs(out["test/recall_at_1"] - _chance_r1(dm)) < 0.15
    assert out["test/recall_at_1"] < out["test/recall_at_8"]
    assert abs(out["test/auc"] - 0.5) < 0.12
    for cat in ("genre", "mood", "overall"):
        assert abs(out[f"test/triplet_acc_{cat}"] - 0.5) < 0.12
    assert abs(out["test/dimsim_acc"] - 0.5) < 0.15
    assert abs(out["test/track_triplet_acc"] - 0.5) < 0.05  # 40,000 triplets of 360 clips: sd ~0.01
    assert "test/loss" in out and not any(k.startswith("test/subspace") for k in out)


def test_classifier_auc_from_track_mean_logits_and_options():
    dm = FakeData(informative=True, with_dimsim=False, n_tracks=60)
    model = FakeClassifier()
    out = _run(model, dm, recall="hit_rate", relevance="same_set", distance="cosine", track_level=True)
    clips = collect(model, dm.test_dataloader(), {"emb": "embed", "logits": "tag_logits"})
    tr = mean_by_track(clips["emb"], clips["track"], tags=clips["tags"], logits=clips["logits"])
    probs = torch.sigmoid(tr["logits"]).numpy()
    # tol: roc_auc_score on the same float32 sigmoid probabilities vs our float64 path: ties and near ties may
    # differ by float32 rounding; 1e-5 is far below one pair (1/(n_pos n_neg) ~ 1e-3)
    assert out["test/auc"] == pytest.approx(roc_auc_score(tr["tags"].numpy(), probs, average="macro"), abs=1e-5)
    assert "test/dimsim_acc" not in out
    assert out["test/hit_rate_at_1"] > 0.5  # same tag set (1 in 16 combinations) is much harder than chance
    assert not any(k.startswith("test/recall_at") for k in out)  # the DML hit rate is never called R@K
    model.train()
    collect(model, dm.test_dataloader())
    assert model.training, "collect restores the train/eval mode"
