"""A diverged run is recorded failed with the step and the value (RunStats), not 'ok' with huge finite losses."""

from types import SimpleNamespace

import pytest
import torch

from mirbench.bench.execute import DIVERGENCE_FACTOR, DIVERGENCE_WINDOW, RunStats


def _feed(stats: RunStats, losses) -> None:
    for step, loss in enumerate(losses):
        stats.on_train_batch_end(SimpleNamespace(global_step=step), None, {"loss": torch.tensor(loss)}, None, step)


def test_a_loss_that_grows_by_orders_of_magnitude_fails_the_run(tmp_path):
    stats = RunStats(str(tmp_path / "s.json"))
    early = [2.0] * DIVERGENCE_WINDOW
    _feed(stats, early + [3.0, 50.0])  # noisy but sane
    with pytest.raises(FloatingPointError, match=r"diverged: training loss 1e\+18 at step 0, over 10000 x its early level 2"):
        _feed(stats, [1e18])  # lr 1e6: finite, 1e18


def test_small_losses_and_non_finite_ones():
    stats = RunStats("unused.json")
    _feed(stats, [1e-4] * DIVERGENCE_WINDOW + [0.5 * DIVERGENCE_FACTOR])  # reference floored at 1: no alarm
    with pytest.raises(FloatingPointError, match="non-finite training loss"):
        _feed(RunStats("unused.json"), [1.0, float("nan")])
