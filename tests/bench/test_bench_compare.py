"""Aggregation, published/golden comparison and claims (mirbench.bench.compare) against hand-computed values."""

import math

import pytest
from toy import write_toy_table

from mirbench.bench.compare import aggregate, compare, evaluate_claims, load_reference, verdict, within
from mirbench.bench.records import RunRecord
from mirbench.bench.spec import SpecError, load_spec

HEADER = "table_id,row,column,value,unit,source,tol_abs,tol_rel,status,note\n"


def rec(row, seed, status="ok", **metrics):
    return RunRecord("toy_table", row, seed, "default", metrics=metrics, status=status)


@pytest.fixture
def spec(tmp_path):
    return load_spec(write_toy_table(tmp_path))


def records():
    return [rec("slow", 0, **{"test/acc": 0.60, "test/loss": 0.9, "fit_time_s": 10.0}),
            rec("slow", 1, **{"test/acc": 0.70, "test/loss": 0.7, "fit_time_s": 14.0}),
            rec("fast", 0, **{"test/acc": 0.80, "test/loss": 0.4, "fit_time_s": 18.0}),
            rec("fast", 1, status="failed"),
            rec("broken", 0, status="failed")]


def cell(df, row, column):
    return df[(df.row == row) & (df.column == column)].iloc[0]


def test_aggregate_mean_std_n(spec):
    agg = aggregate(spec, records())
    slow = cell(agg, "slow", "acc")
    # tol: approx's default rel 1e-6 (here to the end of the test): float64 means / stds of a few hand-set values,
    # a few eps
    assert slow["mean"] == pytest.approx(65.0) and slow["n"] == 2
    assert slow["std"] == pytest.approx(math.sqrt(50.0))  # (60-65)^2 + (70-65)^2 over n-1 = 1, sqrt(50)
    fast = cell(agg, "fast", "acc")  # the failed seed is not counted
    assert fast["mean"] == pytest.approx(80.0) and fast["std"] == 0.0 and fast["n"] == 1
    assert cell(agg, "fast_loss", "acc")["mean"] == pytest.approx(40.0)  # test/loss x scale 100, fast's runs
    # ratio to the mean of the reference row: 10/12, 14/12; 18/12
    assert cell(agg, "slow", "time")["mean"] == pytest.approx(1.0)
    assert cell(agg, "slow", "time")["std"] == pytest.approx(math.sqrt(2) * 2 / 12)
    assert cell(agg, "fast", "time")["mean"] == pytest.approx(1.5)
    assert cell(agg, "broken", "acc")["n"] == 0 and math.isnan(cell(agg, "broken", "acc")["mean"])


def test_within_and_verdict():
    assert within(10.5, 10.0, 0.5, 0.0) and not within(10.51, 10.0, 0.5, 0.0)
    assert within(11.0, 10.0, 0.0, 0.1) and within(11.0, 10.0, 0.5, 0.05)  # 0.5 + 0.05*10 = 1.0
    assert verdict(1.0, True) == "better" and verdict(1.0, False) == "worse"
    assert verdict(-1.0, False) == "better" and verdict(0.0, True) == "equal"


def test_compare_statuses_and_deltas(tmp_path):
    pub = HEADER + ("toy_table,slow,acc,66.0,%,T1,1.0,0,check,\n"       # |65-66| <= 1 -> ok
                    "toy_table,fast,acc,82.0,%,T1,1.0,0.01,check,\n"     # |80-82| > 1 + 0.82 -> miss
                    "toy_table,slow,loss,0.5,,T1,0,0,known_gap,fewer steps\n"
                    "toy_table,broken,acc,50.0,%,T1,0,0,check,\n")       # not run on our side
    spec = load_spec(write_toy_table(tmp_path, published=pub))
    df = compare(spec, aggregate(spec, records()), load_reference(spec.published, spec))
    # tol: approx's default (and the next lines): float64 differences of hand-set values, a few eps
    assert cell(df, "slow", "acc")["status"] == "ok" and cell(df, "slow", "acc")["delta"] == pytest.approx(-1.0)
    assert cell(df, "slow", "acc")["verdict"] == "worse"
    assert cell(df, "fast", "acc")["status"] == "miss" and cell(df, "fast", "acc")["delta"] == pytest.approx(-2.0)
    gap = cell(df, "slow", "loss")
    assert gap["status"] == "known_gap" and gap["delta"] == pytest.approx(0.3) and gap["verdict"] == "worse"
    assert cell(df, "broken", "acc")["status"] == "not_run"
    assert cell(df, "fast", "loss")["status"] == "no_published"
    # best respects direction: highest acc, lowest loss
    assert cell(df, "fast", "acc")["best"] and not cell(df, "slow", "acc")["best"]
    assert cell(df, "fast", "loss")["best"] and cell(df, "fast_loss", "loss")["best"]
    assert not cell(df, "slow", "loss")["best"]
    # on the paper's own data (a profile with paper_data) the gap of the stand-in data is no excuse
    real = compare(spec, aggregate(spec, records()), load_reference(spec.published, spec), paper_data=True)
    lifted = cell(real, "slow", "loss")  # |0.8 - 0.5| > 0
    assert lifted["status"] == "miss" and lifted["ref_status"] == "check" and lifted["note"] == ""
    assert cell(real, "slow", "acc")["status"] == "ok"


def test_golden_by_profile(tmp_path):
    gold = (HEADER.strip() + ",profile\n" + "toy_table,slow,acc,65.0,%,ours,0.001,0,check,,\n"
            "toy_table,fast,acc,70.0,%,ours,0.001,0,check,,ci\n")
    spec = load_spec(write_toy_table(tmp_path, golden=gold))
    assert len(load_reference(spec.golden, spec, "ci")) == 1
    df = compare(spec, aggregate(spec, records()), None, load_reference(spec.golden, spec, "default"))
    assert cell(df, "slow", "acc")["golden_status"] == "ok"
    assert cell(df, "fast", "acc")["golden_status"] == "no_golden"


def test_claims(spec):
    agg = aggregate(spec, records())
    claims = evaluate_claims(spec, agg)
    # fast 80 (one seed) vs slow 60, 70: effect 15 +- t(0.975, 1 dof) * sqrt(50 / 2) = 12.706 * 5 from the seeds
    # alone (two seeds: one degree of freedom; mirbench.bench.stats)
    # tol: approx's default: float64, a few eps
    assert claims.iloc[0]["status"] == "inconclusive" and claims.iloc[0]["lhs"] == pytest.approx(80.0)
    assert claims.iloc[0]["effect"] == pytest.approx(15.0)
    # tol: t(0.975, 1) = 12.7062 printed to 4 decimals: 5 x 5e-5 rounded up to 0.01
    assert claims.iloc[0]["effect_lo"] == pytest.approx(15.0 - 12.7062 * 5, abs=0.01)

    def with_margin(m):
        return type(spec)(**{**spec.__dict__, "claims": (type(spec.claims[0])(**{**spec.claims[0].__dict__,
                                                                                   "margin": m}),)})
    strict = with_margin(15.0).claims[0]
    assert evaluate_claims(with_margin(-50.0), agg).iloc[0]["status"] == "held"  # 80 vs 15 +- 63.5
    assert evaluate_claims(with_margin(15.0), agg).iloc[0]["status"] == "inconclusive"  # 80 vs 65 + 15
    assert evaluate_claims(with_margin(80.0), agg).iloc[0]["status"] == "contradicted"  # 80 vs 145 +- 63.5
    assert evaluate_claims(spec, aggregate(spec, records()[:2])).iloc[0]["status"] == "not run"
    only_ci = type(spec)(**{**spec.__dict__, "claims": (type(strict)(**{**strict.__dict__, "profiles": ("ci",)}),)})
    assert evaluate_claims(only_ci, agg, "default").iloc[0]["status"] == "skipped"


@pytest.mark.parametrize("line, message", [
    ("toy_table,nope,acc,1,,,,,check,", "line 2: unknown row 'nope'"),
    ("toy_table,slow,acc,1,,,,,maybe,", "line 2: status 'maybe'"),
    ("toy_table,slow,acc,abc,,,,,check,", "line 2: value 'abc' is not a number"),
    ("other,slow,acc,1,,,,,check,", "line 2: table_id 'other'"),
])
def test_reference_validation(tmp_path, line, message):
    spec = load_spec(write_toy_table(tmp_path, published=HEADER + line + "\n"))
    with pytest.raises(SpecError, match=message):
        load_reference(spec.published, spec)
