"""Every table spec parses and its configs instantiate (config tier); the ISMIR 2020 table runs end to end on
a small corpus (smoke tier); committed results pass `mirbench check` without training (regression tier)."""

from pathlib import Path

import pytest

from mirbench.bench.commands import main as bench_main
from mirbench.bench.execute import resolve_config
from mirbench.bench.spec import load_spec
from mirbench.paths import PROJECT_ROOT

SPECS = sorted(p.stem for p in (PROJECT_ROOT / "benchmarks" / "tables").glob("*.yaml"))


@pytest.mark.parametrize("table_id", SPECS)
def test_spec_loads_and_every_row_resolves(table_id):
    spec = load_spec(table_id)
    for plan in spec.resolve():
        yaml_text, digest = resolve_config(plan.config_paths, plan.overrides, plan.seed)
        assert "model:" in yaml_text and len(digest) == 64


@pytest.mark.smoke
def test_ismir2020_ci_profile_end_to_end(tmp_path):
    results = str(tmp_path / "results")
    assert bench_main(["run", "ismir2020", "--profile", "ci", "--results", results]) == 0
    assert bench_main(["table", "ismir2020", "--profile", "ci", "--results", results]) == 0
    assert bench_main(["check", "ismir2020", "--profile", "ci", "--results", results]) == 0
    table = (Path(results) / "ismir2020" / "table.ci.md").read_text()
    assert "Triplet + track reg." in table and "Sub-space" in table


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
