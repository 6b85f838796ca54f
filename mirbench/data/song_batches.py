"""Song-level data for the Kim & Liem (ISMIR 2022) methods: the minimal contract the HDPGMM, G1,
VQCodebook (frame matrices) and KIM, CLMR (two random crops per song) consume.

Frame batches (:func:`collate_frames`) are dicts
``{"frames": (B, L, D) float32, "mask": (B, L) bool, "index": (B,) long, "length": (B,) long}``;
songs longer than ``max_len`` frames are randomly cropped (Kim & Liem: 2,600 frames, about 60 s).
Crop-pair batches (:class:`CropPairDataset`) are ``{"view1": (B, *S), "view2": (B, *S), "index": (B,)}``.
A song is any array whose ``time_axis`` is time: frames ``(N, 52)``, mono audio ``(n,)`` or
``(C, n)``, mel ``(C, T, F)``.
"""

from __future__ import annotations

from functools import partial
from typing import Sequence

import numpy as np
import torch
from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader, Dataset

from mirbench.data.base import DataInfo


class SongFramesDataset(Dataset):
    """Per-song frame matrices ``(N_j, D)``; item ``j`` is ``(j, frames_j)`` as a float32 tensor."""

    def __init__(self, songs: Sequence[np.ndarray]) -> None:
        self.songs = songs

    def __len__(self) -> int:
        return len(self.songs)

    def __getitem__(self, j: int) -> tuple[int, torch.Tensor]:
        return j, torch.as_tensor(np.asarray(self.songs[j]), dtype=torch.float32)

    @property
    def dim(self) -> int:
        return int(np.asarray(self.songs[0]).shape[-1])


def collate_frames(items: list[tuple[int, torch.Tensor]], max_len: int | None = None) -> dict[str, torch.Tensor]:
    """Pad songs to the longest (after random cropping to ``max_len``); see the module docstring."""
    index = torch.tensor([j for j, _ in items], dtype=torch.long)
    songs = []
    for _, x in items:
        if max_len is not None and x.shape[0] > max_len:
            start = int(torch.randint(x.shape[0] - max_len + 1, ()))
            x = x[start : start + max_len]
        songs.append(x)
    length = torch.tensor([s.shape[0] for s in songs], dtype=torch.long)
    width = max(int(length.max()), 1)
    frames = torch.zeros(len(songs), width, songs[0].shape[-1], dtype=torch.float32)
    mask = torch.zeros(len(songs), width, dtype=torch.bool)
    for i, s in enumerate(songs):
        frames[i, : s.shape[0]] = s
        mask[i, : s.shape[0]] = True
    return {"frames": frames, "mask": mask, "index": index, "length": length}


def frames_and_mask(batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """``(frames, mask)`` of a frame batch: our padded ``{"frames", "mask"}`` dicts, or the fixed-length
    ``{"x": (B, L, D)}`` batches of :mod:`mirbench.data.featuredm` (every frame valid)."""
    if "frames" in batch:
        return batch["frames"], batch["mask"]
    x = batch["x"]
    return x, torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)


def frame_loader(
    songs: Sequence[np.ndarray], batch_size: int, max_len: int | None = None, shuffle: bool = False, num_workers: int = 0
) -> DataLoader:
    """A :class:`DataLoader` of padded frame batches over ``songs``."""
    return DataLoader(
        SongFramesDataset(songs),
        batch_size=batch_size,
        shuffle=shuffle,
        num_workers=num_workers,
        collate_fn=partial(collate_frames, max_len=max_len),
    )


class SongFramesDataModule(LightningDataModule):
    """Training (shuffled, cropped) and predict (ordered, uncropped) loaders over per-song frame matrices.

    ``train``/``predict``: sequences of ``(N_j, D)`` arrays (e.g. ``frames_kim2022`` of each song).
    Dataset modules that own real corpora subclass this and fill ``train``/``predict`` in ``setup``.
    """

    def __init__(
        self,
        train: Sequence[np.ndarray] | None = None,
        predict: Sequence[np.ndarray] | None = None,
        batch_size: int = 1024,
        max_len: int | None = 2600,
        num_workers: int = 0,
    ) -> None:
        super().__init__()
        self.train, self.predict = train, predict
        self.batch_size, self.max_len, self.num_workers = batch_size, max_len, num_workers

    @property
    def data_info(self) -> DataInfo:
        songs = self.train if self.train is not None else self.predict
        dim = int(np.asarray(songs[0]).shape[-1]) if songs else 52
        return DataInfo(input_shape=(dim,))

    def train_dataloader(self) -> DataLoader:
        return frame_loader(self.train, self.batch_size, self.max_len, shuffle=True, num_workers=self.num_workers)

    def predict_dataloader(self) -> DataLoader:
        songs = self.predict if self.predict is not None else self.train
        return frame_loader(songs, self.batch_size, None, shuffle=False, num_workers=self.num_workers)


def random_crop(x: np.ndarray, length: int, axis: int = -1, generator: torch.Generator | None = None) -> np.ndarray:
    """A random window of ``length`` along ``axis``; shorter inputs are zero-padded at a random offset
    (as eldrin/MTLMusicRepresentation ``_crop_mel``)."""
    n = x.shape[axis]
    if n >= length:
        start = int(torch.randint(n - length + 1, (), generator=generator))
        return np.take(x, np.arange(start, start + length), axis=axis)
    shape = list(x.shape)
    shape[axis] = length
    out = np.zeros(shape, dtype=x.dtype)
    start = int(torch.randint(length - n + 1, (), generator=generator))
    idx = [slice(None)] * x.ndim
    idx[axis] = slice(start, start + n)
    out[tuple(idx)] = x
    return out


class CropPairDataset(Dataset):
    """Two independent random crops of song ``j``: the positive pair of CLMR (its only augmentation in
    the Kim & Liem modification) and of KIM's same-song task. ``length`` in samples/frames."""

    def __init__(self, songs: Sequence[np.ndarray], length: int, time_axis: int = -1) -> None:
        self.songs, self.length, self.time_axis = songs, length, time_axis

    def __len__(self) -> int:
        return len(self.songs)

    def __getitem__(self, j: int) -> dict[str, torch.Tensor]:
        x = np.asarray(self.songs[j], dtype=np.float32)
        v1 = random_crop(x, self.length, self.time_axis)
        v2 = random_crop(x, self.length, self.time_axis)
        return {"view1": torch.from_numpy(v1), "view2": torch.from_numpy(v2), "index": torch.tensor(j)}


def chunk_song(x: torch.Tensor, length: int, drop_last_partial: bool, time_axis: int = -1) -> torch.Tensor:
    """Non-overlapping windows of ``length`` along ``time_axis``, stacked on a new leading axis.

    ``drop_last_partial`` (CLMR extraction): drop the trailing partial window unless it is the only one,
    which is zero-padded. Otherwise (KIM extraction) the trailing window is zero-padded and kept.
    """
    x = x.movedim(time_axis, -1)
    n = x.shape[-1]
    n_full = n // length
    if drop_last_partial and n_full >= 1:
        x = x[..., : n_full * length]
    else:
        pad = (-n) % length
        x = torch.nn.functional.pad(x, (0, pad))
    chunks = x.reshape(*x.shape[:-1], -1, length).movedim(-2, 0)
    return chunks.movedim(-1, time_axis if time_axis < 0 else time_axis + 1)
