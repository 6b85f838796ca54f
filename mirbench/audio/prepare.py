"""Decode audio and cache features for a list of items, on all cores, resumable.

``prepare_features(items, out_dir, feature_fn)`` decodes each item (:func:`load_audio`), computes
``feature_fn(y, sr)`` and stores it in a :class:`FeatureCache`. Files that are missing (an item of the
data set's index or split lists that is not on disk) or do not decode are skipped, counted and named on
the terminal (:meth:`PrepareReport.summary`) and listed in ``out_dir/failures.csv`` and
``out_dir/report.json``; nothing is skipped silently and one bad file never stops the run. Items already
in the cache are not recomputed, so re-running after an interruption (or after fixing bad files) resumes.
Pool workers exit with their parent, so a killed ``prepare`` leaves none behind.
"""

from __future__ import annotations

import csv
import io
import os
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from mirbench.audio.cache import FeatureCache
from mirbench.audio.decode import SAMPLE_RATE, AudioDecodeError, load_audio
from mirbench.audio.features import FEATURES
from mirbench.io import write_json, write_text

DEFAULT_DTYPE = {"logmel_lee2020": "float16", "frames_kim2022": "float32", "mel_kim2022": "float16"}
REPORT = "report.json"
FAILURES = "failures.csv"


@dataclass(frozen=True)
class AudioItem:
    """One thing to compute: ``offset``/``duration`` (seconds) cut a clip (e.g. a Dim-Sim 3-s excerpt)."""

    item_id: str
    path: str
    offset: float = 0.0
    duration: float | None = None


@dataclass
class PrepareReport:
    """What a :func:`prepare_features` run did. ``failures``: dicts with item_id, path, reason; ``missing``: those
    of them whose file is not on disk (an item of the index or split lists absent)."""

    out_dir: str
    feature: str
    total: int
    computed: int = 0
    cached: int = 0
    failures: list[dict] = field(default_factory=list)
    missing: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the data set's own checks found (e.g. a genre short)
    elapsed_s: float = 0.0
    decode_s: float = 0.0  # summed over workers: time spent decoding
    feature_s: float = 0.0  # summed over workers: time spent computing features
    workers: int = 1

    @property
    def failed(self) -> int:
        return len(self.failures)

    @property
    def clips_per_s(self) -> float:
        return self.computed / self.elapsed_s if self.elapsed_s > 0 else float("nan")

    def summary(self) -> str:
        text = (
            f"{self.feature}: {self.computed} computed, {self.cached} already cached, {self.failed} failed"
            + (f" ({len(self.missing)} of them not on disk)" if self.missing else "")
            + f" of {self.total} in {self.elapsed_s:.1f} s ({self.clips_per_s:.2f} clips/s on {self.workers} workers)"
            + (f"; failures listed in {Path(self.out_dir) / FAILURES}" if self.failed else "")
        )
        if self.missing:
            names = [m["item_id"] for m in self.missing]
            more = f" and {len(names) - 10} more" if len(names) > 10 else ""
            text += f"\nnot on disk ({len(names)}): {', '.join(names[:10])}{more}"
        return "\n".join([text] + [f"warning: {n}" for n in self.notes])


def add_notes(report: PrepareReport, notes: list[str]) -> PrepareReport:
    """Add a data set's own findings (what is missing that no item names) to the report and its JSON."""
    if notes:
        report.notes += list(notes)
        _write_report(report)
    return report


def prepare_features(
    items: Sequence[AudioItem | tuple],
    out_dir: str | os.PathLike,
    feature_fn: Callable[..., np.ndarray] | str = "logmel_lee2020",
    workers: int | None = None,
    sr: int = SAMPLE_RATE,
    dtype: str | None = None,
    progress: bool = True,
    flush_every: int = 256,
) -> PrepareReport:
    """Compute and cache ``feature_fn(load_audio(path, sr, offset, duration), sr)`` for every item.

    ``items``: :class:`AudioItem` or tuples ``(item_id, path[, offset[, duration]])``. ``feature_fn``:
    a picklable module-level function or a name in :data:`FEATURES`. ``workers``: processes
    (default ``os.cpu_count()``; 1 runs in this process). ``dtype``: stored precision (default
    float16 for log-mels, float32 otherwise). Returns a :class:`PrepareReport`, also written to
    ``out_dir/report.json`` (and the failures to ``out_dir/failures.csv``).
    """
    t0 = time.perf_counter()
    name = feature_fn if isinstance(feature_fn, str) else getattr(feature_fn, "__name__", "feature")
    fn = FEATURES[feature_fn] if isinstance(feature_fn, str) else feature_fn
    dtype = dtype or DEFAULT_DTYPE.get(name, "float32")
    items = [it if isinstance(it, AudioItem) else AudioItem(*it) for it in items]
    dup = len(items) - len({it.item_id for it in items})
    if dup:
        raise ValueError(f"{dup} duplicate item ids in the list given to prepare_features")
    workers = max(1, int(workers or os.cpu_count() or 1))
    cache = FeatureCache(out_dir, meta={"feature": name, "sample_rate": sr, "dtype": dtype})
    report = PrepareReport(out_dir=str(out_dir), feature=name, total=len(items), workers=workers)

    todo = []
    for it in items:
        if not os.path.exists(it.path) and it.item_id not in cache:
            report.missing.append({"item_id": it.item_id, "path": it.path, "reason": "file not found"})
            report.failures.append(report.missing[-1])
            continue
        # an indexed entry counts only if its array is still there; an unindexed array is adopted
        if (it.item_id in cache and (cache.root / cache.entry(it.item_id).file).is_file()) or cache.adopt(it.item_id):
            report.cached += 1
        else:
            todo.append(it)
    bar = tqdm(total=len(items), initial=report.cached, unit="clip", desc=f"prepare {name}", disable=not progress,
               dynamic_ncols=True, smoothing=0.05)
    since_flush = 0

    def collect(result: tuple) -> None:
        nonlocal since_flush
        if result[0] == "ok":
            _, item_id, rel, shape, dec_s, feat_s = result
            cache.add(item_id, rel, shape)
            report.computed += 1
            report.decode_s += dec_s
            report.feature_s += feat_s
            since_flush += 1
            if since_flush >= flush_every:
                cache.flush()
                since_flush = 0
        else:
            _, item_id, path, reason = result
            report.failures.append({"item_id": item_id, "path": path, "reason": reason})
            bar.set_postfix(failed=report.failed, refresh=False)
        bar.update()

    tasks = [(it, str(cache.root / cache.relpath(it.item_id)), cache.relpath(it.item_id), fn, sr, dtype) for it in todo]
    try:
        if workers == 1 or len(tasks) <= 1:
            for task in tasks:
                collect(_compute(task))
        else:
            _warm_up(fn, sr)
            _run_pool(tasks, workers, collect)
    finally:
        cache.flush()
        bar.close()
        report.elapsed_s = time.perf_counter() - t0
        _write_report(report)
    return report


def _run_pool(tasks: list[tuple], workers: int, collect: Callable[[tuple], None]) -> None:
    """Run tasks on a process pool with a bounded queue; a crashed worker fails only its in-flight items."""
    pending = list(reversed(tasks))
    while pending:
        with ProcessPoolExecutor(workers, mp_context=_context(), initializer=_init_worker) as pool:
            inflight = {}
            try:
                while pending or inflight:
                    while pending and len(inflight) < 4 * workers:
                        task = pending.pop()
                        inflight[pool.submit(_compute, task)] = task
                    done, _ = wait(inflight, return_when=FIRST_COMPLETED)
                    for fut in done:
                        task = inflight.pop(fut)
                        collect(fut.result())
            except BrokenProcessPool:
                for fut, task in inflight.items():
                    it = task[0]
                    collect(("fail", it.item_id, it.path, "worker process crashed while decoding (this or a concurrent file)"))
                continue


def _warm_up(fn: Callable, sr: int) -> None:
    """Run the feature once in the parent so forked workers inherit librosa's lazy imports and numba
    compilations (several seconds per process otherwise; and workers compiling at once can corrupt numba's
    on-disk cache, see :func:`mirbench.audio.features.warm_up`)."""
    try:
        fn(np.random.default_rng(0).standard_normal(sr).astype(np.float32) * 0.1, sr)
    except Exception:
        pass  # a broken feature function is reported per item by the workers


def _context():
    """``fork`` where available (workers inherit imported modules; starts in milliseconds, as torch's
    DataLoader workers do), else ``spawn``; ``MIRBENCH_MP_START`` overrides."""
    import multiprocessing

    method = os.environ.get("MIRBENCH_MP_START")
    if method is None:
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    return get_context(method)


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)  # one process per core; no oversubscription
    warnings.filterwarnings("ignore")
    exit_with_parent()


def exit_with_parent(poll_s: float = 0.5) -> None:
    """In a pool worker: exit as soon as the parent is gone (killed, even by SIGKILL), instead of waiting
    forever on a task queue that no one will fill. A daemon thread watches the parent's pid."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_s)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _compute(task: tuple) -> tuple:
    item, dest, rel, fn, sr, dtype = task
    try:
        t0 = time.perf_counter()
        y = load_audio(item.path, sr=sr, offset=item.offset, duration=item.duration)
        t1 = time.perf_counter()
        x = np.asarray(fn(y, sr))
        if not np.isfinite(x).all():
            raise ValueError("feature contains NaN or inf")
        x = x.astype(dtype)
        if not np.isfinite(x).all():
            raise ValueError(f"feature overflows {dtype}")
        t2 = time.perf_counter()
        from mirbench.io import save_npy

        save_npy(dest, x)
        return ("ok", item.item_id, rel, x.shape, t1 - t0, t2 - t1)
    except AudioDecodeError as e:
        return ("fail", item.item_id, item.path, e.reason)
    except Exception as e:  # a feature failure must not stop the run; it is reported
        return ("fail", item.item_id, item.path, f"{type(e).__name__}: {e}")


def _write_report(report: PrepareReport) -> None:
    out = Path(report.out_dir)
    write_json(out / REPORT, {**asdict(report), "failed": report.failed, "clips_per_s": report.clips_per_s})
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["item_id", "path", "reason"])
    for f in report.failures:
        w.writerow([f["item_id"], f["path"], f["reason"]])
    write_text(out / FAILURES, buf.getvalue())


def read_failures(out_dir: str | os.PathLike) -> list[dict]:
    """The failures of the last run in ``out_dir`` (``failures.csv``)."""
    path = Path(out_dir) / FAILURES
    return list(csv.DictReader(io.StringIO(path.read_text()))) if path.is_file() else []


def iter_items(pairs: Iterable[tuple[str, str | os.PathLike]]) -> list[AudioItem]:
    """``[(item_id, path), ...]`` -> :class:`AudioItem` list."""
    return [AudioItem(str(i), str(p)) for i, p in pairs]
