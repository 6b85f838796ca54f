"""Run every performance benchmark: ``python -m benchmarks.perf [name ...]`` (``make bench``)."""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = ("prepare_throughput", "retrieval_speed", "hdpgmm_throughput", "ismir2020_overhead")


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    names = [a for a in args if a != "bench"] or list(BENCHMARKS)
    for name in names:
        print(f"== benchmarks/perf/{name}.py")
        module = importlib.import_module(f"benchmarks.perf.{name}")
        module.main([])
    return 0


if __name__ == "__main__":
    sys.exit(main())
