"""The summary table ``make bench`` prints from the benchmarks' headline rows."""

from __future__ import annotations

import json

from benchmarks.perf.__main__ import summary_table
from benchmarks.perf._timing import headline


def test_summary_table_rows_ratio_and_missing_peer(tmp_path):
    a = tmp_path / "a.json"
    a.write_text(json.dumps({"headline": [headline("R@K 1 thread", 9.0, "faiss", 8.0, "<= 1.2x faiss", True)]}))
    b = tmp_path / "b.json"
    b.write_text(json.dumps({"headline": [headline("paired", 3.0, "faiss", None, "<= 1.2x faiss", None,
                                                   note="faiss-cpu not installed")]}))
    lines = summary_table([a, b])
    assert lines[0].startswith("| work | mirbench | peer |")
    assert lines[2] == "| R@K 1 thread | 9 s | faiss 8 s | 1.12x | <= 1.2x faiss | yes |"
    assert lines[3] == "| paired | 3 s | faiss - (faiss-cpu not installed) | - | <= 1.2x faiss | - |"


def test_summary_table_empty_without_headlines(tmp_path):
    p = tmp_path / "x.json"
    p.write_text(json.dumps({"runs": []}))
    assert summary_table([p]) == []
