"""The Kim & Liem 2022 table end to end on the CI profile (smoke tier): every row trains two batches on the
60-piece corpus, the whole downstream protocol runs (genre, tags, simulated log, GTZAN-mini when the shared
data is there), the table, its plots and the HDPGMM component-tag table are written, and `check` passes."""

from pathlib import Path

import pandas as pd
import pytest

from mirbench.bench.commands import main as bench_main


@pytest.mark.smoke
def test_hdpgmm2022_ci_profile_end_to_end(tmp_path):
    results = str(tmp_path / "results")
    assert bench_main(["run", "hdpgmm2022", "--profile", "ci", "--results", results]) == 0
    assert bench_main(["table", "hdpgmm2022", "--profile", "ci", "--results", results]) == 0
    assert bench_main(["check", "hdpgmm2022", "--profile", "ci", "--results", results]) == 0
    out = Path(results) / "hdpgmm2022"
    table = (out / "table.ci.md").read_text()
    assert "corpus genre (GTZAN role)" in table and "simulated log (Echonest role)" in table
    assert "corpus tags (MTAT role)" in table
    cells = pd.read_csv(out / "table.ci.csv")
    main = cells[cells.column.isin(["echonest_ndcg500", "gtzan_macro_f1", "mtat_macro_auroc"])]
    assert (main.n == 1).all() and main["mean"].between(0, 1).all()
    for name in ("component_tags.ci.md", "component_tags.ci.png", "published_vs_ours.ci.png"):
        assert (out / name).stat().st_size > 0, name
