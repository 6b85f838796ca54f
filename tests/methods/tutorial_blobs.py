"""A tiny in-memory datamodule with the NSynth datamodule's contract (``arrays``, dict batches, ``data_info``)."""

from __future__ import annotations

import numpy as np
import torch
from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader

from mirbench.data.base import DataInfo
from mirbench.data.nsynth import ClassBalancedBatchSampler, _Notes


class BlobsDataModule(LightningDataModule):
    """``n_classes`` Gaussian blobs in ``dim`` dimensions, anisotropic and offset (so scaling matters)."""

    def __init__(self, n_classes: int = 4, per_class: int = 24, dim: int = 6, batch_size: int = 32,
                 samples_per_class: int | None = None, seed: int = 0):
        super().__init__()
        rng = np.random.default_rng(seed)
        centers = rng.normal(size=(n_classes, dim)) * 2.0
        scale = np.geomspace(0.1, 50.0, dim)

        def draw(n):
            y = np.repeat(np.arange(n_classes), n)
            x = (centers[y] + rng.normal(size=(len(y), dim))) * scale + 100.0
            return x.astype(np.float32), y.astype(np.int64)

        self._arrays = {"train": draw(per_class), "test": draw(per_class // 2)}
        self.n_classes, self.dim = n_classes, dim
        self.batch_size, self.samples_per_class = batch_size, samples_per_class

    @property
    def data_info(self) -> DataInfo:
        return DataInfo(class_names=tuple(f"c{i}" for i in range(self.n_classes)), input_shape=(self.dim,))

    def arrays(self, split):
        return self._arrays[split]

    def train_dataloader(self):
        ds = _Notes(*self._arrays["train"])
        if self.samples_per_class:
            sampler = ClassBalancedBatchSampler(ds.y.numpy(), self.batch_size // self.samples_per_class,
                                                self.samples_per_class)
            return DataLoader(ds, batch_sampler=sampler)
        return DataLoader(ds, batch_size=self.batch_size, shuffle=True)

    def test_dataloader(self):
        return DataLoader(_Notes(*self._arrays["test"]), batch_size=1000)


def trainer(tmp_path, max_epochs: int = 1, **kw):
    from lightning.pytorch import Trainer

    return Trainer(accelerator="cpu", devices=1, max_epochs=max_epochs, logger=False, enable_progress_bar=False,
                   enable_model_summary=False, default_root_dir=str(tmp_path), **kw)


def torch_seed(seed: int = 0):
    torch.manual_seed(seed)
    np.random.seed(seed)
