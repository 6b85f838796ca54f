"""The Nakatsuka 2024 protocol against naive loops, scipy, and a hand-made relaxed case."""

import math

import numpy as np
import pytest
import torch
from lightning.pytorch import LightningDataModule, Trainer
from lightning.pytorch.loggers import CSVLogger
from scipy.stats import spearmanr
from torch.utils.data import DataLoader

from mirbench.data.base import PairedInputs
from mirbench.evaluation.nakatsuka2024 import (Nakatsuka2024Evaluation, evaluate_items, relaxed_ranks, spearman,
                                              spearman_replicates)
from mirbench.metrics.bootstrap import BOOTSTRAP_FILE, N_BOOT, load_replicates, stat_replicates


class FixedModel(torch.nn.Module):
    """embed_* return the rows of fixed (mu, kappa) tables picked by the batch's item codes."""

    def __init__(self, mu_m, k_m, mu_v, k_v):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))
        self.tables = [torch.as_tensor(t) for t in (mu_m, k_m, mu_v, k_v)]

    def embed_music(self, batch):
        i = batch["item"]
        return torch.nn.functional.normalize(self.tables[0][i], dim=1), self.tables[1][i]

    def embed_video(self, batch):
        i = batch["item"]
        return torch.nn.functional.normalize(self.tables[2][i], dim=1), self.tables[3][i]


class FixedData(LightningDataModule):
    def __init__(self, n, groups=None, siblings=None, batch=7, seed=0):
        super().__init__()
        self.n, self.groups, self.siblings, self.batch = n, groups, siblings, batch
        self.order = np.random.default_rng(seed).permutation(n)  # the protocol must sort by item

    def test_dataloader(self):
        batches = [{"item": torch.as_tensor(self.order[s:s + self.batch])} for s in range(0, self.n, self.batch)]
        return DataLoader(batches, batch_size=None)

    def paired_inputs(self):
        return PairedInputs(test=self.test_dataloader())


class GroupedData(FixedData):
    def paired_inputs(self):
        return PairedInputs(test=self.test_dataloader(), groups=np.asarray(self.groups),
                            ambiguous=np.asarray(self.siblings) > 0)


def _problem(n=40, d=8, seed=0, ties=False):
    g = torch.Generator().manual_seed(seed)
    mu_m = torch.randn(n, d, generator=g, dtype=torch.float64)
    mu_v = mu_m + 1.2 * torch.randn(n, d, generator=g, dtype=torch.float64)
    if ties:  # exact duplicates in the gallery: a tie with the paired item counts against it
        mu_v[1] = mu_v[0]
        mu_m[5] = mu_m[4]
    k_m = torch.rand(n, generator=g, dtype=torch.float64) * 100 + 1
    k_v = torch.rand(n, generator=g, dtype=torch.float64) * 100 + 1
    return mu_m, k_m, mu_v, k_v


def _naive_ranks(q, gal, groups=None):
    q = torch.nn.functional.normalize(q, dim=1).numpy()
    gal = torch.nn.functional.normalize(gal, dim=1).numpy()
    ranks, relaxed = [], []
    for i in range(len(q)):
        s = [float(np.dot(q[i], gal[j])) for j in range(len(gal))]
        ranks.append(sum(1 for j in range(len(gal)) if s[j] >= s[i]))
        if groups is not None:
            best = max(s[j] for j in range(len(gal)) if groups[j] == groups[i])
            relaxed.append(1 + sum(1 for j in range(len(gal)) if groups[j] != groups[i] and s[j] >= best))
    return np.array(ranks), np.array(relaxed)


@pytest.mark.parametrize("ties", [False, True])
def test_metrics_match_naive_loop(ties):
    mu_m, k_m, mu_v, k_v = _problem(ties=ties)
    n = len(mu_m)
    groups = np.arange(n) // 3
    siblings = [2 if (groups == groups[i]).sum() > 1 else 0 for i in range(n)]
    out, _ = evaluate_items(FixedModel(mu_m, k_m, mu_v, k_v), GroupedData(n, groups, siblings))
    for (a, qa, ka), (b, gb) in (((("music", mu_m, k_m)), ("video", mu_v)), (("video", mu_v, k_v), ("music", mu_m))):
        r, rr = _naive_ranks(qa, gb, groups)
        pre = f"{a}_to_{b}_"
        assert out[pre + "mrr"] == pytest.approx(np.mean(1 / r))
        assert out[pre + "mean_rank"] == pytest.approx(r.mean())
        assert out[pre + "median_rank"] == pytest.approx(np.median(r))
        for k in (1, 5, 10):
            assert out[pre + f"recall_at_{k}"] == pytest.approx(np.mean(r <= k))
            assert out[pre + f"relaxed_recall_at_{k}"] == pytest.approx(np.mean(rr <= k))
        assert out[pre + "relaxed_mrr"] == pytest.approx(np.mean(1 / rr))
        assert out[pre + "kappa_rank_spearman"] == pytest.approx(spearmanr(ka.numpy(), r).statistic)
        assert out[pre + "kappa_hit"] == pytest.approx(ka.numpy()[r == 1].mean())
        assert out[pre + "kappa_miss"] == pytest.approx(ka.numpy()[r > 1].mean())
    amb = np.array(siblings) > 0
    assert out["video_kappa_ambiguous"] == pytest.approx(k_v.numpy()[amb].mean())
    assert out["music_kappa_unambiguous"] == pytest.approx(k_m.numpy()[~amb].mean())


def test_relaxed_vs_strict_hand_case():
    # query 0's pair (video 0) is beaten by its sibling video 1 (same piece) and by video 2 (another piece)
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]], dtype=torch.float64)
    g = torch.tensor([[0.0, 1.0], [1.0, 0.05], [0.9, -0.3]], dtype=torch.float64)
    groups = [0, 0, 1]
    strict, _ = _naive_ranks(q, g, groups)
    relaxed = relaxed_ranks(q, g, groups).numpy()
    assert strict[0] == 3 and relaxed[0] == 1  # the sibling is the best match: a relaxed hit at rank 1
    assert strict[1] == 2 and relaxed[1] == 1  # video 0 (its pair's sibling) beats its pair
    assert strict[2] == 2 and relaxed[2] == 2  # a piece alone in the gallery: relaxed == strict
    assert (relaxed <= strict).all()


def test_replicates_cover_every_metric():
    mu_m, k_m, mu_v, k_v = _problem(n=25)
    out, reps = evaluate_items(FixedModel(mu_m, k_m, mu_v, k_v), FixedData(25))
    assert set(out) == set(reps)
    assert all(r.shape == (N_BOOT,) and r.dtype == np.float32 for r in reps.values())
    # without ambiguity information: NaN, said so, never a number
    assert math.isnan(out["video_kappa_ambiguous"]) and np.isnan(reps["music_kappa_unambiguous"]).all()
    # groups default to one per item: relaxed == strict
    assert out["music_to_video_relaxed_mrr"] == out["music_to_video_mrr"]
    r = reps["music_to_video_mrr"]
    assert abs(float(np.nanmean(r)) - out["music_to_video_mrr"]) < 4 * float(np.nanstd(r)) + 1e-9


def test_spearman_matches_scipy_with_ties():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 5, 60).astype(float)  # many ties
    y = x + rng.normal(0, 2, 60)
    assert spearman(x, y) == pytest.approx(spearmanr(x, y).statistic, abs=1e-12)
    assert math.isnan(spearman(np.ones(10), np.arange(10)))
    ours = spearman_replicates(x, y)
    ref = stat_replicates(lambda a, b: spearmanr(a, b).statistic, x, y)
    np.testing.assert_allclose(ours, ref, atol=1e-6, equal_nan=True)


def test_constant_kappa_gives_nan_correlation():
    mu_m, _, mu_v, _ = _problem(n=20)
    ones = torch.full((20,), 85.0, dtype=torch.float64)
    out, _ = evaluate_items(FixedModel(mu_m, ones, mu_v, ones), FixedData(20))
    assert math.isnan(out["music_to_video_kappa_rank_spearman"])


def test_monte_carlo_score_approaches_the_means_at_high_kappa():
    mu_m, _, mu_v, _ = _problem(n=30)
    big = torch.full((30,), 1e6, dtype=torch.float64)
    model = FixedModel(mu_m, big, mu_v, big)
    det, _ = evaluate_items(model, FixedData(30))
    mc, _ = evaluate_items(model, FixedData(30), score="mc", n_samples=8)
    assert mc["music_to_video_mrr"] == pytest.approx(det["music_to_video_mrr"], abs=1e-9)
    with pytest.raises(ValueError, match="score"):
        evaluate_items(model, FixedData(30), score="elk")


def test_item_codes_must_cover_the_split():
    mu_m, k_m, mu_v, k_v = _problem(n=10)

    class Twice(FixedData):
        def test_dataloader(self):
            return [{"item": torch.arange(5)}, {"item": torch.arange(5)}]

    with pytest.raises(ValueError, match="item"):
        evaluate_items(FixedModel(mu_m, k_m, mu_v, k_v), Twice(10))


def test_callback_logs_and_writes_replicates(tmp_path):
    from lightning.pytorch import LightningModule

    mu_m, k_m, mu_v, k_v = _problem(n=16)

    class Module(LightningModule):
        def __init__(self):
            super().__init__()
            self.inner = FixedModel(mu_m.float(), k_m.float(), mu_v.float(), k_v.float())

        def embed_music(self, batch):
            return self.inner.embed_music(batch)

        def embed_video(self, batch):
            return self.inner.embed_video(batch)

        def test_step(self, batch, batch_idx):
            return None

    cb = Nakatsuka2024Evaluation()
    trainer = Trainer(callbacks=[cb], logger=CSVLogger(tmp_path), enable_progress_bar=False,
                      enable_model_summary=False, accelerator="cpu")
    res = trainer.test(Module(), datamodule=FixedData(16))[0]
    assert res["test/music_to_video_mrr"] == pytest.approx(cb.metrics["test/music_to_video_mrr"])
    reps = load_replicates(next(tmp_path.rglob(BOOTSTRAP_FILE)))
    assert set(reps) == set(cb.metrics)
    assert next(tmp_path.rglob("paired_embeddings_test.npz")).stat().st_size > 0
