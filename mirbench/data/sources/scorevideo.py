"""The embedded score-video set: rendered corpus pieces as "music videos", read from its build folder.

Card (full text in :mod:`mirbench.data.scorevideo` and ``datasets/scorevideo/README.md``): each piece
rendered several times; per second an "audio" (log-mel) and an "rgb" (piano-roll) feature, the pairs of
music <-> video retrieval; videos of one piece share a group and never straddle valid and test. Built (not
downloaded) by :mod:`mirbench.data.scorevideo.build` into ``$MIRBENCH_DATA/scorevideo/<build>`` in
YouTube-8M's frame-level layout, with ``renderings.csv`` listing every music video.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

from mirbench.data.sources.base import Source
from mirbench.data.sources.yt8m_musicvideo import videos_source

DATASET_ID = "scorevideo"
DATASET_NAME = "embedded score videos (rendered corpus pieces) in YouTube-8M's frame-level layout"
DATASET_LICENSE = "built here: music21 corpus (BSD; scores public domain) + TimGM6mb soundfont (GPL-2)"
DATASET_URL = "https://web.mit.edu/music21/"  # the corpus the videos are rendered from
DATASET_LAYOUT = "vocabulary.csv, frame/{train,validate}NNNN.tfrecord (YouTube-8M frame level), groups.csv, renderings.csv, pieces.csv"
DATAMODULE = "mirbench.data.scorevideo.datamodule.ScoreVideoDataModule"
DEFAULT_FEATURE = "yt8m"
NEEDS_AUDIO_ROOT = False


def load(build_dir: str | os.PathLike) -> Source:
    """A build folder -> its music videos (``renderings.csv``) sorted by id, their split and piece (group);
    each id pairs the ``audio`` and ``rgb`` features of its TFRecord."""
    with open(Path(build_dir) / "renderings.csv", newline="", encoding="utf-8") as f:
        videos = {r["id"]: (r["split"], r["file"], r["piece_id"]) for r in csv.DictReader(f)}
    return videos_source(DATASET_ID, videos)
