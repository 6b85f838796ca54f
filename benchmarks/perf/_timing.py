"""Interleaved A/B timing for ``benchmarks/perf``: repetitions alternate A B A B, so a busy machine slows
every side alike; each figure is reported as its median, its spread, and its ratio to a baseline taken
round by round (median of the per-round ratios).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

DEFAULT_OUT = Path(os.environ.get("MIRBENCH_PERF_OUT", Path(__file__).resolve().parents[2] / "results" / "perf"))


def interleaved(cases: dict[str, Callable[[], Any]], repeats: int, warmup: int = 1,
                self_timed: bool = False) -> dict[str, list[float]]:
    """Seconds of each case, ``repeats`` rounds of every case in turn (after ``warmup`` untimed rounds);
    the order inside a round rotates so no case always runs first. ``self_timed``: each case returns the
    seconds of its own timed part (set-up excluded), used instead of the wall time of the call."""
    names = list(cases)
    for _ in range(warmup):
        for name in names:
            cases[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        for name in names[r % len(names):] + names[: r % len(names)]:
            t = time.perf_counter()
            out = cases[name]()
            times[name].append(float(out) if self_timed else time.perf_counter() - t)
    return times


def _libc():
    import ctypes
    import ctypes.util

    try:
        return ctypes.CDLL(ctypes.util.find_library("c"))
    except OSError:
        return None


def map_large_allocations(threshold: int = 1 << 16) -> bool:
    """Ask glibc to serve every allocation of ``threshold`` bytes or more by its own mapping, returned to the
    system when freed (``mallopt(M_MMAP_THRESHOLD)``, which also stops glibc raising the threshold after frees),
    so resident memory follows the live buffers and :func:`peak_rss_increase` sees each call's own. False when
    the C library has no ``mallopt`` (not glibc)."""
    libc = _libc()
    try:
        return bool(libc.mallopt(-3, int(threshold)))  # M_MMAP_THRESHOLD = -3 in <malloc.h>
    except AttributeError:
        return False


def peak_rss_increase(fn: Callable[[], Any], interval_s: float = 0.001) -> tuple[Any, int]:
    """``(fn(), bytes)``: the peak increase of this process's resident memory while ``fn`` runs, over what it
    held just before, sampled every ``interval_s`` from ``/proc/self/statm`` by a thread (the BLAS and torch
    kernels release the GIL, so the sampler runs beside them; a buffer alive for under a sample can be missed)."""
    import threading

    page = os.sysconf("SC_PAGE_SIZE")

    def rss() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * page

    libc = _libc()
    if libc is not None and hasattr(libc, "malloc_trim"):
        libc.malloc_trim(0)  # free heap pages go back to the system: reusing them during ``fn`` counts again
    before, peak, done = rss(), [0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss())
            done.wait(interval_s)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    try:
        out = fn()
    finally:
        done.set()
        t.join()
    return out, max(peak[0], rss()) - before


def summary(values: list[float]) -> dict[str, float]:
    """Median, min, max and the relative spread ``(max - min) / median`` of a list of timings."""
    med = statistics.median(values)
    return {"median": med, "min": min(values), "max": max(values), "n": len(values),
            "spread": (max(values) - min(values)) / med if med else float("nan")}


def ratios(times: dict[str, list[float]], baseline: str) -> dict[str, dict[str, float]]:
    """Per case: the summary of its per-round time ratio to ``baseline`` (> 1: slower than the baseline)."""
    base = times[baseline]
    return {name: summary([a / b for a, b in zip(t, base)]) for name, t in times.items()}


def report(title: str, times: dict[str, list[float]], baseline: str, unit_work: float | None = None,
           unit: str = "") -> dict[str, Any]:
    """Print one line per case (median s, spread, ratio to ``baseline``) and return the record.

    ``unit_work``: the work of one call (e.g. clips), printed as a rate ``unit``/s.
    """
    rel = ratios(times, baseline)
    rec = {"baseline": baseline, "times_s": times, "summary": {k: summary(v) for k, v in times.items()},
           "ratio_to_baseline": rel}
    for name, t in times.items():
        s, r = rec["summary"][name], rel[name]
        rate = f", {unit_work / s['median']:.3g} {unit}/s" if unit_work else ""
        print(f"{title} | {name}: {s['median']:.3f} s (min {s['min']:.3f}, max {s['max']:.3f}, n {s['n']}){rate} "
              f"-> {r['median']:.2f}x {baseline} [{r['min']:.2f}-{r['max']:.2f}]")
    return rec


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    return {"platform": platform.platform(), "cpu": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "torch": torch.__version__, "threads": torch.get_num_threads(),
            "load_avg_1min": os.getloadavg()[0]}


def write(record: dict[str, Any], name: str, out: Path | None) -> Path:
    """Write the JSON record to ``out`` (default ``$MIRBENCH_PERF_OUT/<name>.json``, results/perf/)."""
    path = Path(out) if out is not None else DEFAULT_OUT / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"benchmark": name, "machine": machine(), **record}, indent=2, default=float) + "\n")
    print(f"wrote {path}")
    return path


def headline(work: str, ours_s: float, peer: str, peer_s: float | None, target: str, met: bool | None,
             note: str = "", unit: str = "s") -> dict[str, Any]:
    """One row of the summary table ``make bench`` prints at the end (``benchmarks/perf/__main__.py``):
    the work measured, mirbench's median (seconds, or ``unit``: e.g. ``MiB`` for a memory row), the peer and
    its median (``None``: the peer is not installed, ``note`` says why), the target in words and whether it
    is met. A benchmark puts a list of these under ``"headline"`` in the record it writes."""
    return {"work": work, "ours_s": ours_s, "peer": peer, "peer_s": peer_s, "unit": unit,
            "ratio": (ours_s / peer_s) if peer_s else None, "target": target, "met": met, "note": note}
