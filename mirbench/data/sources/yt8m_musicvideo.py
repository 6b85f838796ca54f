"""YT8M-MusicVideo: YouTube-8M videos labelled "Music video", as paired audio/visual features.

Card (full text in ``datasets/yt8m_mv/README.md``):
- What: the music-video subset of YouTube-8M (Abu-El-Haija et al. 2016) used by Surís et al. (CVPR
  2022) and Nakatsuka et al. (ISMIR 2024) for music <-> video retrieval. The published subset's
  video-id lists were not found; we select by the YouTube-8M label "Music video" (``vocabulary.csv``)
  or by an id list the user provides.
- Files: YouTube-8M TFRecords (https://research.google.com/youtube8m/), video level (Example:
  ``id``, ``labels``, ``mean_rgb`` (1024), ``mean_audio`` (128)) or frame level (SequenceExample:
  context ``id``, ``labels``; per-second ``rgb`` (1024 bytes) and ``audio`` (128 bytes) quantised to
  uint8, dequantised as x * 4/255 + 4/512 - 2). Read with the ``tfrecord`` package (no TensorFlow).
- Licence: YouTube-8M features CC BY 4.0.
- Split: ``train*`` files -> train; ``validate*`` files -> valid or test by a hash of the video id
  (50/50; our choice); ``test*`` files carry no labels, so only an id list reaches them (-> test).
  An optional ``groups.csv`` (columns ``id``, ``group``) in the root makes the valid/test hash
  that of the group, so videos of one group (the renderings of one piece in the embedded score-video
  set) never straddle valid and test; without it, the split is the per-video one above.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from mirbench.data.sources.base import SPLITS, Source

DATASET_ID = "yt8m_mv"
DATASET_NAME = "YouTube-8M music videos: paired audio/visual features"
DATASET_LICENSE = "CC BY 4.0 (YouTube-8M features)"
DATASET_URL = "https://research.google.com/youtube8m/"
DATASET_LAYOUT = "video- and frame-level TFRecords -> videos.csv, groups.csv"
DATAMODULE = "mirbench.data.yt8m_musicvideo.YT8MMusicVideoDataModule"
DEFAULT_FEATURE = "yt8m"
NEEDS_AUDIO_ROOT = False

MUSIC_VIDEO = "Music video"
VIDEO_FEATURES = {"id": "byte", "labels": "int", "mean_rgb": "float", "mean_audio": "float"}
CONTEXT = {"id": "byte", "labels": "int"}
FRAMES = {"rgb": "byte", "audio": "byte"}
VIDEOS = "videos.csv"
GROUPS = "groups.csv"


class CorruptTFRecordError(RuntimeError):
    """A TFRecord file that cannot be read; the message starts with the file's path."""


def dequantize(x: np.ndarray, max_q: float = 2.0, min_q: float = -2.0) -> np.ndarray:
    """uint8 -> float32 as YouTube-8M's starter code: x * range / 255 + range / 512 + min."""
    rng = max_q - min_q
    return (np.asarray(x, dtype=np.float32) * (rng / 255.0) + (rng / 512.0 + min_q)).astype(np.float32)


def quantize(x: np.ndarray, max_q: float = 2.0, min_q: float = -2.0) -> np.ndarray:
    """float -> uint8, the exact inverse of :func:`dequantize`: the nearest of its 256 levels.

    ``dequantize(quantize(x))`` is within half a step (range / 510) of ``x`` for x in [min_q, max_q],
    and ``quantize(dequantize(q)) == q`` for every uint8 ``q``.
    """
    rng = max_q - min_q
    q = np.rint((np.asarray(x, dtype=np.float64) - (rng / 512.0 + min_q)) * (255.0 / rng))
    return np.clip(q, 0, 255).astype(np.uint8)


def read_vocabulary(path: str | os.PathLike) -> dict[str, int]:
    """``vocabulary.csv`` (columns Index, ..., Name, ...) -> label name -> index."""
    with open(path, newline="", encoding="utf-8") as f:
        return {r["Name"]: int(r["Index"]) for r in csv.DictReader(f)}


def _decode_id(v) -> str:
    if isinstance(v, str):
        return v
    return (v if isinstance(v, bytes) else bytes(np.asarray(v, dtype=np.uint8))).decode()


def iter_records(path: str | os.PathLike) -> Iterator[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    """``(video id, labels, audio (T, 128), rgb (T, 1024))`` per record of a video- or frame-level file.

    Video level gives T = 1 (the means); frame level gives the dequantised per-second features.
    Raises :class:`CorruptTFRecordError` (naming the file) when the file is missing, truncated or
    not in either layout.
    """
    path = str(path)
    if not os.path.isfile(path):
        raise CorruptTFRecordError(f"{path}: no such TFRecord file")
    try:
        yield from _records(path)
    except CorruptTFRecordError:
        raise
    except Exception as e:  # the tfrecord package and protobuf raise many types on damaged files
        raise CorruptTFRecordError(f"{path}: unreadable TFRecord ({type(e).__name__}: {e})") from e


def _records(path: str) -> Iterator[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    from tfrecord.reader import tfrecord_loader

    first = next(iter(tfrecord_loader(path, None, None)), None)
    if first is None:
        return
    if "mean_audio" in first:
        for r in tfrecord_loader(path, None, VIDEO_FEATURES):
            yield (_decode_id(r["id"]), np.asarray(r["labels"]), np.asarray(r["mean_audio"], np.float32)[None],
                   np.asarray(r["mean_rgb"], np.float32)[None])
        return
    for ctx, seq in tfrecord_loader(path, None, CONTEXT, sequence_description=FRAMES):
        audio = np.stack([np.frombuffer(bytes(b), np.uint8) for b in seq["audio"]])
        rgb = np.stack([np.frombuffer(bytes(b), np.uint8) for b in seq["rgb"]])
        if audio.shape[1:] != (128,) or rgb.shape[1:] != (1024,):
            raise CorruptTFRecordError(f"{path}: frames of {audio.shape[1:]} audio / {rgb.shape[1:]} rgb bytes, "
                                       "expected 128 / 1024")
        yield _decode_id(ctx["id"]), np.asarray(ctx["labels"]), dequantize(audio), dequantize(rgb)


def split_of(file_name: str, video_id: str, group: str | None = None) -> str:
    """``train*`` -> train; ``validate*`` -> valid/test by a hash of ``group`` (default: the video id)."""
    if file_name.startswith("train"):
        return "train"
    if file_name.startswith("validate"):
        key = video_id if group is None else group
        return "valid" if int(hashlib.sha1(key.encode()).hexdigest()[:8], 16) % 2 == 0 else "test"
    return "test"


def read_groups(root: str | os.PathLike) -> dict[str, str]:
    """``<root>/groups.csv`` (id, group) -> video id -> group; empty when the file is absent."""
    p = Path(root) / GROUPS
    if not p.is_file():
        return {}
    with open(p, newline="", encoding="utf-8") as f:
        return {r["id"]: r["group"] for r in csv.DictReader(f)}


def _read_videos(out_dir: Path) -> dict[str, tuple[str, str, str]]:
    """``videos.csv`` -> id -> (split, file, group); files written before groups existed give group = id."""
    p = out_dir / VIDEOS
    if not p.is_file():
        return {}
    return {r["id"]: (r["split"], r["file"], r.get("group") or r["id"])
            for r in csv.DictReader(io.StringIO(p.read_text()))}


def videos_source(dataset: str, videos: dict[str, tuple[str, str, str]]) -> Source:
    """``id -> (split, file, group)`` -> a :class:`Source` of the videos sorted by id, paired ``audio``/``rgb``."""
    ids = sorted(videos)
    group_names = sorted({videos[v][2] for v in ids})
    code = {g: k for k, g in enumerate(group_names)}
    return Source(dataset=dataset, ids=ids, splits={s: [i for i, v in enumerate(ids) if videos[v][0] == s] for s in SPLITS},
                  groups=np.array([code[videos[v][2]] for v in ids], dtype=np.int64), group_names=tuple(group_names),
                  modalities=("audio", "rgb"))


def load(root: str | os.PathLike, cache_dir: str | os.PathLike | None = None) -> Source:
    """The videos ``mirbench prepare yt8m_mv`` selected (``<cache_dir>/videos.csv``; default
    ``<root>/features/yt8m``), their split and group; each id pairs its ``audio`` and ``rgb`` features."""
    cache_dir = Path(cache_dir) if cache_dir else Path(root) / "features" / "yt8m"
    videos = _read_videos(cache_dir)
    if not videos:
        raise FileNotFoundError(f"no prepared videos in {cache_dir}; run `mirbench prepare yt8m_mv --root ...`")
    return videos_source(DATASET_ID, videos)
