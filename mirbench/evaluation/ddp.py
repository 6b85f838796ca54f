"""Evaluation under Lightning DDP: one rank computes, every rank gets the result (no rank skips a collective)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from lightning.pytorch import Trainer

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
