"""Song representation, whitening and the frame/crop data contract."""

import numpy as np
import torch

from mirbench.hdpgmm.data import CropPairDataset, SongFramesDataModule, chunk_song, collate_frames, frame_loader, frames_and_mask, random_crop
from mirbench.hdpgmm.representation import CODE_LOG_EPS, log_features, song_log_representation
from mirbench.hdpgmm.whitening import Whitener


def test_representation_is_mean_frame_posterior_and_matches_reference_formula():
    g = torch.Generator().manual_seed(0)
    eq_eta = torch.randn(3, 5, 4, dtype=torch.float64, generator=g) * 3
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [0, 0, 0, 0, 0]], dtype=torch.bool)
    log_y = song_log_representation(eq_eta * mask[..., None], mask)
    y = log_y.exp()
    assert torch.allclose(y.sum(1), torch.ones(3, dtype=torch.float64))
    for j, n in enumerate([5, 2]):
        post = torch.softmax(eq_eta[j, :n], -1)
        assert torch.allclose(y[j], post.mean(0))
        # the reference's recipe: softmax_k(log-mean-exp_n(log_softmax_k))
        lme = torch.logsumexp(torch.log_softmax(eq_eta[j, :n], -1), 0) - np.log(n)
        assert torch.allclose(y[j], torch.softmax(lme, -1))
    assert torch.allclose(y[2], torch.full((4,), 0.25, dtype=torch.float64))
    feats = log_features(torch.tensor([0.5, 0.0]))
    assert feats[0] == np.log(0.5) and np.isclose(float(feats[1]), np.log(CODE_LOG_EPS), rtol=1e-6)


def test_whitener_gives_zero_mean_identity_covariance():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4, 4))
    x = torch.as_tensor(rng.normal(size=(5000, 4)) @ a + 3.0, dtype=torch.float32)
    w = Whitener(4)
    for chunk in x.split(1000):
        w.update(chunk)
    w.finalise()
    z = w(x).double()
    assert w(x).dtype == torch.float32
    assert torch.allclose(z.mean(0), torch.zeros(4, dtype=torch.float64), atol=1e-4)
    assert torch.allclose(torch.cov(z.T, correction=0), torch.eye(4, dtype=torch.float64), atol=1e-3)


def test_collate_pads_crops_and_masks():
    songs = [np.ones((n, 3), np.float32) * n for n in (5, 2, 9)]
    batch = collate_frames([(j, torch.from_numpy(s)) for j, s in enumerate(songs)], max_len=6)
    assert batch["frames"].shape == (3, 6, 3) and batch["mask"].sum(1).tolist() == [5, 2, 6]
    assert batch["length"].tolist() == [5, 2, 6] and batch["index"].tolist() == [0, 1, 2]
    assert (batch["frames"][~batch["mask"]] == 0).all()
    frames, mask = frames_and_mask({"x": torch.zeros(2, 4, 3)})
    assert mask.all() and frames.shape == (2, 4, 3)
    loader = frame_loader(songs, batch_size=2)
    assert [b["frames"].shape[1] for b in loader] == [5, 9]
    dm = SongFramesDataModule(train=songs, batch_size=2, max_len=4)
    assert dm.data_info.input_shape == (3,)
    assert all(b["frames"].shape[1] <= 4 for b in dm.train_dataloader())


def test_crops_and_song_windows():
    torch.manual_seed(0)
    audio = np.arange(100, dtype=np.float32)
    crop = random_crop(audio, 30)
    assert crop.shape == (30,) and np.all(np.diff(crop) == 1)
    padded = random_crop(audio[:10], 30)
    assert padded.shape == (30,) and padded.sum() == audio[:10].sum()
    mel = np.random.default_rng(0).normal(size=(2, 50, 8)).astype(np.float32)
    item = CropPairDataset([mel], length=16, time_axis=1)[0]
    assert item["view1"].shape == item["view2"].shape == (2, 16, 8)
    w = chunk_song(torch.from_numpy(audio), 30, drop_last_partial=True)
    assert w.shape == (3, 30) and torch.equal(w[1], torch.arange(30, 60, dtype=torch.float32))
    assert chunk_song(torch.from_numpy(audio[:10]), 30, True).shape == (1, 30)
    mw = chunk_song(torch.from_numpy(mel), 16, drop_last_partial=False, time_axis=-2)
    assert mw.shape == (4, 2, 16, 8) and torch.equal(mw[1], torch.from_numpy(mel[:, 16:32]))
    assert torch.count_nonzero(mw[3, :, 2:]) == 0
