"""DDP through `mirbench run` and `mirbench test` (2 CPU processes, gloo): the Lee et al. evaluation callback on
a tiny tagged data set gives, under DDP, exactly the metrics of a 1-process test of the same checkpoint, and a
2-row DDP sweep records both rows (it used to hang at row 2); the tutorial's 1-NN protocol scores the whole test
split under DDP too (it used to score rank 0's shard).

Lightning's DDP launcher re-runs the command line, so every run here is a `python -m mirbench.cli` child with
this folder on PYTHONPATH (the model and data below are importable as ``test_ddp``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from lightning.pytorch import LightningDataModule, LightningModule
from torch.utils.data import DataLoader

from mirbench.bench.records import read_record, record_path
from mirbench.data.base import DataInfo, RetrievalInputs
from mirbench.paths import PROJECT_ROOT

HERE = Path(__file__).resolve().parent
INFO = DataInfo(tag_names=("g0", "g1", "g2", "g3", "m0", "m1", "m2", "m3"),
                tag_categories=("genre",) * 4 + ("mood",) * 4,
                categories=("genre", "mood"), input_shape=(8,))


def _items(n_tracks: int, clips: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    tags = np.zeros((n_tracks, 8), np.float32)
    tags[np.arange(n_tracks), rng.integers(0, 4, n_tracks)] = 1
    tags[np.arange(n_tracks), 4 + rng.integers(0, 4, n_tracks)] = 1
    return [{"x": torch.tensor(tags[t] + 0.5 * rng.normal(size=8), dtype=torch.float32),
             "tags": torch.from_numpy(tags[t]), "track": torch.tensor(t)}
            for t in range(n_tracks) for _ in range(clips)]


class TagData(LightningDataModule):
    """Clips of 8 noisy tag features; tracks with one genre and one mood tag (dict batches)."""

    def __init__(self, batch_size: int = 16):
        super().__init__()
        self.batch_size = batch_size
        self.splits = {"train": _items(32, 2, 0), "val": _items(8, 2, 1), "test": _items(45, 2, 2),
                       "ref": _items(30, 2, 3)}

    @property
    def data_info(self) -> DataInfo:
        return INFO

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.splits["train"], batch_size=self.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.splits["val"], batch_size=self.batch_size)

    def test_dataloader(self) -> DataLoader:
        return DataLoader(self.splits["test"], batch_size=self.batch_size)

    def reference_dataloader(self) -> DataLoader:
        return DataLoader(self.splits["ref"], batch_size=self.batch_size)

    def retrieval_inputs(self) -> RetrievalInputs:
        return RetrievalInputs(test=self.test_dataloader(), reference=self.reference_dataloader())


class TagModel(LightningModule):
    """A linear embedding with a tag head, trained with BCE."""

    def __init__(self, data_info: DataInfo | None = None, lr: float = 0.1):
        super().__init__()
        self.lr = lr
        self.body = torch.nn.Linear(8, 6)
        self.head = torch.nn.Linear(6, data_info.num_tags)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def tag_logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.body(x)))

    def training_step(self, batch, batch_idx):
        loss = torch.nn.functional.binary_cross_entropy_with_logits(self.tag_logits(batch["x"]), batch["tags"])
        self.log("train/loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        self.log("val/loss", torch.nn.functional.binary_cross_entropy_with_logits(self.tag_logits(batch["x"]),
                                                                                  batch["tags"]), sync_dist=True)

    def test_step(self, batch, batch_idx):
        pass

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.lr)


TRAINER_YAML = """\
trainer:
  accelerator: cpu
  devices: 1
  max_epochs: 2
  logger: false
  enable_progress_bar: false
  enable_model_summary: false
  callbacks:
    - class_path: mirbench.evaluation.lee2020.Lee2020Evaluation
      init_args: {n_triplets_per_category: 300, dimsim: false}
data:
  class_path: test_ddp.TagData
model:
  class_path: test_ddp.TagModel
"""

SPEC_YAML = """\
id: ddp_table
title: "DDP table"
paper: "Nobody et al., DDP paper"
notes: |
  Two rows of a tiny tagged model.
root: .
base: [trainer.yaml]
seeds: [0]
rows:
  - {id: a, label: "lr 0.1", overrides: ["--model.init_args.lr=0.1"]}
  - {id: b, label: "lr 0.5", overrides: ["--model.init_args.lr=0.5"]}
columns:
  - {id: r1, label: "R@1", metric: test/recall_at_1}
  - {id: auc, label: "AUC", metric: test/auc}
"""

LEE_KEYS = ("test/recall_at_1", "test/recall_at_4", "test/auc", "test/triplet_acc_genre", "test/triplet_acc_overall")


def _mirbench(args: list[str], cwd: Path, timeout: int = 150) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    env.pop("MIRBENCH_RESULTS", None)
    out = subprocess.run([sys.executable, "-m", "mirbench.cli", *args], cwd=cwd, env=env, capture_output=True,
                         text=True, timeout=timeout)
    assert out.returncode == 0, f"mirbench {' '.join(args)} exited {out.returncode}:\n{out.stdout[-3000:]}\n" \
                                f"{out.stderr[-5000:]}"
    return out


def _test_metrics(tmp_path: Path, ckpt: str, name: str, ddp: bool) -> dict[str, float]:
    stats = tmp_path / f"{name}.json"
    args = ["test", "--config", str(tmp_path / "trainer.yaml"), f"--ckpt_path={ckpt}",
            f"--trainer.default_root_dir={tmp_path / name}", "--trainer.callbacks+=mirbench.bench.execute.RunStats",
            f"--trainer.callbacks.path={stats}"]
    args += ["--trainer.devices=2", "--trainer.strategy=ddp"] if ddp else []
    _mirbench(args, tmp_path)
    return json.loads(stats.read_text())["test"]


@pytest.mark.slow
def test_ddp_run_and_test_match_one_process(tmp_path):
    (tmp_path / "trainer.yaml").write_text(TRAINER_YAML)
    (tmp_path / "spec.yaml").write_text(SPEC_YAML)
    results = tmp_path / "results"
    out = _mirbench(["run", str(tmp_path / "spec.yaml"), "--results", str(results), "--devices", "2",
                     "--strategy", "ddp", "--accelerator", "cpu"], tmp_path)
    assert "2 ran ok, 0 skipped" in out.stdout, out.stdout
    recs = {row: read_record(record_path("ddp_table", "default", row, 0, results)) for row in ("a", "b")}
    for rec in recs.values():
        assert rec.ok and "x2" in rec.device and "DDPStrategy" in rec.device, rec.device
        assert all(np.isfinite(rec.metrics[k]) for k in LEE_KEYS), rec.metrics

    # the same checkpoint tested by 1 and by 2 processes: the same numbers, and those of the DDP sweep
    stats = json.loads((results / "ddp_table" / "work" / "default" / "a__seed0" / "run_stats.json").read_text())
    assert stats["world_size"] == 2 and stats["last_ckpt"].endswith(".ckpt")
    one = _test_metrics(tmp_path, stats["last_ckpt"], "one", ddp=False)
    two = _test_metrics(tmp_path, stats["last_ckpt"], "two", ddp=True)
    for k in LEE_KEYS:
        assert one[k] == two[k] == pytest.approx(recs["a"].metrics[k], abs=1e-6), k


@pytest.mark.slow
def test_tutorial_one_nn_under_ddp_scores_the_whole_test_split(tmp_path):
    """Each rank's test batches are a shard of the 200 notes; the 1-NN scores must be those of all of them."""
    configs = ["benchmarks/configs/tutorial2020/trainer.yaml", "benchmarks/configs/data/nsynth.yaml",
               "benchmarks/configs/tutorial2020/knn.yaml"]
    base = [a for c in configs for a in ("--config", str(PROJECT_ROOT / c))]  # StandardScaler off: nothing to fit
    base.append("--model.init_args.standardize=false")
    scores = {}
    for name, extra in (("one", []), ("two", ["--trainer.devices=2", "--trainer.strategy=ddp"])):
        stats = tmp_path / f"{name}.json"
        _mirbench(["test", *base, f"--trainer.default_root_dir={tmp_path / name}",
                   "--trainer.callbacks+=mirbench.bench.execute.RunStats", f"--trainer.callbacks.path={stats}",
                   *extra], tmp_path)
        scores[name] = json.loads(stats.read_text())["test"]
    for k in ("test/accuracy", "test/macro_f1"):
        assert 0 < scores["one"][k] == scores["two"][k] <= 1, (k, scores)
