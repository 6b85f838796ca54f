"""Linear metric learning methods: same predictions as scikit-learn pipelines, LMNN behaviour, checkpoints."""

import numpy as np
import pytest
import torch
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.neighbors import KNeighborsClassifier, NeighborhoodComponentsAnalysis
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from tutorial_blobs import BlobsDataModule, trainer

from mirbench.evaluation.knn import knn_scores
from mirbench.methods.embedding import EMBEDDINGS_FILE
from mirbench.methods.linear import LDA, NCA, Euclidean, LinearMetricMethod
from mirbench.methods.lmnn import LMNN, pca_components


def fit_and_test(tmp_path, learner, standardize=True):
    dm = BlobsDataModule()
    model = LinearMetricMethod(learner, standardize=standardize, data_info=dm.data_info)
    tr = trainer(tmp_path)
    tr.fit(model, datamodule=dm)
    metrics = tr.test(model, datamodule=dm, verbose=False)[0]
    return dm, model, tr, metrics


@pytest.mark.parametrize("learner,sk", [
    (Euclidean(), None),
    (LDA(), LinearDiscriminantAnalysis()),
    (NCA(max_iter=20, random_state=0), NeighborhoodComponentsAnalysis(max_iter=20, random_state=0)),
])
def test_matches_sklearn_pipeline(tmp_path, learner, sk):
    dm, model, tr, metrics = fit_and_test(tmp_path, learner)
    (x, y), (xt, yt) = dm.arrays("train"), dm.arrays("test")
    steps = [StandardScaler()] + ([sk] if sk is not None else []) + [KNeighborsClassifier(n_neighbors=1)]
    pred = make_pipeline(*steps).fit(x.astype(np.float64), y).predict(xt.astype(np.float64))
    ours = KNeighborsClassifier(n_neighbors=1).fit(model.embed_array(x), y).predict(model.embed_array(xt))
    assert (pred == ours).mean() >= 0.97  # float rounding may flip a near tie
    # tol: approx's default: an accuracy of integer counts, one rounding
    assert metrics["test/accuracy"] == pytest.approx(float((ours == yt).mean()))
    assert tr.global_step == 1 and bool(model.fitted)
    saved = np.load(tmp_path / EMBEDDINGS_FILE)
    assert saved["embeddings"].shape[0] == len(yt) and list(saved["class_names"]) == ["c0", "c1", "c2", "c3"]


def test_checkpoint_round_trip_resizes_buffers(tmp_path):
    dm, model, tr, metrics = fit_and_test(tmp_path, LDA())
    assert model.components.shape == (3, 6)  # C - 1 components
    ckpt = tmp_path / "lda.ckpt"
    tr.save_checkpoint(ckpt)
    fresh = LinearMetricMethod(LDA(), data_info=dm.data_info)
    again = trainer(tmp_path / "t").test(fresh, datamodule=dm, ckpt_path=str(ckpt), verbose=False)[0]
    # tol: approx's default: the same model restored from a checkpoint gives the same counts; its components bitwise
    assert again["test/accuracy"] == pytest.approx(metrics["test/accuracy"])
    torch.testing.assert_close(fresh.components, model.components)


def test_lmnn_descends_and_helps_on_unscaled_blobs(tmp_path):
    dm = BlobsDataModule(seed=3)
    (x, y), (xt, yt) = dm.arrays("train"), dm.arrays("test")
    lmnn = LMNN(k=3, max_iter=150)
    L = lmnn.fit(torch.as_tensor(x), torch.as_tensor(y)).numpy()
    losses = [h[0] for h in lmnn.history_]
    assert all(b <= a for a, b in zip(losses, losses[1:])) and losses[-1] < 0.5 * losses[0]
    before = knn_scores(x, y, xt, yt)["accuracy"]
    after = knn_scores(x @ L.T, y, xt @ L.T, yt)["accuracy"]
    assert after >= before


def test_lmnn_pca_init_is_a_rotation():
    x = torch.randn(50, 4, dtype=torch.float64) * torch.tensor([1.0, 5.0, 0.2, 3.0], dtype=torch.float64)
    P = pca_components(x)
    # tol: assert_close's float64 default (1e-7): P P' of an orthogonal 4 x 4, a few eps
    torch.testing.assert_close(P @ P.T, torch.eye(4, dtype=torch.float64))
    assert LMNN(max_iter=1).fit(x, torch.arange(50) % 2).shape == (4, 4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_lmnn_gpu_matches_cpu():
    dm = BlobsDataModule(seed=4)
    x, y = (torch.as_tensor(a) for a in dm.arrays("train"))
    cpu = LMNN(max_iter=30).fit(x, y)
    gpu = LMNN(max_iter=30).fit(x.cuda(), y.cuda())
    assert gpu.device.type == "cuda"
    # tol: CPU vs CUDA float64 (30 iterations): cuBLAS's other summation orders, ~1e-14 amplified by the fit
    torch.testing.assert_close(gpu.cpu(), cpu, rtol=1e-6, atol=1e-8)
