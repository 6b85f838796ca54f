"""Build the embedded corpus: select pieces, parse, render 3-s clips, compute features, write atomically.

Layout of a build folder (all arrays row-aligned with ``clips.csv``)::

    corpus.json     parameters, versions, counts, build time
    pieces.csv      piece_id, source, title path, genre, era, split, bpm, velocity, programs, tags
    clips.csv       clip_id, piece_id, track (piece index), split, start_seconds
    tags.csv        tag, category
    tag_matrix.npy  (n_pieces, n_tags) uint8 multi-hot (a clip has its piece's tags)
    audio.npy       (n_clips, 66150) int16, 22,050 Hz mono
    logmel.npy      (n_clips, 129, 128) float16, Lee et al. 2020 log-mel (not normalised)
    frames52.npy    (n_clips, 130, 52) float32, Kim & Liem 2022 frames
    dimsim_raw.csv / dimsim_clean.csv   Dim-Sim-style triplets with simulated votes (test pieces)
    report.json     pieces that failed to parse or render, with reasons
"""

from __future__ import annotations

import json
import multiprocessing as mp
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from mirbench.audio.features import frames_kim2022, logmel_lee2020, warm_up
from mirbench.data.corpus import tags as T
from mirbench.data.corpus.dimsim import simulate_dimsim
from mirbench.data.corpus.render import CLIP_SECONDS, SAMPLE_RATE, Renderer, clip_starts, plan_rendering
from mirbench.data.corpus.score import PieceParseError, parse_piece
from mirbench.data.corpus.sources import PieceSpec, select_pieces
from mirbench.io import atomic_dir, write_json
from mirbench.threads import kept_threads

FORMAT_VERSION = 3
DEFAULT_SPLIT = (0.8, 0.1, 0.1)


@dataclass(frozen=True)
class CorpusParams:
    """What determines a build (its folder name is derived from these)."""

    n_pieces: int = 360
    clips_per_piece: int = 6
    seed: int = 0
    split: tuple[float, float, float] = DEFAULT_SPLIT  # train, valid, test fractions of the pieces
    n_dimsim_triplets: int = 1000

    @property
    def name(self) -> str:
        split = "" if self.split == DEFAULT_SPLIT else "-p" + "-".join(f"{round(100 * f)}" for f in self.split)
        return f"n{self.n_pieces}-c{self.clips_per_piece}-s{self.seed}{split}-v{FORMAT_VERSION}"


_RENDERER: Renderer | None = None


def _init_worker() -> None:
    """One thread per worker: two BLAS threads per process made tiny FFTs 200x slower here."""
    import torch

    torch.set_num_threads(1)


def _init_pool_worker() -> None:
    """A pool worker: one thread, and gone with its parent (a killed build leaves no worker behind)."""
    from mirbench.audio.prepare import exit_with_parent

    _init_worker()
    exit_with_parent()


def _render_piece(args: tuple[int, PieceSpec, CorpusParams]) -> dict:
    """Worker: parse, plan, render and featurise one piece; errors come back as data."""
    global _RENDERER
    index, spec, params = args
    try:
        piece = parse_piece(spec)
        rng = np.random.default_rng([params.seed, index])
        plan = plan_rendering(piece, spec.genre, rng)
        duration = piece.length_ql * 60.0 / plan.bpm
        if duration < CLIP_SECONDS:
            raise PieceParseError(f"{spec.piece_id}: only {duration:.1f} s long at {plan.bpm:.0f} BPM")
        starts = clip_starts(duration, params.clips_per_piece, rng)
        _RENDERER = _RENDERER or Renderer()
        audio = _RENDERER.render(piece, plan, starts)
        if not np.isfinite(audio).all() or np.abs(audio).max() < 1e-4:
            raise PieceParseError(f"{spec.piece_id}: rendered silence")
        logmel = np.stack([logmel_lee2020(a) for a in audio]).astype(np.float16)
        frames = np.stack([frames_kim2022(a) for a in audio])
    except PieceParseError as exc:
        return {"index": index, "error": str(exc)}
    except Exception as exc:  # a broken piece must not stop the build; it is reported
        return {"index": index, "error": f"{spec.piece_id}: {type(exc).__name__}: {exc}"}
    tags = (T.genre_tags(spec.genre) + T.mood_tags(piece.mode, plan.bpm, plan.velocity)
            + plan.instrument_tags + [spec.era])
    return {
        "index": index, "starts": starts, "tags": tags, "bpm": plan.bpm, "velocity": plan.velocity,
        "programs": plan.programs, "audio": (audio * 32767).astype(np.int16), "logmel": logmel,
        "frames": frames,
    }


def assign_splits(pieces: list[PieceSpec], fractions: tuple[float, float, float], seed: int) -> list[str]:
    """Piece-disjoint train/valid/test, stratified by source.

    Pieces are shuffled within each source and the sources laid end to end; position k goes to the
    split where the golden-ratio sequence frac(k * 0.618...) falls, so every source, even one with
    a handful of pieces in a small build, gets its share of each split.
    """
    rng = np.random.default_rng([seed, 7])
    order = [i for source in sorted({p.source for p in pieces})
             for i in rng.permutation([i for i, p in enumerate(pieces) if p.source == source])]
    cut_train, cut_valid = fractions[0], fractions[0] + fractions[1]
    out = [""] * len(pieces)
    for k, i in enumerate(order):
        u = (k * 0.6180339887498949 + 0.5) % 1.0
        out[i] = "train" if u < cut_train else "valid" if u < cut_valid else "test"
    return out


def build_corpus(out_dir: str | Path, params: CorpusParams = CorpusParams(), workers: int | None = None,
                 progress: bool = True) -> dict:
    """Build the corpus into ``out_dir`` (written to a temporary folder, then moved into place)."""
    out_dir = Path(out_dir)
    t0 = time.time()
    specs = select_pieces(params.n_pieces, params.seed)
    splits = assign_splits(specs, params.split, params.seed)
    jobs = [(i, s, params) for i, s in enumerate(specs)]
    workers = workers or min(mp.cpu_count(), 8)
    results = []
    bar = tqdm(total=len(jobs), desc="corpus: render", unit="piece", disable=not progress)
    ctx = mp.get_context("fork")  # workers inherit the parsed modules; no __main__ guard needed
    # one thread here too (forked workers inherit it; the serial path renders here), and the caller's count back
    # after: a training run that built the corpus on first use trained single-threaded before
    with kept_threads(1):
        warm_up("logmel_lee2020", "frames_kim2022")  # numba kernels compiled (and cached) here, not by every worker
        with ctx.Pool(workers, initializer=_init_pool_worker) if workers > 1 else _Serial() as pool:
            for res in pool.imap_unordered(_render_piece, jobs, chunksize=2):
                results.append(res)
                bar.update()
    bar.close()
    results.sort(key=lambda r: r["index"])
    ok = [r for r in results if "error" not in r]
    failed = [{"piece_id": specs[r["index"]].piece_id, "reason": r["error"]} for r in results if "error" in r]
    if not ok:
        raise RuntimeError(f"corpus build produced no piece; first failures: {failed[:3]}")
    with atomic_dir(out_dir) as tmp:
        _write(tmp, specs, splits, ok, params)
        report = _report(specs, ok, failed, params, time.time() - t0)
        write_json(tmp / "report.json", report)
        write_json(tmp / "corpus.json", {"format_version": FORMAT_VERSION, "params": asdict(params),
                                         **{k: report[k] for k in ("n_pieces", "n_clips", "build_seconds")}})
    return report


class _Serial:
    """A stand-in for a process pool with one worker."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    @staticmethod
    def imap_unordered(fn, jobs, chunksize=1):
        return map(fn, jobs)


def _write(tmp: Path, specs, splits, ok: list[dict], params: CorpusParams) -> None:
    pieces, clips = [], []
    for track, r in enumerate(ok):
        spec = specs[r["index"]]
        pieces.append({"piece_id": spec.piece_id, "source": spec.source, "path": spec.path,
                       "genre": spec.genre, "era": spec.era, "split": splits[r["index"]],
                       "bpm": round(r["bpm"], 2), "velocity": r["velocity"],
                       "programs": " ".join(map(str, r["programs"])), "tags": ";".join(r["tags"])})
        for k, start in enumerate(r["starts"]):
            clips.append({"clip_id": f"{track:05d}_{k}", "piece_id": spec.piece_id, "track": track,
                          "split": splits[r["index"]], "start_seconds": round(float(start), 3)})
    pd.DataFrame(pieces).to_csv(tmp / "pieces.csv", index=False)
    clips_df = pd.DataFrame(clips)
    clips_df.to_csv(tmp / "clips.csv", index=False)
    pd.DataFrame({"tag": T.TAGS, "category": T.TAG_CATEGORIES}).to_csv(tmp / "tags.csv", index=False)
    tag_matrix = np.array([T.tag_vector(r["tags"]) for r in ok], dtype=np.uint8)
    np.save(tmp / "tag_matrix.npy", tag_matrix)
    for key, name in (("audio", "audio.npy"), ("logmel", "logmel.npy"), ("frames", "frames52.npy")):
        np.save(tmp / name, np.concatenate([r[key] for r in ok]))
    raw, clean = simulate_dimsim(clips_df, tag_matrix, params.n_dimsim_triplets, params.seed)
    raw.to_csv(tmp / "dimsim_raw.csv", index=False)
    clean.to_csv(tmp / "dimsim_clean.csv", index=False)


def _report(specs, ok, failed, params: CorpusParams, seconds: float) -> dict:
    tags = pd.Series([t for r in ok for t in r["tags"]]).value_counts()
    category = dict(zip(T.TAGS, T.TAG_CATEGORIES))
    per_cat = {c: {t: int(tags.get(t, 0)) for t in T.TAGS if category[t] == c} for c in T.CATEGORIES}
    sources = pd.Series([specs[r["index"]].source for r in ok]).value_counts().to_dict()
    return {
        "n_pieces_requested": len(specs), "n_pieces": len(ok), "n_failed": len(failed),
        "n_clips": len(ok) * params.clips_per_piece, "build_seconds": round(seconds, 1),
        "pieces_per_source": {k: int(v) for k, v in sources.items()},
        "pieces_per_tag": per_cat, "failed": failed,
    }


def load_report(build_dir: str | Path) -> dict:
    return json.loads((Path(build_dir) / "report.json").read_text())
