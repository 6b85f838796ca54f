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
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from mirbench.audio.cache import FeatureCache
from mirbench.audio.prepare import PrepareReport, _write_report
from mirbench.data.featuredm import FeatureDataModule, Table, feature_cache_dir
from mirbench.io import write_text
from mirbench.paths import dataset_dir

MUSIC_VIDEO = "Music video"
VIDEO_FEATURES = {"id": "byte", "labels": "int", "mean_rgb": "float", "mean_audio": "float"}
CONTEXT = {"id": "byte", "labels": "int"}
FRAMES = {"rgb": "byte", "audio": "byte"}
VIDEOS = "videos.csv"


def dequantize(x: np.ndarray, max_q: float = 2.0, min_q: float = -2.0) -> np.ndarray:
    """uint8 -> float32 as YouTube-8M's starter code: x * range / 255 + range / 512 + min."""
    rng = max_q - min_q
    return (np.asarray(x, dtype=np.float32) * (rng / 255.0) + (rng / 512.0 + min_q)).astype(np.float32)


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
    """
    from tfrecord.reader import tfrecord_loader

    path = str(path)
    first = next(iter(tfrecord_loader(path, None, None)), None)
    if first is None:
        return
    if "mean_audio" in first:
        for r in tfrecord_loader(path, None, VIDEO_FEATURES):
            yield (_decode_id(r["id"]), np.asarray(r["labels"]), np.asarray(r["mean_audio"], np.float32)[None],
                   np.asarray(r["mean_rgb"], np.float32)[None])
    else:
        for ctx, seq in tfrecord_loader(path, None, CONTEXT, sequence_description=FRAMES):
            audio = np.stack([np.frombuffer(bytes(b), np.uint8) for b in seq["audio"]])
            rgb = np.stack([np.frombuffer(bytes(b), np.uint8) for b in seq["rgb"]])
            yield _decode_id(ctx["id"]), np.asarray(ctx["labels"]), dequantize(audio), dequantize(rgb)


def split_of(file_name: str, video_id: str) -> str:
    if file_name.startswith("train"):
        return "train"
    if file_name.startswith("validate"):
        return "valid" if int(hashlib.sha1(video_id.encode()).hexdigest()[:8], 16) % 2 == 0 else "test"
    return "test"


def extract(root: str | os.PathLike, out_dir: str | os.PathLike, label_index: int | None = None,
            ids: set[str] | None = None, progress: bool = True) -> PrepareReport:
    """Write the selected videos' audio and rgb features to ``out_dir/{audio,rgb}`` caches (resumable).

    Selection: ``ids`` if given, else videos whose labels contain ``label_index``. Unreadable
    TFRecord files are listed in ``failures.csv`` and skipped.
    """
    from tqdm.auto import tqdm

    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    files = sorted(Path(root).rglob("*.tfrecord"))
    audio, rgb = FeatureCache(out_dir / "audio", {"feature": "yt8m_audio"}), FeatureCache(out_dir / "rgb", {"feature": "yt8m_rgb"})
    videos = _read_videos(out_dir)
    report = PrepareReport(out_dir=str(out_dir), feature="yt8m", total=0)
    for path in tqdm(files, unit="file", desc="prepare yt8m_mv", disable=not progress):
        try:
            for vid, labels, a, v in iter_records(path):
                if (vid not in ids) if ids is not None else (label_index not in labels.tolist()):
                    continue
                report.total += 1
                if vid in audio and vid in rgb:
                    report.cached += 1
                    continue
                audio.put(vid, a.astype(np.float16))
                rgb.put(vid, v.astype(np.float16))
                videos[vid] = (split_of(path.name, vid), path.name)
                report.computed += 1
        except Exception as e:  # a corrupt file must not stop the run; it is reported
            report.failures.append({"item_id": path.name, "path": str(path), "reason": f"{type(e).__name__}: {e}"})
        audio.flush()
        rgb.flush()
        _write_videos(out_dir, videos)
    report.elapsed_s = time.perf_counter() - t0
    _write_report(report)
    return report


def _read_videos(out_dir: Path) -> dict[str, tuple[str, str]]:
    p = out_dir / VIDEOS
    if not p.is_file():
        return {}
    return {r["id"]: (r["split"], r["file"]) for r in csv.DictReader(io.StringIO(p.read_text()))}


def _write_videos(out_dir: Path, videos: dict[str, tuple[str, str]]) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["id", "split", "file"])
    for vid, (split, name) in sorted(videos.items()):
        w.writerow([vid, split, name])
    write_text(out_dir / VIDEOS, buf.getvalue())


def prepare(args):
    """``mirbench prepare yt8m_mv --root DIR [--label NAME | --ids FILE]``."""
    root = dataset_dir("yt8m_mv", args.root)
    out = feature_cache_dir("yt8m_mv", "yt8m", getattr(args, "cache_dir", None), root)
    ids = None
    label_index = None
    if getattr(args, "ids", None):
        ids = {line.strip() for line in Path(args.ids).read_text().splitlines() if line.strip()}
    else:
        vocab = root / "vocabulary.csv"
        if not vocab.is_file():
            raise SystemExit(f"{vocab} not found: it maps label names to indices (or pass --ids FILE)")
        name = getattr(args, "label", None) or MUSIC_VIDEO
        label_index = read_vocabulary(vocab).get(name)
        if label_index is None:
            raise SystemExit(f"label {name!r} is not in {vocab}")
    return extract(root, out, label_index, ids, progress=not getattr(args, "no_progress", False))


class YT8MMusicVideoDataModule(FeatureDataModule):
    """Paired YouTube-8M features: batches ``{"audio": (B, [T,] 128), "video": (B, [T,] 1024), "track"}``.

    Video-level features give ``(B, 128)``/``(B, 1024)``. Frame-level features give crops of
    ``crop_frames`` seconds (random for training, centred otherwise), or the mean over frames when
    ``crop_frames`` is None.
    """

    dataset_id = "yt8m_mv"

    def __init__(self, root: str | None = None, cache_dir: str | None = None, crop_frames: int | None = None,
                 batch_size: int = 256, num_workers: int = 0):
        super().__init__(root=root, feature="yt8m", cache_dir=cache_dir, crop_frames=crop_frames,
                         batch_size=1 if crop_frames is None else batch_size, num_workers=num_workers,
                         eval_mode="center")
        self.batch_size = batch_size  # crop_frames=None reduces items to means: equal shapes, any batch size

    @property
    def cache(self) -> FeatureCache | None:
        if self._cache is None and (self.cache_dir / "audio" / "index.csv").is_file():
            self._cache = FeatureCache(self.cache_dir / "audio")
            self._rgb = FeatureCache(self.cache_dir / "rgb")
        return self._cache

    def build_table(self) -> Table:
        videos = _read_videos(self.cache_dir)
        if not videos:
            raise FileNotFoundError(f"no prepared videos in {self.cache_dir}; run `mirbench prepare yt8m_mv --root ...`")
        ids = sorted(videos)
        splits = {s: [i for i, v in enumerate(ids) if videos[v][0] == s] for s in ("train", "valid", "test")}
        return Table(ids=ids, splits=splits)

    @property
    def data_info(self):
        from mirbench.data.base import DataInfo

        return DataInfo(input_shape=(self.crop_frames, 128) if self.crop_frames else (128,))

    def dataset(self, split: str, train: bool | None = None) -> Dataset:
        self.cache  # opens both caches
        train = (split == "train") if train is None else train
        return PairDataset(self._cache, self._rgb, self.table.ids, self.split_rows(split), self.crop_frames, train)


class PairDataset(Dataset):
    def __init__(self, audio: FeatureCache, rgb: FeatureCache, ids, rows, crop, train):
        self.audio, self.rgb, self.ids, self.rows, self.crop, self.train = audio, rgb, ids, rows, crop, train

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict:
        row = int(self.rows[i])
        a, v = (np.array(c.load(self.ids[row]), dtype=np.float32) for c in (self.audio, self.rgb))
        if self.crop is None:
            a, v = a.mean(0), v.mean(0)
        else:
            n = min(len(a), len(v))
            slack = max(n - self.crop, 0)
            s = int(torch.randint(0, slack + 1, ()).item()) if self.train else slack // 2
            a, v = _pad(a[s : s + self.crop], self.crop), _pad(v[s : s + self.crop], self.crop)
        return {"audio": torch.from_numpy(a), "video": torch.from_numpy(v), "track": torch.tensor(row)}


def _pad(x: np.ndarray, n: int) -> np.ndarray:
    return x if len(x) >= n else np.concatenate([x, np.zeros((n - len(x), x.shape[1]), np.float32)])


def verify(root: str | os.PathLike) -> list[str]:
    """Problems of a YouTube-8M copy: the vocabulary with a "Music video" label and at least one TFRecord."""
    root = Path(root)
    if not (root / "vocabulary.csv").is_file():
        return ["missing: vocabulary.csv"]
    problems = [] if MUSIC_VIDEO in read_vocabulary(root / "vocabulary.csv") else [f"no {MUSIC_VIDEO!r} in vocabulary.csv"]
    if not any(root.rglob("*.tfrecord")):
        problems.append("no *.tfrecord files")
    return problems
