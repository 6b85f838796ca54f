"""VQCodebook: scaled frames -> k-means code words -> normalised histograms."""

import lightning as L
import numpy as np
import torch
from sklearn.preprocessing import StandardScaler

from mirbench.data.song_batches import SongFramesDataModule
from mirbench.hdpgmm.synthetic import toy_songs
from mirbench.methods.vqcodebook import VQCodebookMethod


def test_reference_path_histograms_match_sklearn_assignments():
    songs, _, _ = toy_songs(n_songs=20, dim=3, seed=1)
    model = VQCodebookMethod(n_clusters=6, dim=3, log_features=False).fit_frames(songs)
    scaler = StandardScaler().fit(np.concatenate(songs))
    # tol: float64 mean/scale vs sklearn's float64 StandardScaler: a few eps x n; the float32 frames are the same
    np.testing.assert_allclose(model.mean.numpy(), scaler.mean_, rtol=1e-6)
    # tol: float64 E[x^2] - E[x]^2 vs sklearn's two-pass std: cancellation of ~mean^2 / var eps ~ 1e-14
    np.testing.assert_allclose(model.scale.numpy(), scaler.scale_, rtol=1e-5)
    hist = model.embed(songs)
    # tol: float32 histogram of counts / n: one rounding, within u
    assert hist.shape == (20, 6) and np.allclose(hist.sum(1), 1.0, atol=1e-6)
    for j in (0, 7):
        codes = model.kmeans.predict(scaler.transform(songs[j].astype(np.float64)))
        # tol: as above
        np.testing.assert_allclose(hist[j], np.bincount(codes, minlength=6) / len(codes), atol=1e-6)
    logged = VQCodebookMethod(n_clusters=6, dim=3, log_eps=1e-8)
    logged.load_state_dict(model.state_dict())
    # tol: float32 log of those fractions: within ~u relative
    np.testing.assert_allclose(logged.embed(songs[:2]), np.log(np.maximum(hist[:2], 1e-8)), rtol=1e-5)


def test_lightning_fit_and_checkpoint(tmp_path):
    songs, _, _ = toy_songs(n_songs=24, dim=2, seed=2)
    dm = SongFramesDataModule(train=songs, batch_size=8)
    model = VQCodebookMethod(n_clusters=4, data_info=dm.data_info)
    trainer = L.Trainer(max_epochs=2, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, accelerator="cpu", default_root_dir=tmp_path)
    trainer.fit(model, datamodule=dm)
    assert bool(model.fitted) and model.kmeans.n_steps_ == 6
    feats = model.embed(songs)
    assert feats.shape == (24, 4) and np.isfinite(feats).all()
    ckpt = tmp_path / "vq.ckpt"
    trainer.save_checkpoint(ckpt)
    restored = VQCodebookMethod.load_from_checkpoint(ckpt, weights_only=False)
    np.testing.assert_array_equal(restored.embed(songs), feats)
    assert restored.kmeans.n_steps_ == 6
    x = torch.as_tensor(np.concatenate(songs))
    restored.kmeans.partial_fit(((x.double() - restored.mean) / restored.scale).numpy())  # continues
