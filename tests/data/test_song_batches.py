"""The frame / crop batches of the song methods (HDPGMM, G1, VQCodebook: frames; KIM, CLMR: crop pairs)."""

import numpy as np
import torch

from mirbench.data.song_batches import (CropPairDataset, SongFramesDataModule, chunk_song, collate_frames, frame_loader,
                                        frames_and_mask, random_crop)


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
