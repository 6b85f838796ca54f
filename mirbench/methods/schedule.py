"""The Lee et al. (ISMIR 2020, Sec. 4.2) schedule's stopping rule: the learning rate is divided by 5 when the
validation loss has not decreased for 10 epochs (``ReduceLROnPlateau(factor=0.2, patience=10)`` on ``val/loss``;
ICASSP 2020 used 4), "up to 5 times", then early stopping. :class:`StopAfterLRReductions` is that stop: it counts the epochs at which
the learning rate went down and stops the fit at the start of the epoch after the ``max_reductions``-th + 1
(the plateau that would have been the sixth reduction).
"""

from __future__ import annotations

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_info


class StopAfterLRReductions(Callback):
    """Stop when the learning rate of the first optimiser has been lowered more than ``max_reductions`` times.

    Args:
        max_reductions: reductions allowed (Lee et al.: 5); the next one ends training.
    """

    def __init__(self, max_reductions: int = 5) -> None:
        if max_reductions < 0:
            raise ValueError(f"max_reductions must be >= 0, got {max_reductions}")
        self.max_reductions = int(max_reductions)
        self.reductions = 0
        self._last_lr: float | None = None

    def _lr(self, trainer: Trainer) -> float:
        return float(trainer.optimizers[0].param_groups[0]["lr"])

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._last_lr = self._lr(trainer)

    def on_train_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        lr = self._lr(trainer)
        if self._last_lr is not None and lr < self._last_lr:
            self.reductions += 1
        self._last_lr = lr
        if self.reductions > self.max_reductions:
            rank_zero_info(f"StopAfterLRReductions: learning rate lowered {self.reductions} times "
                           f"(> {self.max_reductions}); stopping at epoch {trainer.current_epoch}")
            trainer.should_stop = True

    def state_dict(self) -> dict:
        return {"reductions": self.reductions, "last_lr": self._last_lr}

    def load_state_dict(self, state_dict: dict) -> None:
        self.reductions, self._last_lr = int(state_dict["reductions"]), state_dict["last_lr"]
