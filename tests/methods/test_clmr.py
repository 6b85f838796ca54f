"""CLMR (Kim & Liem modification): SampleCNN + NT-Xent on two random crops."""

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader

from mirbench.backbones.samplecnn import CLMR_CHANNELS, SampleCNN
from mirbench.data.song_batches import CropPairDataset
from mirbench.methods.clmr import CLMRMethod


def test_samplecnn_reduces_59049_samples_to_one_step():
    net = SampleCNN()
    assert net(torch.randn(2, 1, 59049)).shape == (2, 256)
    assert net.eval().features(torch.randn(1, 1, 59049)).shape[-1] == 1
    assert SampleCNN(CLMR_CHANNELS).embed_dim == 512


def test_training_step_and_embedding(tmp_path):
    small = dict(channels=(8, 8, 16), strides=(3, 3))  # input 27 samples -> 1 step
    rng = np.random.default_rng(0)
    songs = [rng.normal(size=200 + 10 * j).astype(np.float32) for j in range(8)]
    loader = DataLoader(CropPairDataset(songs, length=27), batch_size=8)
    model = CLMRMethod(backbone=SampleCNN(**small), audio_length=27, projection_dim=4)
    assert model.loss.temperature == 0.5
    trainer = L.Trainer(max_steps=3, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, accelerator="cpu", default_root_dir=tmp_path)
    trainer.fit(model, train_dataloaders=loader)
    assert torch.isfinite(trainer.callback_metrics["train/loss"])
    emb = model.embed(songs + [songs[0][:10]])  # a song shorter than one window is zero-padded
    assert emb.shape == (9, 16) and np.isfinite(emb).all()
    # the song vector is the mean over its complete windows (trailing partial window dropped)
    model.eval()
    with torch.no_grad():
        w = torch.from_numpy(songs[1][: 27 * (len(songs[1]) // 27)]).reshape(-1, 27)
        # tol: float32 conv stack on other batch shapes (one song's windows vs the batched embed): ~sqrt(K) u
        # relative per layer; rtol 1e-5 + atol 1e-6 measured on the four kernel legs
        np.testing.assert_allclose(emb[1], model(w).mean(0).numpy(), rtol=1e-5, atol=1e-6)
