"""Every table spec parses and its configs instantiate (config tier); the ISMIR 2020 table runs end to end on
a small corpus (smoke tier); committed results pass `mirbench check` without training (regression tier)."""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mirbench.bench.commands import main as bench_main
from mirbench.bench.execute import resolve_config
from mirbench.bench.records import load_records, record_replicates
from mirbench.bench.spec import load_spec
from mirbench.paths import PROJECT_ROOT

SPECS = sorted(p.stem for p in (PROJECT_ROOT / "benchmarks" / "tables").glob("*.yaml"))


@pytest.mark.parametrize("table_id", SPECS)
def test_spec_loads_and_every_row_resolves(table_id):
    spec = load_spec(table_id)
    for plan in spec.resolve():
        yaml_text, digest = resolve_config(plan.config_paths, plan.overrides, plan.seed)
        assert "model:" in yaml_text and len(digest) == 64


def _step_losses(results: Path, row: str) -> list[float]:
    """``train/loss_step`` of every step (the ci profile logs each) from the run's CSV log."""
    logs = sorted((results / "ismir2020" / "work" / "ci" / f"{row}__seed0").rglob("metrics.csv"))
    assert logs, f"no CSV log for {row}"
    return pd.read_csv(logs[0])["train/loss_step"].dropna().tolist()


# rows whose loss must fall within the 20 ci steps (a triplet loss over freshly mined triplets is too noisy there)
FALLING = ("proxy", "proxy_disent", "classification", "classification_norm", "classification_disent")


@pytest.mark.smoke
def test_ismir2020_ci_profile_end_to_end(tmp_path):
    """Every row trains on a small corpus: records ok, every metric finite and inside its range with bootstrap
    replicates, the training loss falls, the same run twice gives the same numbers, table + check pass.
    No golden number of this tiny noisy run is checked (another CPU gives other digits)."""
    results = tmp_path / "results"
    assert bench_main(["run", "ismir2020", "--profile", "ci", "--results", str(results)]) == 0
    spec = load_spec("ismir2020")
    records = {r.row: r for r in load_records("ismir2020", "ci", results)}
    assert set(records) == {p.row for p in spec.resolve("ci")} and all(r.ok for r in records.values())
    for row in spec.rows:
        rec, reps = records[spec.run_row(row.id)], record_replicates(records[spec.run_row(row.id)], results)
        for col in spec.columns:
            metric = spec.metric_of(row.id, col.id)
            if not metric.startswith("test/"):
                continue
            value = rec.metrics[metric]
            assert math.isfinite(value) and col.bounds[0] <= value <= col.bounds[1], (row.id, metric, value)
            assert reps[metric].shape == (1000,) and np.isfinite(reps[metric]).mean() > 0.9, (row.id, metric)
        losses = _step_losses(results, spec.run_row(row.id))
        assert len(losses) == 20 and np.isfinite(losses).all(), (row.id, losses)
        if row.id in FALLING:
            assert np.mean(losses[-5:]) < np.mean(losses[:5]), (row.id, losses)
    before = records["classification"].metrics
    assert bench_main(["run", "ismir2020", "--profile", "ci", "--rows", "classification", "--force",
                       "--results", str(results)]) == 0
    again = next(r for r in load_records("ismir2020", "ci", results) if r.row == "classification").metrics
    assert {k: v for k, v in again.items() if "time" not in k} == {k: v for k, v in before.items() if "time" not in k}
    assert bench_main(["table", "ismir2020", "--profile", "ci", "--results", str(results)]) == 0
    assert bench_main(["check", "ismir2020", "--profile", "ci", "--results", str(results)]) == 0
    table = (results / "ismir2020" / "table.ci.md").read_text()
    assert "`triplet_disent_track`" in table and "Sub-space" in table and "±" in table


@pytest.mark.smoke
def test_tutorial2020_reproduces_the_published_rows_in_full(tmp_path, shared_data):
    """The tutorial's real NSynth data is at hand: CI trains every row and checks the four published ones."""
    results = str(tmp_path / "results")
    assert bench_main(["run", "tutorial2020", "--results", results]) == 0
    assert bench_main(["check", "tutorial2020", "--results", results]) == 0


@pytest.mark.regression
@pytest.mark.parametrize("table_id", [t for t in SPECS if (PROJECT_ROOT / "results" / t / "runs" / "default").is_dir()])
def test_committed_results_pass_their_checks(table_id):
    assert bench_main(["check", table_id, "--results", str(PROJECT_ROOT / "results")]) == 0


@pytest.mark.regression
@pytest.mark.parametrize("table_id", [t for t in SPECS if (PROJECT_ROOT / "results" / t / "runs" / "default").is_dir()])
def test_committed_records_match_their_resolved_configs(table_id):
    """A fresh clone's `make table-<id>` renders the committed runs without training (README): each run of the
    default profile has a record made with the config it resolves to now (a renamed or reordered argument
    changes the digest, and the runner would train the row again)."""
    from mirbench.bench.records import read_record, record_path

    spec = load_spec(table_id)
    changed = []
    for plan in spec.resolve("default"):
        record = read_record(record_path(spec.id, plan.profile, plan.row, plan.seed, PROJECT_ROOT / "results"))
        _, digest = resolve_config(plan.config_paths, plan.overrides, plan.seed)
        if record is None or record.config_sha256 != digest:
            changed.append(f"{plan.row} seed {plan.seed}: {'no record' if record is None else 'config changed'}")
    assert not changed, f"{table_id}: `make table-{table_id}` would train again: {changed}"
