"""The Nakatsuka 2024 table end to end at CI scale (smoke tier): every row trains 10 steps on a 30-piece
score-video build, the paired-retrieval protocol runs, the table and its figure are written and `check`
passes; then the `real` data path (`real_ci`: YT8M-MusicVideo TFRecords under $MIRBENCH_DATA/yt8m_mv,
prepared with `mirbench prepare yt8m_mv`) on a copy of that build's YouTube-8M files. No golden numbers."""

import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mirbench.bench.commands import main as bench_main
from mirbench.bench.records import load_records, record_replicates
from mirbench.bench.spec import load_spec
from mirbench.data import commands as data_commands

ROWS = {"baseline", "mcinfonce", "ssw", "mcinfonce_ssw", "pcmepp", "hib"}


def _records(results: Path, profile: str) -> dict:
    recs = {r.row: r for r in load_records("nakatsuka2024", profile, results)}
    assert set(recs) == ROWS and all(r.ok for r in recs.values()), {r: v.status for r, v in recs.items()}
    return recs


def _check_ranges(results: Path, profile: str) -> dict:
    """Every test metric of every row finite and inside its column's bounds, with its bootstrap replicates; the
    kappa-rank correlation empty (NaN) for the deterministic baseline, and subset means empty only if the subset is."""
    spec, recs = load_spec("nakatsuka2024"), _records(results, profile)
    for row, rec in recs.items():
        reps = record_replicates(rec, results)
        for col in spec.columns:
            v = rec.metrics.get(col.metric, math.nan)
            constant_kappa = row == "baseline" and "spearman" in col.metric
            no_info = profile == "real_ci" and "ambiguous" in col.metric  # no sibling information
            if constant_kappa or no_info:
                assert math.isnan(v), (row, col.metric, v)
                continue
            subset = any(k in col.metric for k in ("kappa_hit", "kappa_miss", "ambiguous"))
            if subset and math.isnan(v):  # a mean over an empty subset (e.g. no unambiguous test item in ci)
                continue
            assert math.isfinite(v), (row, col.metric, v)
            if col.bounds is not None:
                assert col.bounds[0] <= v <= col.bounds[1], (row, col.metric, v)
            assert reps[col.metric].shape == (1000,) and np.isfinite(reps[col.metric]).mean() > 0.5, (row, col.metric)
        for d in ("music_to_video", "video_to_music"):
            m = rec.metrics
            assert m[f"test/{d}_relaxed_recall_at_1"] >= m[f"test/{d}_recall_at_1"], row
            assert 1.0 <= m[f"test/{d}_median_rank"] and 1.0 <= m[f"test/{d}_mean_rank"], row
    return recs


def _check_passes(spec: str, profile: str, results: str) -> None:
    assert bench_main(["run", spec, "--profile", profile, "--results", results]) == 0
    assert bench_main(["table", spec, "--profile", profile, "--results", results]) == 0
    assert bench_main(["check", spec, "--profile", profile, "--results", results]) == 0


@pytest.mark.smoke
def test_nakatsuka2024_ci_profile_end_to_end(tmp_path):
    results = str(tmp_path / "results")
    _check_passes("nakatsuka2024", "ci", results)
    out = Path(results) / "nakatsuka2024"
    _check_ranges(Path(results), "ci")
    assert len(list((out / "runs" / "ci").glob("*.boot.npz"))) == len(ROWS)
    table = (out / "table.ci.md").read_text()
    assert "Music -> video retrieval" in table and "Video -> music retrieval" in table and "## Claims" in table
    cells = pd.read_csv(out / "table.ci.csv")
    assert (cells[cells.column == "m2v_mrr"].n == 1).all()
    for name in ("distributions.ci.png", "distributions.ci.pdf"):
        assert (out / name).stat().st_size > 0, name


@pytest.mark.smoke
def test_nakatsuka2024_real_data_path_on_youtube8m_files(tmp_path, monkeypatch):
    from mirbench.data.scorevideo.build import ScoreVideoParams
    from mirbench.data.scorevideo.datamodule import ensure_scorevideo

    build = ensure_scorevideo(ScoreVideoParams(n_pieces=30, single_fraction=0.3), progress=False)
    root = tmp_path / "data" / "yt8m_mv"  # only what a YouTube-8M copy holds (plus the optional groups.csv)
    shutil.copytree(build / "frame", root / "frame")
    for name in ("vocabulary.csv", "groups.csv"):
        shutil.copy(build / name, root / name)
    monkeypatch.setenv("MIRBENCH_DATA", str(tmp_path / "data"))
    assert data_commands.main(["prepare", "yt8m_mv", "--root", str(root), "--label", "Music video",
                               "--no-progress"]) == 0
    results = str(tmp_path / "results")
    _check_passes("nakatsuka2024", "real_ci", results)
    _check_ranges(Path(results), "real_ci")  # no sibling information there: ambiguity cells empty, never a number
