"""Methods whose fit is not data-parallel: a clear error under DDP instead of a model fitted on one shard."""

from __future__ import annotations

from lightning.pytorch import LightningModule


def require_one_process(module: LightningModule, why: str) -> None:
    """Raise when ``module`` is fitted by more than one process (DDP). Lightning's DDP all-reduces gradients; a
    method that updates its state in place from each batch (``why``) would fit each rank's shard of the data
    alone, and rank 0's model (half the data, or less) would be saved and tested as if it were the whole."""
    world = int(getattr(module.trainer, "world_size", 1))
    if world > 1:
        raise RuntimeError(f"{type(module).__name__} cannot be fitted data-parallel ({why}); this fit runs "
                           f"{world} processes, each of which would see only its shard of the songs. Fit it "
                           "with --trainer.devices=1 (one process uses every intra-op thread); its test "
                           "protocol may still run on several")
