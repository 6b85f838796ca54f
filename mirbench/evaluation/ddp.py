"""Evaluation under Lightning DDP: one rank computes, every rank gets the result (no rank skips a collective); the
base of the protocols' test callbacks (:class:`ProtocolEvaluation`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TypeVar

import numpy as np
from lightning.pytorch import Callback, LightningModule, Trainer

from mirbench.metrics.bootstrap import BOOTSTRAP_FILE, save_replicates

T = TypeVar("T")


def on_rank_zero(trainer: Trainer, compute: Callable[[], T]) -> T:
    """``compute()`` on global rank 0, its result broadcast to every rank (one process: just ``compute()``).

    Every rank must call this at the same point. An error on rank 0 is raised on every rank, so no rank is
    left waiting in a collective; ranks other than 0 wait in the broadcast for as long as the strategy's
    process-group timeout allows (Lightning's default: 30 minutes; ``DDPStrategy(timeout=...)``).
    """
    if trainer.world_size <= 1:
        return compute()
    result, error, failure = None, "", None
    if trainer.is_global_zero:
        try:
            result = compute()
        except Exception as e:  # re-raised below, after the other ranks have heard of it
            error, failure = f"{type(e).__name__}: {e}", e
    result, error = trainer.strategy.broadcast((result, error), src=0)
    if failure is not None:
        raise failure
    if error:
        raise RuntimeError(f"the evaluation failed on global rank 0: {error}")
    return result


class ProtocolEvaluation(Callback):
    """A paper's test protocol, run at the end of ``Trainer.test`` on ``trainer.datamodule`` (``test_step`` may do
    nothing): global rank 0 evaluates the whole, unsharded test set (:func:`on_rank_zero`), writes the bootstrap
    replicates beside the run's logs (where the runner finds them) and every rank logs the metrics, so each
    rank logs the numbers of a 1-process run. Subclasses implement :meth:`evaluate`; ``metrics`` holds the last
    result, by logged name (empty before the first)."""

    metrics: Mapping[str, float] = MappingProxyType({})

    def evaluate(self, pl_module: LightningModule, datamodule, log_dir: Path
                 ) -> tuple[dict[str, float], dict[str, np.ndarray]]:
        """``(metrics, bootstrap replicates)``, both by logged name (``test/...``); ``log_dir``: the run's log
        folder, for files the table's figures read."""
        raise NotImplementedError

    @staticmethod
    def as_test(metrics: Mapping[str, float], replicates: Mapping[str, np.ndarray]
                ) -> tuple[dict[str, float], dict[str, np.ndarray]]:
        """A protocol's ``(metrics, replicates)`` under their logged names, ``test/<name>``."""
        return {f"test/{k}": v for k, v in metrics.items()}, {f"test/{k}": v for k, v in replicates.items()}

    def on_test_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.datamodule is None:
            raise RuntimeError(f"{type(self).__name__} needs trainer.test(model, datamodule=...)")
        log_dir = Path(trainer.log_dir or trainer.default_root_dir)  # every rank: log_dir is a broadcast

        def run() -> dict[str, float]:
            metrics, replicates = self.evaluate(pl_module, trainer.datamodule, log_dir)
            if trainer.logger is not None:
                save_replicates(log_dir / BOOTSTRAP_FILE, replicates)
            return metrics

        self.metrics = on_rank_zero(trainer, run)
        for name, value in self.metrics.items():
            pl_module.log(name, float(value))
