"""Run every performance benchmark: ``python -m benchmarks.perf [--full] [name ...]`` (``make bench``).

Every ``benchmarks/perf/*.py`` with a ``main(argv)`` is a benchmark (helpers start with ``_``). It is
called with its module-level ``QUICK_ARGS`` (the short run ``make bench`` does; ``[]`` when it has none),
or with ``[]`` under ``--full``; a failure is reported without stopping the others.
"""

from __future__ import annotations

import importlib
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent


def discover() -> list[str]:
    """Benchmark module names in this folder, sorted."""
    return sorted(p.stem for p in HERE.glob("*.py") if not p.stem.startswith("_"))


def main(argv: list[str] | None = None) -> int:
    args = [a for a in (sys.argv[1:] if argv is None else argv) if a != "bench"]
    full = "--full" in args
    names = [a for a in args if not a.startswith("--")] or discover()
    failed = []
    t0 = time.perf_counter()
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
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
