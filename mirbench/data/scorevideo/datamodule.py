"""The score-video set as a datamodule: build it once, prepare it with the YouTube-8M loader, then batch.

:class:`ScoreVideoDataModule` is :class:`~mirbench.data.yt8m_musicvideo.YT8MMusicVideoDataModule`
over a build folder: the build is a YouTube-8M copy and ``mirbench prepare yt8m_mv`` 's
:func:`~mirbench.data.yt8m_musicvideo.extract` caches its features, so every batch has gone
through the real loader. The card is in :mod:`mirbench.data.sources.scorevideo`.
"""

from __future__ import annotations

import csv
import fcntl
import json
import logging
import math
from pathlib import Path

import numpy as np

from mirbench.audio.prepare import PrepareReport
from mirbench.data.base import PairedInputs
from mirbench.data.scorevideo.build import ScoreVideoParams, build_scorevideo, load_report, verify_build
from mirbench.data.yt8m_musicvideo import MUSIC_VIDEO, YT8MMusicVideoDataModule, extract, read_vocabulary
from mirbench.paths import dataset_dir

log = logging.getLogger(__name__)

FEATURES = Path("features") / "yt8m"


class ScoreVideoBuildError(RuntimeError):
    """A score-video build whose files are missing or corrupt (the message names them)."""


def scorevideo_dir(params: ScoreVideoParams, root: str | None = None) -> Path:
    """``<root>/<build name>``; ``root`` defaults to ``$MIRBENCH_DATA/scorevideo``."""
    return dataset_dir("scorevideo", root) / params.name


def ensure_scorevideo(params: ScoreVideoParams, root: str | None = None, workers: int | None = None,
                      progress: bool = True) -> Path:
    """The verified build folder for ``params``, building it first when absent (one process at a time).

    Raises :class:`ScoreVideoBuildError` naming each file that is missing or altered since the build.
    """
    path = scorevideo_dir(params, root)
    if not (path / "scorevideo.json").is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.parent / f".{path.name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not (path / "scorevideo.json").is_file():
                log.warning("building the score-video set into %s (once; `mirbench prepare scorevideo` does it ahead)",
                            path)
                build_scorevideo(path, params, workers=workers, progress=progress)
    problems = verify_build(path)
    if problems:
        raise ScoreVideoBuildError(f"score-video build {path} is damaged; delete it to rebuild:\n"
                                   + "\n".join(problems))
    return path


def prepare_features(build: Path, progress: bool = True) -> PrepareReport:
    """Run the YouTube-8M extraction (label "Music video") on a build; raise if any TFRecord failed."""
    label = read_vocabulary(build / "vocabulary.csv")[MUSIC_VIDEO]
    report = extract(build, build / FEATURES, label_index=label, progress=progress)
    if report.failures:
        raise ScoreVideoBuildError("unreadable TFRecords in the score-video build:\n"
                                   + "\n".join(f"{f['path']}: {f['reason']}" for f in report.failures))
    return report


def _features_ready(build: Path) -> bool:
    rep = build / FEATURES / "report.json"
    if not rep.is_file():
        return False
    done = json.loads(rep.read_text())
    return done["failed"] == 0 and done["total"] == load_report(build)["n_videos"]


class ScoreVideoDataModule(YT8MMusicVideoDataModule):
    """The embedded score-video set (built on first use); batches as ``YT8MMusicVideoDataModule``.

    Defaults to ``sequences=True``: ``{"audio" (B, T, 128), "rgb" (B, T, 1024), "mask" (B, T) True on
    padding, "lengths", "item", "group", "track"}``; ``group`` codes name the piece of each video, so
    a relaxed R@k can count any rendering of the query's piece as a hit (:meth:`item_groups`).

    Args:
        root: folder holding builds (default ``$MIRBENCH_DATA/scorevideo``).
        n_pieces, renderings, max_seconds, train_fraction, seed, min_seconds, videos_per_shard,
            single_fraction: the build (:class:`ScoreVideoParams`); ``single_fraction`` of the pieces are
            rendered once, unambiguous controls beside the ambiguous sibling renderings.
        crop_frames: seconds per example (None = whole videos, padded per batch).
        build_workers: processes for a first build (default: all cores).
    """

    dataset_id = "scorevideo"

    def __init__(self, root: str | None = None, n_pieces: int = ScoreVideoParams.n_pieces,
                 renderings: int = ScoreVideoParams.renderings, max_seconds: int = ScoreVideoParams.max_seconds,
                 train_fraction: float = ScoreVideoParams.train_fraction, seed: int = ScoreVideoParams.seed,
                 min_seconds: int = ScoreVideoParams.min_seconds,
                 single_fraction: float = ScoreVideoParams.single_fraction,
                 videos_per_shard: int = ScoreVideoParams.videos_per_shard, crop_frames: int | None = None,
                 batch_size: int = 64, num_workers: int = 0,
                 build_workers: int | None = None, sequences: bool = True):
        self.params = ScoreVideoParams(n_pieces=n_pieces, renderings=renderings, max_seconds=max_seconds,
                                       train_fraction=train_fraction, seed=seed, min_seconds=min_seconds,
                                       videos_per_shard=videos_per_shard, single_fraction=single_fraction)
        self.build_root, self.build_workers = root, build_workers
        super().__init__(root=str(scorevideo_dir(self.params, root)), crop_frames=crop_frames,
                         batch_size=batch_size, num_workers=num_workers, sequences=sequences)
        self._ready = False

    def prepare_data(self) -> None:
        """Build (once), verify the files and cache the features through the YouTube-8M loader."""
        if self._ready:
            return
        build = ensure_scorevideo(self.params, self.build_root, self.build_workers)
        if not _features_ready(build):
            with open(build.parent / f".{build.name}.lock", "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                if not _features_ready(build):
                    prepare_features(build, progress=False)
        self._ready = True

    def build_table(self):
        self.prepare_data()
        return super().build_table()

    def item_renderings(self, split: str) -> list[dict]:
        """Per video of ``split``, in ``item`` order: its ``renderings.csv`` row plus ``tempo_gap``.

        ``siblings`` (other renderings of the same piece) > 0 marks an ambiguous video; ``tempo_gap`` =
        min over those siblings of |ln(bpm / bpm')| (inf without siblings), a graded measure: close tempi
        give near-identical rgb.
        """
        with open(self.root / "renderings.csv", newline="", encoding="utf-8") as f:
            rows = {r["id"]: r for r in csv.DictReader(f)}
        bpms: dict[str, list[float]] = {}
        for r in rows.values():
            bpms.setdefault(r["piece_id"], []).append(float(r["bpm"]))
        out = []
        for vid in self.item_ids(split):
            r = dict(rows[vid])
            own = float(r["bpm"])
            others = list(bpms[r["piece_id"]])
            others.remove(own)
            r["tempo_gap"] = min((abs(math.log(own / b)) for b in others), default=math.inf)
            out.append(r)
        return out

    def paired_inputs(self) -> PairedInputs:
        """The test pairs, their pieces as groups, and ambiguity: a video with sibling renderings is ambiguous."""
        ambiguous = np.array([int(r["siblings"]) > 0 for r in self.item_renderings("test")], dtype=bool)
        return PairedInputs(test=self.test_dataloader(), groups=self.item_groups("test"), ambiguous=ambiguous)


def prepare(args) -> PrepareReport:
    """``mirbench prepare scorevideo [--root DIR] [--workers N]``: build the default set and cache its features."""
    build = ensure_scorevideo(ScoreVideoParams(), getattr(args, "root", None), getattr(args, "workers", None),
                              progress=not getattr(args, "no_progress", False))
    rep = load_report(build)
    print(f"score-video build {build}: {rep['n_pieces']} pieces, {rep['n_videos']} videos "
          f"{rep['videos_per_split']}, {rep['n_failed']} pieces skipped (see report.json), "
          f"built in {rep['build_seconds']} s")
    return prepare_features(build, progress=not getattr(args, "no_progress", False))
