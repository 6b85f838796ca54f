"""Prepare throughput: clips/s of decoding alone vs decoding + features + caching, on 2 cores.

Audio: the 100 real GTZAN excerpts of ``../shared/data/gtzan_mini`` (30 s each), written into the
GTZAN release format (``.au``, 22,050 Hz, PCM) and into MSD-preview-like MP3s at 44.1 kHz (which
need MP3 decoding and resampling). For each format: decode-only throughput, then a full
``prepare_features`` run (decode, feature, float16/32 ``.npy`` write, index) per feature. The
overhead of features = decode+feature time / decode time - 1 (target: < 50 %).

Run: ``python -m benchmarks.perf.prepare_throughput [--workers 2] [--out results/perf/prepare_throughput.json]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import soundfile as sf


def _decode(path: str) -> int:
    from mirbench.audio.decode import load_audio

    return len(load_audio(path))


def decode_throughput(paths: list[str], workers: int) -> float:
    with ProcessPoolExecutor(workers, mp_context=get_context("fork")) as pool:
        list(pool.map(_decode, paths[:workers]))  # start-up outside the timing
        t0 = time.perf_counter()
        list(pool.map(_decode, paths, chunksize=4))
        return len(paths) / (time.perf_counter() - t0)


def write_formats(src: Path, dst: Path) -> dict[str, list[str]]:
    from mirbench.audio.decode import resample
    from mirbench.data.gtzan import find_tracks

    out = {"au_22k": [], "mp3_44k": []}
    for track, path in find_tracks(src).items():
        y, sr = sf.read(path, dtype="float32")
        au = dst / "au" / f"{track}.au"
        mp3 = dst / "mp3" / f"{track}.mp3"
        au.parent.mkdir(parents=True, exist_ok=True)
        mp3.parent.mkdir(parents=True, exist_ok=True)
        sf.write(au, y, sr, format="AU", subtype="PCM_16")
        sf.write(mp3, resample(y, sr, 44100), 44100, format="MP3")
        out["au_22k"].append(str(au))
        out["mp3_44k"].append(str(mp3))
    return out


def main(argv: list[str] | None = None) -> int:
    from mirbench.audio.features import FEATURES
    from mirbench.audio.prepare import AudioItem, prepare_features
    from mirbench.paths import results_dir, shared_data_dir

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--out", default=str(results_dir() / "perf" / "prepare_throughput.json"))
    args = p.parse_args(argv)
    src = shared_data_dir() / "gtzan_mini"
    if not src.is_dir():
        print(f"skipped: real audio not found at {src}")
        return 0
    tmp = Path(tempfile.mkdtemp(prefix="mirbench_perf_"))
    try:
        formats = write_formats(src, tmp / "audio")
        rows = []
        for fmt, paths in formats.items():
            dec = decode_throughput(paths, args.workers)
            for feature in FEATURES:
                items = [AudioItem(Path(q).stem, q) for q in paths]
                rep = prepare_features(items, tmp / "cache" / fmt / feature, feature, workers=args.workers, progress=False)
                full = rep.computed / rep.elapsed_s
                # per-clip CPU split measured inside the workers
                feat_share = rep.feature_s / max(rep.decode_s, 1e-9)
                rows.append({"format": fmt, "feature": feature, "clips": len(paths), "workers": args.workers,
                             "decode_clips_per_s": round(dec, 2), "prepare_clips_per_s": round(full, 2),
                             "overhead_vs_decode": round(dec / full - 1, 3),
                             "feature_over_decode_cpu": round(feat_share, 3), "failed": rep.failed})
                print(f"{fmt:8s} {feature:15s} decode {dec:7.2f} clips/s | prepare {full:7.2f} clips/s | "
                      f"overhead {dec / full - 1:+.0%} (feature/decode CPU {feat_share:.2f})")
        result = {"benchmark": "prepare_throughput", "rows": rows, "cpu_count": os.cpu_count(),
                  "machine": platform.platform(), "python": platform.python_version()}
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.out}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
