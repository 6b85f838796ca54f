"""A diverged run is recorded failed with the step and the value (RunStats), not 'ok' with huge finite losses,
from the first steps on: the reference is the first (untrained) loss, so a blow-up at step 2 cannot raise it."""

from types import SimpleNamespace

import pytest
import torch
from toy import SPEC_YAML, write_toy_table

from mirbench.bench.execute import DIVERGENCE_ABS, DIVERGENCE_FACTOR, RunStats
from mirbench.bench.runner import run_table
from mirbench.bench.spec import load_spec


def _feed(stats: RunStats, losses, start: int = 1) -> None:
    for step, loss in enumerate(losses, start):
        stats.on_train_batch_end(SimpleNamespace(global_step=step), None, {"loss": torch.tensor(loss)}, None, step)


def test_a_blow_up_at_step_two_fails_the_run():
    """The issue's drill: lr 1e6, train loss 0.707 -> 4.07e19 at step 2 (a median of the first 10 steps missed it)."""
    with pytest.raises(FloatingPointError, match=r"diverged: training loss 4\.07e\+19 at step 2, over the absolute "
                                                 r"limit 1e\+06"):
        _feed(RunStats("unused.json"), [0.707, 4.07e19])


def test_the_relative_rule_uses_the_first_loss():
    stats = RunStats("unused.json")
    _feed(stats, [2.0, 3.0, 50.0, 1.0])  # noisy but sane
    with pytest.raises(FloatingPointError, match=r"diverged: training loss 3e\+04 at step 5, over 10000 x its "
                                                 r"first value 2 "):
        _feed(stats, [3e4], start=5)
    stats = RunStats("unused.json", max_loss=1e30)  # a loss that starts large may grow 1e4-fold, not more
    _feed(stats, [1e3, 1e6, 9e6])
    with pytest.raises(FloatingPointError, match="over 10000 x its first value 1000"):
        _feed(stats, [1.1e7], start=4)


def test_small_losses_and_non_finite_ones():
    stats = RunStats("unused.json")
    _feed(stats, [1e-4, 1e-4, 0.5 * DIVERGENCE_FACTOR])  # reference floored at 1: no alarm
    with pytest.raises(FloatingPointError, match=r"non-finite training loss \(nan\) at step 2"):
        _feed(RunStats("unused.json"), [1.0, float("nan")])
    with pytest.raises(FloatingPointError, match="absolute limit"):
        _feed(RunStats("unused.json"), [2 * DIVERGENCE_ABS])  # even as the first loss


def test_a_diverged_toy_run_is_recorded_failed_with_step_and_value(tmp_path):
    spec = load_spec(write_toy_table(tmp_path, SPEC_YAML.replace('"--model.init_args.lr=0.5"',
                                                                 '"--model.init_args.lr=1e12"', 1)))
    out = run_table(spec, rows=["fast"], results_root=tmp_path / "r", log=lambda s: None)
    rec = out.done[0]
    assert not rec.ok and "FloatingPointError: diverged: training loss" in rec.error and " at step 2" in rec.error
