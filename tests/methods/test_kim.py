"""KIM: VGG-ish encoder on the self-supervised same-song task."""

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader

from mirbench.backbones.vggish import VGGish
from mirbench.data.song_batches import CropPairDataset
from mirbench.methods.kim import KIMMethod


def test_backbone_shapes_mono_and_stereo():
    assert VGGish(2)(torch.randn(2, 2, 216, 128)).shape == (2, 256)
    assert VGGish(1)(torch.randn(2, 1, 216, 128)).shape == (2, 256)


def test_pairs_are_same_song_or_another_song():
    torch.manual_seed(0)
    model = KIMMethod(backbone=VGGish(1), n_mels=8)
    v1 = torch.arange(6.0)[:, None, None, None].expand(6, 1, 4, 8)
    left, right, same = model.pair_batch({"view1": v1, "view2": v1.clone()})
    songs_left, songs_right = left[:, 0, 0, 0], right[:, 0, 0, 0]
    assert torch.equal(songs_left == songs_right, same.bool())


def test_training_steps_and_song_embedding(tmp_path):
    rng = np.random.default_rng(0)
    songs = [rng.normal(size=(1, 70 + 15 * j, 32)).astype(np.float32) + j for j in range(6)]
    loader = DataLoader(CropPairDataset(songs, length=64, time_axis=1), batch_size=6)
    model = KIMMethod(backbone=VGGish(in_channels=1), crop_frames=64, n_mels=32, scaler_batches=2)
    trainer = L.Trainer(max_steps=3, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, accelerator="cpu", default_root_dir=tmp_path)
    trainer.fit(model, train_dataloaders=loader)
    assert bool(model.scaler_fitted) and model.mel_mean.shape == (32,)
    assert torch.isfinite(trainer.callback_metrics["train/loss"])
    emb = model.embed(songs)
    assert emb.shape == (6, 512) and np.isfinite(emb).all()
    assert (emb[:, 256:] >= 0).all()  # second half is a std


def test_backbone_widths_are_configurable_and_keep_the_layout():
    narrow = VGGish(1, channels=(8, 16, 32, 32, 64, 128, 128))
    assert narrow(torch.randn(2, 1, 216, 128)).shape == (2, 256)
    assert narrow.features[0].conv.out_channels == 8 and narrow.features[-1].conv.kernel_size == (1, 1)
    assert set(narrow.state_dict()) == set(VGGish(1).state_dict())  # same parameter names as the reference width
