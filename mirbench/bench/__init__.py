"""Benchmark machinery: table specs -> runs (rows x seeds) -> RunRecords -> tables, plots, checks.

``load_spec`` (spec.py), ``run_table`` (runner.py), ``execute_run`` (execute.py), ``write_table`` (tables.py),
``make_plots`` (figures/plots.py), ``emit_job_scripts`` (launch.py); ``mirbench run|table|check`` is commands.py.
Names are imported lazily, so ``import mirbench.bench`` does not pull in torch or Lightning.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "load_spec": "spec", "find_spec": "spec", "TableSpec": "spec", "SpecError": "spec", "RunPlan": "spec",
    "RunRecord": "records", "load_records": "records",
    "execute_run": "execute", "resolve_config": "execute",
    "run_table": "runner", "SweepResult": "runner",
    "aggregate": "compare", "compare": "compare", "evaluate_claims": "compare", "load_reference": "compare",
    "build_report": "tables", "write_table": "tables",
    "make_plots": "figures.plots", "emit_job_scripts": "launch",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"mirbench.bench.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'mirbench.bench' has no attribute {name!r}")
