"""The Nakatsuka et al. 2024 baseline (InfoNCE on the vMF means) under DDP, and what freezing its kappa layers keeps.

InfoNCE ignores kappa, so DDP (``find_unused_parameters=False``, Lightning's default) used to stop at the second step
with "parameters that were not used in producing the loss". The method now freezes the kappa layers of a loss with
``uses_kappa = False``: the state dict keeps them and training gives the same numbers as with a trainable kappa
(Adam skips a parameter without a gradient either way). Under 2-process DDP (gloo on CPU) the baseline fits, and
every logged test value is reduced across ranks (each rank logs the same numbers).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from mirbench.losses.infonce import InfoNCELoss
from mirbench.losses.mc_infonce import MCInfoNCELoss
from mirbench.paths import PROJECT_ROOT

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from test_hypersphere import batch, small_method  # noqa: E402


def _kappa_params(model) -> list[torch.nn.Parameter]:
    return [*model.music_head.kappa.parameters(), *model.video_head.kappa.parameters()]


def test_only_a_loss_without_kappa_freezes_the_kappa_layers():
    base, mc = small_method(InfoNCELoss()), small_method(MCInfoNCELoss(n_samples=4))
    assert not any(p.requires_grad for p in _kappa_params(base))
    assert all(p.requires_grad for p in _kappa_params(mc))
    # the frozen layers are still part of the model: the committed checkpoints keep their layout
    assert {k for k in base.state_dict() if ".kappa." in k} == {k for k in mc.state_dict() if ".kappa." in k} == {
        "music_head.kappa.weight", "music_head.kappa.bias", "video_head.kappa.weight", "video_head.kappa.bias"}


def test_frozen_kappa_trains_to_the_same_numbers_as_a_trainable_one():
    """Adam on the baseline with the kappa layers frozen and with them trainable: the same weights bit for bit."""
    frozen, trainable = small_method(InfoNCELoss()), small_method(InfoNCELoss())
    for p in _kappa_params(trainable):
        p.requires_grad_(True)  # the model before the change
    for model in (frozen, trainable):
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        for step in range(5):
            opt.zero_grad()
            model._step(batch(seed=step), "train", step).backward()
            opt.step()
    a, b = frozen.state_dict(), trainable.state_dict()
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


SCRIPT = """\
import json, sys
import torch
from lightning.pytorch import LightningDataModule, Trainer
from torch.utils.data import DataLoader
sys.path.insert(0, {here!r})
from test_hypersphere import batch, small_method
from mirbench.losses.infonce import InfoNCELoss


def items(n, seed):
    b = batch(b=n, seed=seed)
    return [{{k: v[i] for k, v in b.items()}} for i in range(n)]


class Pairs(LightningDataModule):
    def train_dataloader(self):
        return DataLoader(items(32, 0), batch_size=8, shuffle=True)

    def val_dataloader(self):
        return DataLoader(items(16, 1), batch_size=8)

    def test_dataloader(self):
        return DataLoader(items(40, 2), batch_size=8)


model = small_method(InfoNCELoss())
trainer = Trainer(accelerator="cpu", devices=2, strategy="ddp", max_steps=4, logger=False,
                  enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
trainer.fit(model, Pairs())
trainer.test(model, Pairs(), verbose=False)
out = {{k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("test/")}}
with open(sys.argv[1] + f".rank{{trainer.global_rank}}.json", "w") as f:
    json.dump(out, f)
"""


def test_baseline_fits_and_tests_under_two_process_ddp(tmp_path):
    script = tmp_path / "ddp_baseline.py"
    script.write_text(SCRIPT.format(here=str(HERE)))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore",
           "PYTHONPATH": os.pathsep.join([str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")])}
    # Lightning's DDP launcher starts rank 1 by running this command line again
    out = subprocess.run([sys.executable, str(script), str(tmp_path / "metrics")], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-4000:]
    ranks = [json.loads((tmp_path / f"metrics.rank{r}.json").read_text()) for r in (0, 1)]
    assert {"test/loss", "test/kappa_music", "test/kappa_video", "test/scale"} <= ranks[0].keys()
    # each rank's own test batches differ (a shard each): equal values mean every one was reduced across ranks
    assert ranks[0] == ranks[1]
    assert all(torch.isfinite(torch.tensor(v)) for v in ranks[0].values())
