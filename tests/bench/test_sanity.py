"""A run that scores exactly as a constant predictor (ROC AUC 0.5: every score tied) is flagged in the table and
by `check`, though its numbers are finite and in range."""

from __future__ import annotations

from toy import SPEC_YAML, write_toy_table

from mirbench.bench.commands import main
from mirbench.bench.records import RunRecord, write_record
from mirbench.bench.sanity import constant_predictor_metrics, is_auc
from mirbench.bench.spec import load_spec
from mirbench.bench.tables import build_report


def test_auc_keys_and_exact_chance():
    assert is_auc("test/tag_auc") and is_auc("test/auroc") and not is_auc("test/pr_auc") and not is_auc("test/acc")
    assert constant_predictor_metrics({"test/tag_auc": 0.5, "test/auroc": 0.5000001, "test/acc": 0.5}) == [
        "test/tag_auc"]
    assert constant_predictor_metrics({"test/tag_auc": float("nan")}) == []


def test_a_constant_predictor_is_flagged_in_table_and_check(tmp_path, capsys):
    spec = load_spec(write_toy_table(tmp_path, SPEC_YAML.replace("metric: test/loss,", "metric: test/tag_auc,")))
    results = tmp_path / "r"
    write_record(RunRecord("toy_table", "slow", 0, "default", metrics={"test/acc": 0.7, "test/tag_auc": 0.81}),
                 results)
    write_record(RunRecord("toy_table", "fast", 0, "default", metrics={"test/acc": 0.5, "test/tag_auc": 0.5}),
                 results)
    md = build_report(spec, results_root=results).markdown()
    assert "**1 record(s) score exactly as a constant predictor** (ROC AUC 0.5" in md
    assert "`fast` seed 0 (test/tag_auc)" in md and "`slow` seed 0" not in md
    main(["check", str(spec.path), "--results", str(results)])
    assert "warning: 1 run(s) score exactly as a constant predictor" in capsys.readouterr().out


def test_check_fails_on_a_nan_metric_in_an_ok_record(tmp_path, capsys):
    spec = load_spec(write_toy_table(tmp_path))
    results = tmp_path / "r"
    write_record(RunRecord("toy_table", "slow", 0, "default", metrics={"test/acc": float("nan"), "test/loss": 0.7}),
                 results)
    main(["check", str(spec.path), "--results", str(results)])
    assert "non-finite metric" not in capsys.readouterr().out  # NaN in every seed: a metric the row lacks
    write_record(RunRecord("toy_table", "slow", 1, "default", metrics={"test/acc": 0.7, "test/loss": 0.7}), results)
    assert main(["check", str(spec.path), "--results", str(results)]) == 1
    assert "FAIL: non-finite metric in an ok record: slow/seed0: test/acc (finite in the row's other seeds)" in \
        capsys.readouterr().out


def test_evaluate_into_an_unwritable_out_fails_before_computing(tmp_path, capsys, monkeypatch):
    import mirbench.bench.evaluate as ev
    from mirbench.cli import main as cli_main

    out = tmp_path / "out"
    out.write_text("a file, not a folder\n")  # unwritable for root too, unlike a chmod
    monkeypatch.setattr(ev, "_model", lambda *a, **k: (_ for _ in ()).throw(AssertionError("computed")))
    assert cli_main(["evaluate", "--protocol", "lee2020", "--embeddings", str(tmp_path / "e.npz"),
                     "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"mirbench evaluate: error: cannot write to --out {out}") and "nothing was computed" in err
