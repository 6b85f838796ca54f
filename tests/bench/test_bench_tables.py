"""Table rendering (bold best, deltas, files) and plots, from synthetic records (no training)."""

import pytest
from toy import write_toy_table

from mirbench.bench.commands import main
from mirbench.bench.plots import make_plots
from mirbench.bench.records import RunRecord, write_record
from mirbench.bench.spec import load_spec
from mirbench.bench.tables import build_report, output_paths, signed, write_table

PUB = ("table_id,row,column,value,unit,source,tol_abs,tol_rel,status,note\n"
       "toy_table,slow,acc,70.0,%,T1,1,0,check,\n"
       "toy_table,fast,acc,75.0,%,T1,10,0,check,\n"
       "toy_table,fast,loss,0.35,,T1,0,0,known_gap,we train fewer steps\n")


def put(results, row, seed, status="ok", profile="default", **metrics):
    write_record(RunRecord("toy_table", row, seed, profile, metrics=metrics, status=status,
                           error="" if status == "ok" else "RuntimeError: boom"), results)


@pytest.fixture
def table(tmp_path):
    spec = load_spec(write_toy_table(tmp_path, published=PUB))
    results = tmp_path / "results"
    put(results, "slow", 0, **{"test/acc": 0.60, "test/loss": 0.9, "fit_time_s": 10.0})
    put(results, "slow", 1, **{"test/acc": 0.70, "test/loss": 0.7, "fit_time_s": 14.0})
    put(results, "fast", 0, **{"test/acc": 0.80, "test/loss": 0.4, "fit_time_s": 18.0})
    put(results, "broken", 0, status="failed")
    return spec, results


def test_signed_delta():
    spec_col = type("C", (), {"format": "{:.1f}"})
    assert signed(spec_col, 1.04, "better") == "+1.0 better"
    assert signed(spec_col, -2.0, "worse") == "-2.0 worse"
    assert signed(spec_col, float("nan"), "") == "—"


def test_markdown_bold_best_and_deltas(table):
    spec, results = table
    md = build_report(spec, results_root=results).markdown()
    assert "Our choice: three steps of SGD." in md.split("## Results")[0]  # notes at the top
    lines = {ln.split(" | ")[1]: ln for ln in md.splitlines() if ln.startswith("| ") and " | SGD" in ln}
    slow, fast = lines["SGD lr 0.01"], lines["SGD lr 0.5"]
    assert "| 65.0 ± 7.1 (n=2) | 70.0 | -5.0 worse | MISS |" in slow
    assert "| **80.0** ± 0.0 (n=1) | **75.0** | +5.0 better | ok |" in fast
    # lower loss is better: fast (0.4) is bold, slow (0.8) is not; delta 0.4 - 0.35 is worse
    assert "| **0.400** ± 0.000 (n=1) | **0.350** | +0.050 worse | known gap |" in fast
    assert "| 0.800 ± 0.141 (n=2) |" in slow
    assert "| fast_wins (required) |" in md and "| held |" in md
    assert "we train fewer steps" in md and "broken seed=0: RuntimeError: boom" in md


def test_write_table_and_plots(table):
    spec, results = table
    report = write_table(spec, results_root=results)
    paths = output_paths(spec, "default", results)
    assert all(p.is_file() for p in paths.values())
    tex = paths["tex"].read_text()
    assert r"\textbf{80.0} $\pm$ 0.0 (n=1)" in tex and r"Acc $\Delta$" in tex
    csv = paths["csv"].read_text().splitlines()
    assert csv[0].startswith("table_id,profile,row,column,mean,std,n,") and len(csv) == 1 + 4 * 3
    pngs = make_plots(spec, report=report, results_root=results)
    assert sorted(p.name for p in pngs) == ["acc_bars.png", "curves.png", "custom.png", "grouped.png"]
    assert all(p.stat().st_size > 1000 for p in pngs)


def test_check_exit_codes(table, tmp_path, capsys):
    spec, results = table
    args = [str(spec.path), "--results", str(results)]
    assert main(["check", *args]) == 1  # slow/acc misses 70 +- 1
    assert "published miss: slow/acc" in capsys.readouterr().out
    (tmp_path / "benchmarks/published/toy_table.csv").write_text(PUB.replace(",70.0,%,T1,1,", ",70.0,%,T1,5,"))
    assert main(["check", *args]) == 0
    for seed in (0, 1):  # slow now beats fast
        put(results, "slow", seed, **{"test/acc": 0.90, "test/loss": 0.1, "fit_time_s": 12.0})
    assert main(["check", *args]) == 1
    assert "required claim not held: fast_wins" in capsys.readouterr().out
    golden = tmp_path / "benchmarks/golden/toy_table.csv"
    golden.parent.mkdir(parents=True)
    golden.write_text("table_id,row,column,value,unit,source,tol_abs,tol_rel,status,note,profile\n"
                      "toy_table,fast,acc,80.5,%,ours,0.1,0,check,,ci\n")
    put(results, "fast", 0, profile="ci", **{"test/acc": 0.80})
    put(results, "slow", 0, profile="ci", **{"test/acc": 0.70})
    assert main(["check", *args, "--profile", "ci"]) == 1  # golden miss: 80.0 vs 80.5 +- 0.1
    out = capsys.readouterr().out
    assert "golden miss: fast/acc" in out and "published miss" not in out  # ci: check_published: false
    assert build_report(spec, "ci", results).cell("slow", "acc").status == "unchecked"
    assert main(["check", *args, "--profile", "gpu"]) == 2  # unknown profile
    assert main(["table", *args, "--profile", "ci", "--no-plots"]) == 0
    assert (results / "toy_table" / "table.ci.md").is_file()


def test_sections_print_one_table_each(table):
    """Specs with ``sections`` (the paper's Table A / Table B) print one table per section, rows and columns cut."""
    import dataclasses

    from mirbench.bench.spec import SectionSpec

    spec, results = table
    cut = dataclasses.replace(spec, sections=(SectionSpec("a", "Table A", rows=("fast",), columns=("acc",)),
                                              SectionSpec("b", "Table B", columns=("loss",))))
    report = build_report(cut, results_root=results)
    md = report.markdown()
    a, b = md.split("### Table A")[1].split("### Table B")
    assert "SGD lr 0.5" in a and "SGD lr 0.01" not in a and "Acc" in a and "Loss" not in a
    assert "SGD lr 0.01" in b and "Loss" in b.split("\n\n")[1] and "Acc" not in b.split("\n\n")[1]
    tex = report.latex()
    assert tex.count(r"\begin{table}") == 2 and r"\label{tab:toy_table-b}" in tex


def test_golden_freezes_mean_and_seed_spread_and_checks_against_it(table, capsys):
    import dataclasses

    import pandas as pd

    from mirbench.bench.golden import freeze_golden

    spec, results = table
    spec = dataclasses.replace(spec, golden=results / "golden.csv")
    path, n = freeze_golden(spec, "default", results, sigmas=3.0, min_tol_rel=0.02)
    gold = pd.read_csv(path)
    # only `slow` has two seeds; time columns are machine-dependent and never frozen
    assert n == 2 and set(gold.row) == {"slow"} and set(gold.column) == {"acc", "loss"}
    acc = gold[gold.column == "acc"].iloc[0]
    assert acc.value == 65.0 and acc.profile == "default"
    assert abs(acc.tol_abs - 3 * 7.0710678) < 1e-3  # 3 x sample std of (60, 70)
    loss = gold[gold.column == "loss"].iloc[0]
    assert abs(loss.tol_abs - 3 * 0.1414214) < 1e-4
    assert build_report(spec, results_root=results).cells.query("row == 'slow'").golden_status.tolist()[:2] == ["ok", "ok"]
    # a third seed far off moves the mean (76.3) out of a 1-sigma band (65 +- 7.1): check fails, says how to re-freeze
    freeze_golden(spec, "default", results, sigmas=1.0, min_tol_rel=0.02)
    put(results, "slow", 2, **{"test/acc": 0.99, "test/loss": 0.8, "fit_time_s": 12.0})
    from mirbench.bench.commands import check_report

    fails, _ = check_report(build_report(spec, results_root=results))
    assert any("golden miss: slow/acc" in f and "mirbench golden toy_table" in f for f in fails)
