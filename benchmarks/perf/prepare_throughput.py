"""Prepare throughput: clips/s of decoding alone vs decoding + features + caching, on 2 cores.

Audio: the 100 real GTZAN excerpts of ``../shared/data/gtzan_mini`` (30 s each), written into the
GTZAN release format (``.au``, 22,050 Hz, PCM) and into MSD-preview-like MP3s at 44.1 kHz (which
need MP3 decoding and resampling). For each format: decode-only throughput, then a full
``prepare_features`` run (decode, feature, float16/32 ``.npy`` write, index) per feature. The
overhead of features = decode+feature time / decode time - 1 (target: < 50 %): each line's ratio to
``decode``. Decoding and the three features' prepare runs alternate round by round (medians, spread).

Run: ``python -m benchmarks.perf.prepare_throughput [--workers 2 --clips 100 --repeats 3 --out FILE]``.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import soundfile as sf

from benchmarks.perf._timing import interleaved, report, write


def _decode(path: str) -> int:
    from mirbench.audio.decode import load_audio

    return len(load_audio(path))


def decode_throughput(paths: list[str], workers: int) -> float:
    with ProcessPoolExecutor(workers, mp_context=get_context("fork")) as pool:
        list(pool.map(_decode, paths[:workers]))  # start-up outside the timing
        t0 = time.perf_counter()
        list(pool.map(_decode, paths, chunksize=4))
        return len(paths) / (time.perf_counter() - t0)


def write_formats(src: Path, dst: Path, formats: tuple[str, ...] = ("au_22k", "mp3_44k"),
                  clips: int | None = None) -> dict[str, list[str]]:
    """The first ``clips`` GTZAN tracks (spread over the genres) as ``.au`` at 22,050 Hz and/or MP3 at 44.1 kHz."""
    from mirbench.audio.decode import resample
    from mirbench.data.gtzan import find_tracks

    tracks = sorted(find_tracks(src).items())
    if clips:
        tracks = tracks[:: max(1, len(tracks) // clips)][:clips]
    out = {f: [] for f in formats}
    for track, path in tracks:
        y, sr = sf.read(path, dtype="float32")
        if "au_22k" in formats:
            au = dst / "au" / f"{track}.au"
            au.parent.mkdir(parents=True, exist_ok=True)
            sf.write(au, y, sr, format="AU", subtype="PCM_16")
            out["au_22k"].append(str(au))
        if "mp3_44k" in formats:
            mp3 = dst / "mp3" / f"{track}.mp3"
            mp3.parent.mkdir(parents=True, exist_ok=True)
            sf.write(mp3, resample(y, sr, 44100), 44100, format="MP3")
            out["mp3_44k"].append(str(mp3))
    return out


QUICK_ARGS = ["--clips", "16", "--repeats", "2", "--formats", "au_22k"]


def main(argv: list[str] | None = None) -> int:
    from mirbench.audio.features import FEATURES
    from mirbench.audio.prepare import AudioItem, prepare_features
    from mirbench.paths import shared_data_dir

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--clips", type=int, default=100)
    p.add_argument("--repeats", type=int, default=3, help="interleaved rounds: decode, then each feature's prepare")
    p.add_argument("--formats", default="au_22k,mp3_44k")
    p.add_argument("--out", default=None, help="JSON record (default results/perf/prepare_throughput.json)")
    args = p.parse_args(argv)
    src = shared_data_dir() / "gtzan_mini"
    if not src.is_dir():
        print(f"skipped: real audio not found at {src}")
        return 0
    tmp = Path(tempfile.mkdtemp(prefix="mirbench_perf_"))
    try:
        formats = write_formats(src, tmp / "audio", tuple(args.formats.split(",")), args.clips)
        record: dict = {"config": vars(args), "formats": {}}
        for fmt in args.formats.split(","):
            paths = formats[fmt]
            items = [AudioItem(Path(q).stem, q) for q in paths]
            runs = iter(range(10**6))

            def prepare(feature: str) -> float:
                rep = prepare_features(items, tmp / "cache" / f"{fmt}_{feature}_{next(runs)}", feature,
                                       workers=args.workers, progress=False)
                if rep.failed:
                    raise RuntimeError(f"{rep.failed} clips failed in {feature}")
                return rep.elapsed_s

            def decode() -> float:
                return len(paths) / decode_throughput(paths, args.workers)

            cases = {"decode": decode, **{f: (lambda f=f: prepare(f)) for f in FEATURES}}
            times = interleaved(cases, args.repeats, warmup=0, self_timed=True)
            rec = report(f"prepare {fmt} {len(paths)} clips, {args.workers} workers (decode + feature + cache)",
                         times, "decode", unit_work=len(paths), unit="clips")
            record["formats"][fmt] = rec
        write(record, "prepare_throughput", args.out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
