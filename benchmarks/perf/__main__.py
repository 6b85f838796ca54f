"""Run every performance benchmark: ``python -m benchmarks.perf [--full] [name ...]`` (``make bench``).

Every ``benchmarks/perf/*.py`` with a ``main(argv)`` is a benchmark (helpers start with ``_``). It is
called with its module-level ``QUICK_ARGS`` (the short run ``make bench`` does; ``[]`` when it has none),
or with ``[]`` under ``--full``; a failure is reported without stopping the others. At the end, the
headline rows the benchmarks put in their JSON records (``_timing.headline``) print as one table.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _value(x: float | None, unit: str = "s") -> str:
    return "-" if x is None else f"{x:.3g} {unit}"


def summary_table(records: list[Path]) -> list[str]:
    """The headline rows (:func:`benchmarks.perf._timing.headline`) of the given JSON records, as a
    markdown table: work | mirbench | peer | ratio | target | met."""
    lines = ["| work | mirbench | peer | ratio (mirbench / peer) | target | met |",
             "|---|---|---|---|---|---|"]
    for path in records:
        for h in json.loads(path.read_text()).get("headline", []):
            ratio = "-" if h.get("ratio") is None else f"{h['ratio']:.2f}x"
            met = {True: "yes", False: "NO", None: "-"}[h.get("met")]
            unit = h.get("unit", "s")
            peer = f"{h['peer']} {_value(h.get('peer_s'), unit)}" + (f" ({h['note']})" if h.get("note") else "")
            lines.append(f"| {h['work']} | {_value(h['ours_s'], unit)} | {peer} | {ratio} | {h['target']} | {met} |")
    return lines if len(lines) > 2 else []


def discover() -> list[str]:
    """Benchmark module names in this folder, sorted."""
    return sorted(p.stem for p in HERE.glob("*.py") if not p.stem.startswith("_"))


def main(argv: list[str] | None = None) -> int:
    args = [a for a in (sys.argv[1:] if argv is None else argv) if a != "bench"]
    full = "--full" in args
    names = [a for a in args if not a.startswith("--")] or discover()
    failed = []
    t0 = time.perf_counter()
    started = time.time()
    for name in names:
        print(f"== benchmarks/perf/{name}.py", flush=True)
        t = time.perf_counter()
        try:
            module = importlib.import_module(f"benchmarks.perf.{name}")
            if not callable(getattr(module, "main", None)):
                print(f"skipped: {name} has no main(argv)")
                continue
            rc = module.main([] if full else list(getattr(module, "QUICK_ARGS", [])))
        except SystemExit as e:  # an argparse error in a script
            rc = e.code
        except Exception:
            traceback.print_exc()
            rc = 1
        if rc:
            failed.append(name)
        print(f"== {name}: {time.perf_counter() - t:.0f} s{' (FAILED)' if rc else ''}", flush=True)
    print(f"== all benchmarks: {time.perf_counter() - t0:.0f} s; failed: {', '.join(failed) or 'none'}")
    from benchmarks.perf._timing import DEFAULT_OUT
    fresh = [DEFAULT_OUT / f"{n}.json" for n in names
             if (DEFAULT_OUT / f"{n}.json").is_file() and (DEFAULT_OUT / f"{n}.json").stat().st_mtime >= started]
    table = summary_table(fresh)
    if table:
        print("\n".join(["", "== headline figures (medians of interleaved repetitions; JSON in " f"{DEFAULT_OUT})", *table]))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
