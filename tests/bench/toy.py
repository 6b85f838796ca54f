"""A tiny synthetic LightningModule + LightningDataModule for the bench tests (random tensors, CPU, ~1 s).

``ToyDataModule`` exposes ``data_info`` (a :class:`~mirbench.data.base.DataInfo`) and ``ToyModel``
takes it, as every mirbench datamodule/method pair does through ``MirbenchCLI``'s link.
"""

from __future__ import annotations

import torch
from lightning.pytorch import LightningDataModule, LightningModule
from torch.utils.data import DataLoader, TensorDataset

from mirbench.data.base import DataInfo


class ToyDataModule(LightningDataModule):
    """Two Gaussian blobs in ``dim`` dimensions; train/val/test of ``n`` examples each."""

    def __init__(self, n: int = 64, dim: int = 8, batch_size: int = 16):
        super().__init__()
        self.n, self.dim, self.batch_size = n, dim, batch_size

    @property
    def data_info(self) -> DataInfo:
        return DataInfo(class_names=("a", "b"), input_shape=(self.dim,))

    def setup(self, stage: str | None = None) -> None:
        g = torch.Generator().manual_seed(1234)
        y = torch.randint(0, 2, (3 * self.n,), generator=g)
        x = torch.randn(3 * self.n, self.dim, generator=g) + 1.5 * y[:, None].float()
        self.splits = [TensorDataset(x[i * self.n:(i + 1) * self.n], y[i * self.n:(i + 1) * self.n]) for i in range(3)]

    def train_dataloader(self):
        return DataLoader(self.splits[0], batch_size=self.batch_size, shuffle=True)

    def val_dataloader(self):
        return DataLoader(self.splits[1], batch_size=self.batch_size)

    def test_dataloader(self):
        return DataLoader(self.splits[2], batch_size=self.batch_size)


class ToyModel(LightningModule):
    """Linear classifier. ``fail="fit"`` raises during training; ``fail="nan"`` returns a NaN loss."""

    def __init__(self, data_info: DataInfo | None = None, lr: float = 0.1, fail: str = ""):
        super().__init__()
        self.data_info = data_info
        self.fail = fail
        self.lr = lr
        self.net = torch.nn.Linear(data_info.input_shape[0], data_info.num_classes)

    def training_step(self, batch, batch_idx):
        if self.fail == "fit":
            raise RuntimeError("toy failure requested")
        x, y = batch
        loss = torch.nn.functional.cross_entropy(self.net(x), y)
        if self.fail == "nan":
            loss = loss * float("nan")
        self.log("train/loss", loss)
        return loss

    def _eval(self, batch, stage: str):
        x, y = batch
        logits = self.net(x)
        self.log(f"{stage}/loss", torch.nn.functional.cross_entropy(logits, y))
        self.log(f"{stage}/acc", (logits.argmax(-1) == y).float().mean())

    def validation_step(self, batch, batch_idx):
        self._eval(batch, "val")

    def test_step(self, batch, batch_idx):
        self._eval(batch, "test")

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.lr)


TRAINER_YAML = """\
trainer:
  accelerator: cpu
  devices: 1
  max_steps: 3
  limit_val_batches: 2
  logger: false
  enable_progress_bar: false
  enable_model_summary: false
  enable_checkpointing: false
"""

TOY_YAML = """\
data:
  class_path: toy.ToyDataModule
model:
  class_path: toy.ToyModel
"""

SPEC_YAML = """\
id: toy_table
title: "Toy table"
paper: "Nobody et al., Toy paper"
notes: |
  Our choice: three steps of SGD.
root: .
base: [trainer.yaml, toy.yaml]
seeds: [0]
rows:
  - id: slow
    label: "SGD lr 0.01"
    overrides: ["--model.init_args.lr=0.01"]
  - id: fast
    label: "SGD lr 0.5"
    overrides: ["--model.init_args.lr=0.5"]
  - id: fast_loss
    label: "SGD lr 0.5 (loss)"
    group: "Loss view"
    runs_from: fast
    metrics: {acc: test/loss}
  - id: broken
    label: "Broken"
    overrides: ["--model.init_args.fail=fit"]
columns:
  - {id: acc, label: "Acc", metric: test/acc, scale: 100, format: "{:.1f}"}
  - {id: loss, label: "Loss", metric: test/loss, format: "{:.3f}"}
  - {id: time, label: "Time ratio", metric: fit_time_s, relative_to: slow, format: "{:.2f}"}
profiles:
  ci:
    seeds: [0, 1]
    rows: [slow, fast]
    overrides: ["--trainer.max_steps=2"]
    check_published: false
claims:
  - id: fast_wins
    text: "a larger learning rate is more accurate"
    greater: {row: fast, column: acc}
    than: {row: slow, column: acc}
    required: true
plots:
  - {id: acc_bars, kind: bars, column: acc, published: true}
  - {id: curves, kind: lines, columns: [acc, loss], rows: [slow, fast]}
  - {id: grouped, kind: grouped_bars, columns: [acc, time]}
  - {id: custom, kind: function, function: "toy:custom_plot"}
"""


def write_toy_table(directory, spec_yaml: str = SPEC_YAML, published: str | None = None,
                    golden: str | None = None):
    """Write ``spec.yaml`` (+ its configs, and optional published/golden CSVs) into ``directory``."""
    from pathlib import Path

    d = Path(directory)
    (d / "trainer.yaml").write_text(TRAINER_YAML)
    (d / "toy.yaml").write_text(TOY_YAML)
    for text, rel in ((published, "benchmarks/published/toy_table.csv"), (golden, "benchmarks/golden/toy_table.csv")):
        if text is not None:
            (d / rel).parent.mkdir(parents=True, exist_ok=True)
            (d / rel).write_text(text)
    (d / "spec.yaml").write_text(spec_yaml)
    return d / "spec.yaml"


def custom_plot(spec, records_df, out_dir, plot=None):
    """A ``kind: function`` plot: one PNG of every recorded value."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot(records_df["value"].to_numpy(), "o")
    path = out_dir / "custom.png"
    fig.savefig(path)
    plt.close(fig)
    return [path]
