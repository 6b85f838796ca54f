"""Table spec loading and validation (mirbench.bench.spec)."""

import pytest
from toy import SPEC_YAML, write_toy_table

from mirbench.bench.spec import SpecError, find_spec, load_spec


def test_load_and_resolve(tmp_path):
    spec = load_spec(write_toy_table(tmp_path))
    assert spec.id == "toy_table" and [r.id for r in spec.rows] == ["slow", "fast", "fast_loss", "broken"]
    assert spec.column("acc").scale == 100 and spec.column("loss").higher_is_better is False
    assert spec.metric_of("fast_loss", "acc") == "test/loss" and spec.run_row("fast_loss") == "fast"
    plans = spec.resolve()
    assert [(p.row, p.seed, p.profile) for p in plans] == [("slow", 0, "default"), ("fast", 0, "default"),
                                                          ("broken", 0, "default")]
    ci = spec.resolve("ci")
    assert [(p.row, p.seed) for p in ci] == [("slow", 0), ("slow", 1), ("fast", 0), ("fast", 1)]
    assert ci[0].overrides == ("--model.init_args.lr=0.01", "--trainer.max_steps=2")  # row's, then profile's
    assert ci[0].config_paths == [str(tmp_path / "trainer.yaml"), str(tmp_path / "toy.yaml")]
    # a row that reads another row's runs resolves to that row; explicit seeds win
    assert [(p.row, p.seed) for p in spec.resolve(rows=["fast_loss"], seeds=[5])] == [("fast", 5)]
    with pytest.raises(SpecError, match="unknown row"):
        spec.resolve(rows=["nope"])
    with pytest.raises(SpecError, match="unknown profile 'gpu'"):
        spec.resolve("gpu")


def test_profile_row_configs_and_column_labels(tmp_path):
    """A profile can replace one row's configs (e.g. drop its CPU-scale config) and rename columns (e.g. the
    real data set's name instead of its stand-in's)."""
    (tmp_path / "paper.yaml").write_text("trainer:\n  max_steps: 100\n")
    extra = ("  paper:\n    row_configs:\n      fast: [paper.yaml]\n"
             "    column_labels: {acc: \"Accuracy (real)\"}\n")
    spec = load_spec(write_toy_table(tmp_path, SPEC_YAML.replace("claims:\n", extra + "claims:\n", 1)))
    plans = {p.row: p for p in spec.resolve("paper")}
    assert plans["fast"].config_paths == [str(tmp_path / "trainer.yaml"), str(tmp_path / "toy.yaml"),
                                          str(tmp_path / "paper.yaml")]
    assert plans["slow"].configs == spec.resolve()[0].configs  # other rows keep theirs
    assert spec.for_profile("paper").column("acc").label == "Accuracy (real)"
    assert spec.for_profile("default").column("acc").label == spec.column("acc").label != "Accuracy (real)"
    bad = SPEC_YAML.replace("claims:\n", "  paper:\n    column_labels: {accuracy: x}\n" + "claims:\n", 1)
    with pytest.raises(SpecError, match=r"profiles.paper.column_labels: unknown key\(s\) \['accuracy'\]"):
        load_spec(write_toy_table(tmp_path, bad))


def test_find_spec_by_id_or_path(tmp_path):
    path = write_toy_table(tmp_path)
    tables = tmp_path / "tables"
    tables.mkdir()
    (tables / "toy_table.yaml").write_text(path.read_text())
    assert find_spec("toy_table", tables) == tables / "toy_table.yaml"
    assert find_spec(path) == path
    with pytest.raises(SpecError, match=r"no table spec 'other'.*known: \['toy_table'\]"):
        find_spec("other", tables)


@pytest.mark.parametrize("old, new, message", [
    ("base: [trainer.yaml, toy.yaml]", "base: [trainer.yaml, missing.yaml]",
     r"spec.yaml: base\[1\]: config file not found: missing.yaml"),
    ("  - id: fast\n", "  - id: slow\n", r"spec.yaml: rows: duplicate id\(s\) \['slow'\]"),
    ("than: {row: slow, column: acc}", "than: {row: slower, column: acc}",
     r"spec.yaml: claims\[0\].than.row: unknown row 'slower'"),
    ("metric: test/acc,", "metric: acc,", r"spec.yaml: columns\[0\].metric: malformed metric 'acc'"),
    ("    required: true\n", "    required: true\n    profiles: [nightly]\n",
     r"claims\[0\].profiles: unknown profile 'nightly'"),
    ("    label: \"Broken\"\n", "    label: \"Broken\"\n    overides: []\n",
     r"rows\[3\]: unknown key\(s\) \['overides'\]"),
    ("column: acc, published: true}", "column: nope}", r"plots\[0\].columns: unknown column 'nope'"),
    ("runs_from: fast", "runs_from: fast_loss", r"rows\[2\].runs_from: 'fast_loss' is not a row with runs"),
    ('format: "{:.1f}"', 'format: "{:.1q}"', r"columns\[0\].format: bad format"),
    ("relative_to: slow", "relative_to: slowest", r"columns\[2\].relative_to: unknown row 'slowest'"),
])
def test_validation_errors_name_file_and_key(tmp_path, old, new, message):
    assert old in SPEC_YAML
    path = write_toy_table(tmp_path, SPEC_YAML.replace(old, new, 1))
    with pytest.raises(SpecError, match=message):
        load_spec(path)


def test_readme_example_is_a_valid_spec(tmp_path):
    """The spec example in benchmarks/tables/README.md loads (with its config files stubbed)."""
    import re

    from mirbench.paths import benchmarks_dir

    text = (benchmarks_dir() / "tables" / "README.md").read_text()
    example = re.search(r"```yaml\n(.*?)```", text, re.S).group(1).replace("# root: .", "root: .")
    for config in set(re.findall(r"benchmarks/configs/[\w/]+\.yaml", example)):
        (tmp_path / config).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / config).write_text("{}\n")
    (tmp_path / "spec.yaml").write_text(example)
    spec = load_spec(tmp_path / "spec.yaml")
    assert spec.id == "ismir2020_a" and len(spec.plots) == 4 and spec.profile("ci").check_published is False
    assert [p.row for p in spec.resolve("ci")] == ["classification", "classification_norm"]


def test_direction_belongs_to_the_metric(tmp_path):
    """Times, losses and ranks are lower-is-better wherever a table shows them; a column cannot say otherwise."""
    import yaml

    from mirbench.bench.spec import higher_is_better

    assert not higher_is_better("fit_time_s") and not higher_is_better("test/music_to_video_mean_rank")
    assert higher_is_better("test/recall_at_1") and higher_is_better("steps")
    d = {"id": "t", "title": "t", "rows": [{"id": "a", "label": "a"}],
         "columns": [{"id": "c", "metric": "test/mean_rank", "higher_is_better": True}]}
    (tmp_path / "t.yaml").write_text(yaml.safe_dump(d))
    with pytest.raises(SpecError, match="lower-is-better"):
        load_spec(tmp_path / "t.yaml")
