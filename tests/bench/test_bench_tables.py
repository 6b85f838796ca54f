"""Table rendering (bold best, deltas, files) and plots, from synthetic records (no training)."""

from pathlib import Path

import pytest
from toy import write_toy_table

from mirbench.bench.commands import main
from mirbench.bench.figures.plots import make_plots
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


def test_markdown_ours_with_intervals_then_published(table):
    spec, results = table
    md = build_report(spec, results_root=results).markdown()
    assert "Our choice: three steps of SGD." in md.split("## Results")[0]  # notes at the top
    ours, published = md.split("### Ours")[1].split("Published:")
    def by_row(text):
        return {ln.split(" | ")[0].lstrip("| "): ln for ln in text.splitlines() if ln.startswith("| `")}
    lines = by_row(ours)
    # slow: seeds 60, 70 -> 65.0, no replicates: half-width from the seeds = t(0.975, 1 dof) * sqrt(50 / 2) = 63.5
    assert "| `slow` | 2 | 65.0±63.5 | 0.800±1.271 |" in lines["`slow`"]
    # one seed, no interval: its lead cannot be resolved, so it is not bold
    assert "| `fast` | 1 | 80.0 | 0.400 |" in lines["`fast`"]
    assert "| *Loss view* |" in ours  # a group is a header line, not a column
    pub = by_row(published.split("##")[0])
    assert "| `slow` | 70.0 MISS |" in pub["`slow`"] and "| `fast` | 75.0 ok | 0.350 |" in pub["`fast`"]
    assert "`broken`" not in published.split("##")[0]  # a row without published values is left out there
    assert "- we train fewer steps (1 cells)" in md  # a known-gap reason once, with its count
    assert "`fast_wins`" in md and "**inconclusive** (required)" in md and "effect +15.0 [-48.5, +78.5]" in md
    assert "broken seed=0: RuntimeError: boom" in md
    assert "- `fast_loss`: SGD lr 0.5 (loss) — Loss view; the runs of `fast`, other metrics" in md  # legend as a list
    assert "Time ratio: ratio to `slow` (1 by definition); a cost, never bold" in md
    assert max(len(ln) for ln in md.splitlines()) <= 120


def test_bold_only_a_resolved_best_never_a_cost(table):
    """Three seeds each, far apart: fast's accuracy and loss leads are resolved (bold); the time ratio is a cost and
    its reference row is 1 by definition (never bold); a lead inside the intervals is not bold."""
    spec, results = table
    for seed in (0, 1, 2):
        put(results, "slow", seed, **{"test/acc": 0.60 + 0.01 * seed, "test/loss": 0.9 + 0.01 * seed,
                                      "fit_time_s": 10.0 + seed})
        put(results, "fast", seed, **{"test/acc": 0.80 + 0.01 * seed, "test/loss": 0.4 + 0.01 * seed,
                                      "fit_time_s": 18.0 + seed})
    report = build_report(spec, results_root=results)
    ours = report.markdown().split("### Ours")[1].split("Published:")[0]
    assert "| `fast` | 3 | **81.0**±2.5 | **0.410**±0.025 |" in ours  # t(0.975, 2) * 0.01 / sqrt(3) = 0.025
    assert "**" not in "".join(ln.split(" | ")[-1] for ln in ours.splitlines() if ln.startswith("| `"))
    assert report.bold() == {("fast", "acc"), ("fast", "loss"), ("fast_loss", "loss")}  # fast_loss reads fast's runs
    put(results, "slow", 2, **{"test/acc": 0.99, "test/loss": 0.9, "fit_time_s": 12.0})  # now within reach
    assert ("fast", "acc") not in build_report(spec, results_root=results).bold()


def test_claim_effects_print_enough_digits_for_their_sign():
    from types import SimpleNamespace

    from mirbench.bench.spec import ColumnSpec
    from mirbench.bench.tables import _claim_numbers

    col = ColumnSpec("x", "X", "test/x", format="{:.0f}")
    claim = SimpleNamespace(lhs=89.4, rhs=89.0, effect=0.4, effect_lo=0.04, effect_hi=0.76)
    assert _claim_numbers(claim, col) == ("89.4", "89.0", "+0.40 [+0.04, +0.76]")  # not "89 vs 89, +0 [+0, +1]"
    wide = SimpleNamespace(lhs=66.2, rhs=40.1, effect=26.1, effect_lo=13.8, effect_hi=38.4)
    assert _claim_numbers(wide, ColumnSpec("x", "X", "test/x", format="{:.1f}"))[2] == "+26.1 [+13.8, +38.4]"


def test_write_table_and_plots(table):
    spec, results = table
    report = write_table(spec, results_root=results)
    paths = output_paths(spec, "default", results)
    assert all(p.is_file() for p in paths.values())
    tex = paths["tex"].read_text()
    assert r"\toprule" in tex and r"65.0$\pm$63.5" in tex and "(70.0)" not in tex  # no published in brackets
    ours, published = tex.split(r"\textit{Published}")
    assert r"\textit{Ours}" in ours and "SGD lr 0.01 &  & 70.0 &" in published  # a block of its own, below
    assert max(len(ln) for ln in tex.splitlines()) <= 120
    csv = paths["csv"].read_text().splitlines()
    assert csv[0].startswith("table_id,profile,row,column,mean,std,n,values,half,lo,hi,") and len(csv) == 1 + 4 * 3
    pngs = make_plots(spec, report=report, results_root=results)
    assert sorted(p.name for p in pngs) == ["acc_bars.png", "curves.png", "custom.png", "grouped.png"]
    assert all(p.stat().st_size > 1000 for p in pngs)


def test_plots_render_byte_for_byte_the_same(table):
    """A no-op re-render leaves every PNG and PDF as it was (no creation date in the PDF), so git stays clean."""
    import hashlib

    spec, results = table
    report = build_report(spec, results_root=results)

    def digests():
        make_plots(spec, report=report, results_root=results)
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                for p in (results / "toy_table").iterdir() if p.suffix in (".png", ".pdf")}

    first = digests()
    assert any(name.endswith(".pdf") for name in first) and digests() == first


def test_plots_keep_ours_and_published_apart_and_few_series_per_panel(table):
    import dataclasses

    from mirbench.bench.figures.plots import MAX_SERIES, _lines, panels_of
    from mirbench.bench.spec import RowSpec

    spec, results = table
    report = build_report(spec, results_root=results)
    plot = dataclasses.replace(next(p for p in spec.plots if p.id == "curves"), published=True)
    titles = [ax.get_title() for ax in _lines(spec, report, plot).axes]
    assert any(t.startswith("ours") for t in titles) and any(t.startswith("published") for t in titles)
    rows = [RowSpec(f"r{i}", f"R{i}") for i in range(11)]
    assert [len(members) for _, members in panels_of(rows)] == [MAX_SERIES, 3]


def test_check_exit_codes(table, tmp_path, capsys):
    spec, results = table
    args = [str(spec.path), "--results", str(results)]
    assert main(["check", *args]) == 1  # slow/acc misses 70 +- 1
    assert "published miss: slow/acc" in capsys.readouterr().out
    (tmp_path / "benchmarks/published/toy_table.csv").write_text(PUB.replace(",70.0,%,T1,1,", ",70.0,%,T1,5,"))
    assert main(["check", *args]) == 0
    for seed in (0, 1):  # slow now beats fast beyond its interval: the required claim is contradicted
        put(results, "slow", seed, **{"test/acc": 0.90 + 0.01 * seed, "test/loss": 0.1, "fit_time_s": 12.0})
    (tmp_path / "benchmarks/published/toy_table.csv").write_text(PUB.replace(",70.0,%,T1,1,", ",90.0,%,T1,20,"))
    assert main(["check", *args]) == 1
    out = capsys.readouterr().out
    assert "required claim contradicted: fast_wins" in out
    assert "claims 0 held / 1 contradicted / 0 inconclusive" in out
    put(results, "slow", 1, **{"test/acc": 0.60, "test/loss": 0.1, "fit_time_s": 12.0})  # 0.9, 0.6: too wide to tell
    assert main(["check", *args]) == 0
    assert "warning: required claim inconclusive: fast_wins" in capsys.readouterr().out
    assert main(["check", *args, "--strict"]) == 1
    capsys.readouterr()
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
    assert "`fast`" in a and "`slow`" not in a and "Acc" in a and "Loss" not in a
    assert "`slow`" in b and "Loss" in b.split("\n\n")[1] and "Acc" not in b.split("\n\n")[1]
    tex = report.latex()
    assert tex.count(r"\begin{table}") == 2 and r"\label{tab:toy_table-b}" in tex


def test_golden_freezes_mean_and_seed_spread_and_checks_against_it(table, capsys):
    import dataclasses

    import pandas as pd

    from mirbench.bench.commands import check_report
    from mirbench.bench.golden import freeze_golden

    spec, results = table
    spec = dataclasses.replace(spec, golden=results / "golden.csv")
    path, n = freeze_golden(spec, "default", results, min_tol_rel=0.02, max_span=100.0)
    gold = pd.read_csv(path)
    # only `slow` has two seeds; time columns are machine-dependent and never frozen
    assert n == 2 and set(gold.row) == {"slow"} and set(gold.column) == {"acc", "loss"}
    acc = gold[gold.column == "acc"].iloc[0]
    assert acc.value == 65.0 and acc.profile == "default" and (acc.df, acc.n) == (1, 2)
    # tol: approx's default: float64 sqrt(50 / 2) and 2 % of 65, a few eps
    assert acc.se == pytest.approx(5.0) and acc.tol_abs == pytest.approx(1.3)  # sqrt(50 / 2); floor 2 % of 65
    assert build_report(spec, results_root=results).cells.query("row == 'slow'").golden_status.tolist()[:2] == ["ok", "ok"]
    # with the default max_span, 2 seeds (2 dof for the pair: t = 14 at 1 % / 2 lines) give bands wider than half
    # the range: a check that could not fail is not written
    assert freeze_golden(spec, "default", results)[1] == 0
    # a frozen 90 +- se 0.5 (3 seeds) vs today's 60, 70: t = 6.6 on 3 dof, p = 0.0070 < 1 % (one line): a miss
    path.write_text("table_id,row,column,value,unit,source,tol_abs,tol_rel,status,note,profile,se,df,n\n"
                    "toy_table,slow,acc,90,%,ours,0.1,,check,,default,0.5,2,3\n")
    fails, _ = check_report(build_report(spec, results_root=results))
    assert any("golden miss: slow/acc" in f and "mirbench golden toy_table" in f for f in fails)
    cell = build_report(spec, results_root=results).cells.query("row == 'slow' and column == 'acc'").iloc[0]
    # tol: p-value printed to 3 significant digits (0.00705): rel 1 %
    assert cell.golden_p == pytest.approx(0.00705, rel=0.01)


def test_check_fails_on_an_unreadable_record_and_names_it(table, capsys):
    spec, results = table
    bad = results / "toy_table" / "runs" / "default" / "fast__seed1.json"
    bad.write_text('{"table_id": "toy_table", "row": "fa')  # a truncated write
    (results.parent / "benchmarks/published/toy_table.csv").write_text(PUB.replace(",70.0,%,T1,1,", ",70.0,%,T1,5,"))
    assert main(["check", str(spec.path), "--results", str(results)]) == 1
    assert f"unreadable record: {bad}" in capsys.readouterr().out
    assert str(bad) in build_report(spec, results_root=results).markdown()
    bad.unlink()
    boot = results / "toy_table" / "runs" / "default" / "fast__seed0.boot.npz"
    boot.write_bytes(b"not an npz")  # corrupt replicates: named, not silently dropped
    assert main(["check", str(spec.path), "--results", str(results)]) == 1
    assert f"unreadable bootstrap replicates: {boot}: not a readable .npz" in capsys.readouterr().out


def test_check_and_table_name_a_truncated_replicates_file_and_say_what_is_wrong(table, capsys):
    """A .boot.npz cut short (np.load: BadZipFile) is one FAIL line naming it, and the table still renders."""
    import numpy as np

    spec, results = table
    boot = results / "toy_table" / "runs" / "default" / "fast__seed0.boot.npz"
    np.savez_compressed(boot, **{"test/acc": np.linspace(0.7, 0.9, 1000, dtype=np.float32)})
    boot.write_bytes(boot.read_bytes()[: boot.stat().st_size // 2])
    assert main(["check", str(spec.path), "--results", str(results)]) == 1
    out = capsys.readouterr().out
    line = [x for x in out.splitlines() if str(boot) in x]
    assert len(line) == 1 and "truncated or damaged .npz of bootstrap replicates" in line[0], out
    assert "re-run the row, or delete the file" in line[0] and "Traceback" not in out
    assert main(["table", str(spec.path), "--results", str(results), "--no-plots"]) == 0
    out = " ".join(capsys.readouterr().out.split())  # table.md wraps its lines at 120 characters
    assert f"`{boot}` (a truncated or damaged .npz" in out


@pytest.mark.parametrize("content, what", [
    (bytes(range(256)) * 3, "not text (binary or random bytes): not a RunRecord"),
    (b"hello, I am a note", "not JSON (Expecting value at line 1, column 1): not a RunRecord"),
    (b'{"table_id": "toy_table", "row": "fa', "JSON that ends early (line 1): a truncated RunRecord"),
    (b'{"accuracy": 0.5}', "JSON, but not a RunRecord"),
    (b"[1, 2]", "JSON, but not a RunRecord"),
    (b'{"table_id": "toy_table", "row": "fast", "seed": 1, "profile": "default", "metrics": {"test/acc": "high"}}',
     "a RunRecord with a malformed field"),
    (b"", "empty file"),
])
def test_an_unreadable_record_says_whether_it_is_a_record_at_all(table, capsys, content, what):
    spec, results = table
    bad = results / "toy_table" / "runs" / "default" / "fast__seed1.json"
    bad.write_bytes(content)
    assert main(["check", str(spec.path), "--results", str(results)]) == 1
    out = capsys.readouterr().out
    assert f"unreadable record: {bad}: {what}" in out, out
    todo = "move it out of the runs folder" if "not a RunRecord" in what else "re-run the row, or delete the file"
    assert todo in [x for x in out.splitlines() if str(bad) in x][0]


def test_table_add_of_a_bad_record_or_replicates_file_is_one_line_exit_2(table, tmp_path, capsys):
    import numpy as np

    spec, results = table
    mine = tmp_path / "mine.json"
    mine.write_bytes(bytes(range(256)))
    assert main(["table", str(spec.path), "--results", str(results), "--add", f"mine={mine}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"mirbench table: error: {mine}: not text (binary or random bytes): not a RunRecord; give "
                   "--add mine= a record that `mirbench evaluate` or `mirbench run` wrote"), err
    mine.write_text((results / "toy_table" / "runs" / "default" / "fast__seed0.json").read_text())
    boot = tmp_path / "mine.boot.npz"
    np.savez(boot, **{"test/acc": np.zeros(1000, np.float32)})
    boot.write_bytes(boot.read_bytes()[:100])
    assert main(["check", str(spec.path), "--results", str(results), "--add", f"mine={mine}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"mirbench check: error: {boot}: a truncated or damaged .npz") and "\n" not in err, err


def test_a_non_finite_published_value_is_an_error_not_a_dropped_check(table, capsys):
    spec, results = table
    (results.parent / "benchmarks/published/toy_table.csv").write_text(PUB.replace(",70.0,%,", ",nan,%,"))
    assert main(["check", str(spec.path), "--results", str(results)]) == 2
    assert "line 2: value 'nan' is not finite" in capsys.readouterr().err


def test_records_know_the_code_that_made_them(table, tmp_path):
    from mirbench.bench.records import code_hash, load_records, numbers_source

    spec, results = table
    rec = load_records("toy_table", "default", results)[0]
    assert rec.code_files == numbers_source() and "metrics/bootstrap.py" in rec.code_files
    assert "bench/tables.py" not in rec.code_files  # rendering code does not make a record stale
    assert not rec.stale and rec.code_sha256 == code_hash(rec.code_files)
    rec.code_files = rec.code_files + ["does/not/exist.py"]  # code that changed (here: vanished) since the run
    assert rec.stale
    rec.code_files = []  # recorded before code hashes were
    assert rec.stale


def test_code_hash_ignores_docstrings_and_comments_but_not_code(tmp_path, monkeypatch):
    import mirbench.bench.records as records

    monkeypatch.setattr(records, "_PACKAGE", tmp_path)
    f = tmp_path / "m.py"
    f.write_text('"""Doc."""\n\ndef f(x):\n    """Say what."""\n    return x + 1  # why\n')
    h = records.code_hash(["m.py"])
    f.write_text('"""Another doc, see docs/protocols.md."""\n\n\ndef f(x):\n    return x + 1\n')
    assert records.code_hash(["m.py"]) == h
    f.write_text('def f(x):\n    return x + 2\n')
    assert records.code_hash(["m.py"]) != h


def test_a_record_hashes_the_code_that_ran_not_the_disk_at_write_time(tmp_path, monkeypatch):
    import mirbench.bench.records as records
    from mirbench.provenance import _SOURCES

    monkeypatch.setattr(records, "_PACKAGE", tmp_path)
    f = tmp_path / "m.py"
    f.write_text("X = 1\n")
    monkeypatch.setitem(_SOURCES, str(f.resolve()), f.read_bytes())  # as imported
    ran = records.imported_code_hash(["m.py"])
    f.write_text("X = 2\n")  # edited on disk during the sweep
    assert records.imported_code_hash(["m.py"]) == ran  # the record describes what ran
    assert records.code_hash(["m.py"]) != ran  # and the checkout now differs: the record reads as stale
    from mirbench.provenance import source_at_import

    import mirbench.bench.stats  # noqa: F401  (imported through the package: its source was snapshotted)
    assert source_at_import(records._PACKAGE.parent / "nowhere.py") is None
    assert source_at_import(Path(mirbench.bench.stats.__file__)) is not None


def test_cells_whose_interval_covers_chance_are_named(table):
    """A column with a ``chance`` level: the rows whose 95 % interval covers it are listed under their table."""
    import dataclasses

    spec, results = table
    for seed in (0, 1, 2):
        put(results, "slow", seed, **{"test/acc": 0.48 + 0.02 * seed, "test/loss": 0.9, "fit_time_s": 10.0})
        put(results, "fast", seed, **{"test/acc": 0.80 + 0.01 * seed, "test/loss": 0.4, "fit_time_s": 18.0})
    cols = tuple(dataclasses.replace(c, chance=50.0) if c.id == "acc" else c for c in spec.columns)
    md = build_report(dataclasses.replace(spec, columns=cols), results_root=results).markdown()
    note = [ln for ln in md.splitlines() if ln.startswith("*At chance")]
    assert len(note) == 1 and "`slow`" in note[0] and "`fast`" not in note[0]  # 50 +- 5.0 covers 50; 81 +- 2.5 not
    assert "At chance" not in build_report(spec, results_root=results).markdown()  # no chance level: no note
