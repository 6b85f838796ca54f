"""The ICASSP 2020 stopping rule: lr / 5 on a 4-epoch plateau, up to 5 times, then stop."""

import torch
from lightning.pytorch import LightningModule, Trainer
from torch.utils.data import DataLoader, TensorDataset

from mirbench.methods.schedule import StopAfterLRReductions


class Flat(LightningModule):
    """Training moves the weights; the validation loss is constant, so every epoch is a plateau."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))
        self.lrs = []

    def training_step(self, batch, i):
        return (self.w - 1).pow(2).sum()

    def validation_step(self, batch, i):
        self.log("val/loss", torch.tensor(1.0))

    def on_train_epoch_start(self):
        self.lrs.append(self.optimizers().param_groups[0]["lr"])

    def configure_optimizers(self):
        opt = torch.optim.Adam(self.parameters(), lr=0.01)
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.2, patience=4)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "monitor": "val/loss"}}


def loader():
    return DataLoader(TensorDataset(torch.zeros(2, 1)), batch_size=1)


def test_stops_at_the_sixth_plateau_after_five_reductions(tmp_path):
    model, stop = Flat(), StopAfterLRReductions(max_reductions=5)
    trainer = Trainer(max_epochs=100, callbacks=[stop], logger=False, enable_checkpointing=False,
                      enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path)
    trainer.fit(model, loader(), loader())
    # constant val loss: the first epoch sets the best, then a reduction after every 5 more epochs
    distinct = sorted(set(model.lrs), reverse=True)
    # tol: float64 products of 0.2 (5 factors): a few eps
    assert len(distinct) == 7 and abs(distinct[-2] - 0.01 * 0.2 ** 5) < 1e-12
    assert stop.reductions == 6 and len(model.lrs) < 100
    # the sixth reduction is seen at the start of an epoch, which then trains no batch: 6 learning rates trained
    assert trainer.global_step == 2 * (len(model.lrs) - 1)
    assert model.lrs.count(distinct[-1]) == 1


def test_max_reductions_must_be_non_negative():
    import pytest

    with pytest.raises(ValueError, match="max_reductions"):
        StopAfterLRReductions(-1)
