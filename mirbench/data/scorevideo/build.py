"""Build the score-video set: render corpus pieces several times and write YouTube-8M frame-level TFRecords.

Layout of a build folder (a YouTube-8M copy as ``mirbench prepare yt8m_mv --root`` reads it)::

    vocabulary.csv            YouTube-8M's columns; "Music video" among a few other labels
    frame/train0000.tfrecord  SequenceExample: context id (4 characters), labels; feature lists
    frame/validate0000.tfrecord   rgb (1024 bytes) and audio (128 bytes) per second, uint8-quantised
    groups.csv                id, group: the piece each video renders (valid/test are split by group)
    renderings.csv            id, piece_id, rendering, file, split, seconds, bpm, velocity, programs, drone,
                              siblings (other renderings of the piece: 0 for the single_fraction controls)
    pieces.csv                piece_id, source, genre, split, ids
    scorevideo.json           parameters, counts, build time, size and sha256 of every file above
    report.json               pieces that failed to parse or render, with reasons

Each shard also holds one "distractor" video with another label, which the label selection skips.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import multiprocessing as mp
import string
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from mirbench.data.corpus.build import assign_splits
from mirbench.data.corpus.render import Renderer, plan_rendering
from mirbench.data.corpus.score import PieceParseError, parse_piece
from mirbench.data.corpus.sources import PieceSpec, select_pieces
from mirbench.data.scorevideo.features import audio_frames, piano_roll_frames
from mirbench.data.yt8m_musicvideo import GROUPS, MUSIC_VIDEO, quantize, split_of
from mirbench.io import atomic_dir, write_json, write_text
from mirbench.threads import kept_threads

FORMAT_VERSION = 1
VOCABULARY = ((0, "Game"), (1, "Vehicle"), (2, "Concert"), (3, MUSIC_VIDEO))
MUSIC_VIDEO_INDEX = 3
DISTRACTOR_LABELS = (0, 1)
VOCAB_COLUMNS = ("Index", "TrainVideoCount", "KnowledgeGraphId", "Name", "WikiUrl", "Vertical1", "Vertical2",
                 "Vertical3", "WikiDescription")
ID_ALPHABET = string.ascii_letters + string.digits
FRAME_DIR = "frame"


@dataclass(frozen=True)
class ScoreVideoParams:
    """What determines a build (its folder name is derived from these)."""

    n_pieces: int = 120
    renderings: int = 3
    max_seconds: int = 30  # each rendering: the first max_seconds of the piece at its tempo
    min_seconds: int = 8  # pieces with a shorter rendering are skipped (and reported)
    train_fraction: float = 0.6  # of pieces, in train* files; the rest in validate* (valid/test by piece)
    videos_per_shard: int = 64
    seed: int = 0
    single_fraction: float = 0.0  # of pieces rendered once: unambiguous controls for uncertainty checks

    def __post_init__(self):
        if self.renderings < 1 or self.n_pieces < 1:
            raise ValueError(f"n_pieces and renderings must be >= 1, got {self.n_pieces}, {self.renderings}")
        if not 0.0 < self.train_fraction < 1.0 or not 0.0 <= self.single_fraction <= 1.0:
            raise ValueError(f"train_fraction must lie in (0, 1) and single_fraction in [0, 1], "
                             f"got {self.train_fraction}, {self.single_fraction}")
        if not 1 <= self.min_seconds <= self.max_seconds:
            raise ValueError(f"need 1 <= min_seconds <= max_seconds, got {self.min_seconds}, {self.max_seconds}")

    @property
    def name(self) -> str:
        digest = hashlib.sha1(json.dumps({**asdict(self), "v": FORMAT_VERSION}, sort_keys=True).encode()).hexdigest()
        return f"n{self.n_pieces}-r{self.renderings}-s{self.seed}-{digest[:8]}"


class ExcerptRenderer(Renderer):
    """The corpus renderer, for one excerpt of any length from the start of the piece."""

    def render_seconds(self, piece, plan, seconds: int) -> np.ndarray:
        for ch, program in enumerate(plan.programs):
            self.synth.program_select(ch, self.sfid, 0, program)
        return self._render_window(self._events(piece, plan), plan, 0.0, seconds * self.sample_rate)


_RENDERER: ExcerptRenderer | None = None


def _init_worker() -> None:
    torch.set_num_threads(1)  # tiny FFTs: more threads per process only contend on 2 cores


def single_pieces(n_specs: int, params: ScoreVideoParams) -> set[int]:
    """Indices of the pieces rendered once (``single_fraction`` of them, drawn from the seed)."""
    rng = np.random.default_rng([params.seed, 13])
    return set(rng.permutation(n_specs)[: int(round(params.single_fraction * n_specs))].tolist())


def _render_piece(job: tuple[int, PieceSpec, ScoreVideoParams, int]) -> dict:
    """Worker: parse one piece and render it ``n_renderings`` times; errors come back as data."""
    global _RENDERER
    index, spec, params, n_renderings = job
    try:
        piece = parse_piece(spec)
        _RENDERER = _RENDERER or ExcerptRenderer()
        out = []
        for r in range(n_renderings):
            plan = plan_rendering(piece, spec.genre, np.random.default_rng([params.seed, index, r]))
            seconds = min(int(piece.length_ql * 60.0 / plan.bpm), params.max_seconds)
            if seconds < params.min_seconds:
                raise PieceParseError(f"{spec.piece_id}: rendering {r} lasts {seconds} s at {plan.bpm:.0f} BPM "
                                      f"(< {params.min_seconds} s)")
            audio = _RENDERER.render_seconds(piece, plan, seconds)
            if not np.isfinite(audio).all() or np.abs(audio).max() < 1e-4:
                raise PieceParseError(f"{spec.piece_id}: rendering {r} is silent")
            out.append({"bpm": plan.bpm, "velocity": plan.velocity, "programs": plan.programs, "drone": plan.drone,
                        "seconds": seconds, "audio": quantize(audio_frames(audio, seconds)),
                        "rgb": quantize(piano_roll_frames(piece, plan.bpm, seconds))})
    except PieceParseError as exc:
        return {"index": index, "error": str(exc)}
    except Exception as exc:  # a broken piece must not stop the build; it is reported
        return {"index": index, "error": f"{spec.piece_id}: {type(exc).__name__}: {exc}"}
    return {"index": index, "renderings": out}


def _video_ids(n: int, rng: np.random.Generator) -> list[str]:
    """``n`` distinct 4-character ids, YouTube-8M's format for its (randomised) video ids."""
    ids: list[str] = []
    seen: set[str] = set()
    while len(ids) < n:
        vid = "".join(rng.choice(list(ID_ALPHABET), 4))
        if vid not in seen:
            seen.add(vid)
            ids.append(vid)
    return ids


def build_scorevideo(out_dir: str | Path, params: ScoreVideoParams = ScoreVideoParams(),
                     workers: int | None = None, progress: bool = True) -> dict:
    """Build into ``out_dir`` (written to a temporary folder, then moved into place); returns the report."""
    out_dir = Path(out_dir)
    t0 = time.time()
    specs = select_pieces(params.n_pieces, params.seed)
    held = assign_splits(specs, (params.train_fraction, 1.0 - params.train_fraction, 0.0), params.seed)
    singles = single_pieces(len(specs), params)
    jobs = [(i, s, params, 1 if i in singles else params.renderings) for i, s in enumerate(specs)]
    workers = max(1, min(workers or mp.cpu_count(), len(jobs)))
    bar = tqdm(total=len(jobs), desc="scorevideo: render", unit="piece", disable=not progress)
    results = []
    try:
        with kept_threads(1):  # the caller (a training run building on first use) keeps its threads
            if workers > 1:
                with mp.get_context("fork").Pool(workers, initializer=_init_worker) as pool:
                    for res in pool.imap_unordered(_render_piece, jobs, chunksize=2):
                        results.append(res)
                        bar.update()
            else:
                for job in jobs:
                    results.append(_render_piece(job))
                    bar.update()
    finally:
        bar.close()
    results.sort(key=lambda r: r["index"])
    ok = [r for r in results if "error" not in r]
    failed = [{"piece_id": specs[r["index"]].piece_id, "reason": r["error"]} for r in results if "error" in r]
    if not ok:
        raise RuntimeError(f"score-video build produced no piece; first failures: {failed[:3]}")
    with atomic_dir(out_dir) as tmp:
        counts = _write(tmp, specs, held, ok, params)
        report = {"n_pieces_requested": len(specs), "n_pieces": len(ok), "n_failed": len(failed),
                  "n_single_pieces": sum(len(r["renderings"]) == 1 for r in ok),
                  **counts, "build_seconds": round(time.time() - t0, 1), "workers": workers, "failed": failed}
        write_json(tmp / "report.json", report)
        files = {str(p.relative_to(tmp)): _file_record(p) for p in sorted(tmp.rglob("*"))
                 if p.is_file() and p.name != "report.json"}
        write_json(tmp / "scorevideo.json", {"format_version": FORMAT_VERSION, "params": asdict(params),
                                             **{k: v for k, v in report.items() if k != "failed"}, "files": files})
    return report


def _write(tmp: Path, specs: list[PieceSpec], held: list[str], ok: list[dict], params: ScoreVideoParams) -> dict:
    """Write TFRecords, vocabulary, groups and per-video/per-piece tables; returns counts."""
    from tfrecord.writer import TFRecordWriter

    rng = np.random.default_rng([params.seed, 11])
    n_videos = sum(len(r["renderings"]) for r in ok)
    videos_of = {r["index"]: r["renderings"] for r in ok}
    kinds = {"train": [], "validate": []}
    for r in ok:
        kind = "train" if held[r["index"]] == "train" else "validate"
        kinds[kind].extend((r["index"], k, v) for k, v in enumerate(r["renderings"]))
    n_shards = {k: -(-len(v) // params.videos_per_shard) for k, v in kinds.items()}
    ids = iter(_video_ids(n_videos + sum(n_shards.values()), rng))
    rows: list[dict] = []
    pieces: dict[str, dict] = {}
    vocab_counts = {i: 0 for i, _ in VOCABULARY}
    (tmp / FRAME_DIR).mkdir()
    for kind, videos in kinds.items():
        order = rng.permutation(len(videos))
        for shard in range(n_shards[kind]):
            name = f"{kind}{shard:04d}.tfrecord"
            writer = TFRecordWriter(str(tmp / FRAME_DIR / name))
            for j in order[shard * params.videos_per_shard: (shard + 1) * params.videos_per_shard]:
                index, k, v = videos[j]
                spec, vid = specs[index], next(ids)
                _write_video(writer, vid, [MUSIC_VIDEO_INDEX], v["audio"], v["rgb"])
                vocab_counts[MUSIC_VIDEO_INDEX] += kind == "train"
                split = split_of(name, vid, spec.piece_id)
                rows.append({"id": vid, "piece_id": spec.piece_id, "rendering": k, "file": f"{FRAME_DIR}/{name}",
                             "split": split, "seconds": v["seconds"], "bpm": round(v["bpm"], 2),
                             "velocity": v["velocity"], "programs": " ".join(map(str, v["programs"])),
                             "drone": int(v["drone"]), "siblings": len(videos_of[index]) - 1})
                pieces.setdefault(spec.piece_id, {"piece_id": spec.piece_id, "source": spec.source,
                                                  "genre": spec.genre, "split": split, "ids": []})["ids"].append(vid)
            label = DISTRACTOR_LABELS[shard % len(DISTRACTOR_LABELS)]
            t = int(rng.integers(5, 20))
            _write_video(writer, next(ids), [label], rng.integers(0, 256, (t, 128), dtype=np.uint8),
                         rng.integers(0, 256, (t, 1024), dtype=np.uint8))
            vocab_counts[label] += kind == "train"
            writer.close()
    _write_csv(tmp / "vocabulary.csv", VOCAB_COLUMNS,
               [{"Index": i, "TrainVideoCount": vocab_counts[i], "Name": n} for i, n in VOCABULARY])
    _write_csv(tmp / GROUPS, ("id", "group"), [{"id": r["id"], "group": r["piece_id"]} for r in rows])
    rows.sort(key=lambda r: (r["piece_id"], r["rendering"]))
    _write_csv(tmp / "renderings.csv", tuple(rows[0]), rows)
    _write_csv(tmp / "pieces.csv", ("piece_id", "source", "genre", "split", "ids"),
               [{**p, "ids": " ".join(p["ids"])} for p in sorted(pieces.values(), key=lambda p: p["piece_id"])])
    per_split = {s: sum(r["split"] == s for r in rows) for s in ("train", "valid", "test")}
    return {"n_videos": len(rows), "videos_per_split": per_split,
            "pieces_per_split": {s: sum(p["split"] == s for p in pieces.values()) for s in per_split},
            "n_shards": n_shards}


def _write_video(writer, vid: str, labels: list[int], audio: np.ndarray, rgb: np.ndarray) -> None:
    writer.write({"id": (vid.encode(), "byte"), "labels": (labels, "int")},
                 {"rgb": ([f.tobytes() for f in rgb], "byte"), "audio": ([f.tobytes() for f in audio], "byte")})


def _write_csv(path: Path, columns: tuple[str, ...], rows: list[dict]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n", restval="")
    w.writeheader()
    w.writerows(rows)
    write_text(path, buf.getvalue())


def _file_record(path: Path) -> dict:
    return {"bytes": path.stat().st_size, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


def verify_build(build_dir: str | Path) -> list[str]:
    """Problems of a build against its ``scorevideo.json`` (a missing, resized or altered file, by name)."""
    build_dir = Path(build_dir)
    meta = build_dir / "scorevideo.json"
    if not meta.is_file():
        return [f"{meta}: missing (not a finished score-video build)"]
    problems = []
    for rel, want in json.loads(meta.read_text())["files"].items():
        path = build_dir / rel
        if not path.is_file():
            problems.append(f"{path}: missing")
        elif path.stat().st_size != want["bytes"] or _file_record(path)["sha256"] != want["sha256"]:
            problems.append(f"{path}: corrupt (size or sha256 differs from scorevideo.json)")
    return problems


def load_report(build_dir: str | Path) -> dict:
    return json.loads((Path(build_dir) / "report.json").read_text())
