"""YT8M-MusicVideo: YouTube-8M videos labelled "Music video", as paired audio/visual features.

The datamodule; the data set's card, files and parsing are in :mod:`mirbench.data.sources.yt8m_musicvideo`.
"""

from __future__ import annotations

import csv
import io
import os
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from mirbench.audio.cache import FeatureCache
from mirbench.audio.prepare import PrepareReport, _write_report
from mirbench.data.base import DataInfo, PairedInputs
from mirbench.data.featuredm import FeatureDataModule, Table, feature_cache_dir
from mirbench.io import write_text
from mirbench.paths import dataset_dir

from mirbench.data.sources.yt8m_musicvideo import (GROUPS, MUSIC_VIDEO, VIDEOS, CorruptTFRecordError,  # noqa: F401
                                                   _read_videos, dequantize, iter_records, quantize, read_groups,
                                                   read_vocabulary, split_of)


def extract(root: str | os.PathLike, out_dir: str | os.PathLike, label_index: int | None = None,
            ids: set[str] | None = None, progress: bool = True) -> PrepareReport:
    """Write the selected videos' audio and rgb features to ``out_dir/{audio,rgb}`` caches (resumable).

    Selection: ``ids`` if given, else videos whose labels contain ``label_index``. Unreadable
    TFRecord files are listed in ``failures.csv`` and skipped. ``<root>/groups.csv``, when present,
    gives each video's group (see :func:`split_of`).
    """
    from tqdm.auto import tqdm

    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    files = sorted(Path(root).rglob("*.tfrecord"))
    audio, rgb = FeatureCache(out_dir / "audio", {"feature": "yt8m_audio"}), FeatureCache(out_dir / "rgb", {"feature": "yt8m_rgb"})
    videos = _read_videos(out_dir)
    groups = read_groups(root)
    report = PrepareReport(out_dir=str(out_dir), feature="yt8m", total=0)
    for path in tqdm(files, unit="file", desc="prepare yt8m_mv", disable=not progress):
        try:
            for vid, labels, a, v in iter_records(path):
                if (vid not in ids) if ids is not None else (label_index not in labels.tolist()):
                    continue
                report.total += 1
                group = groups.get(vid)
                videos[vid] = (split_of(path.name, vid, group), path.name, group or vid)
                if vid in audio and vid in rgb:
                    report.cached += 1
                    continue
                audio.put(vid, a.astype(np.float16))
                rgb.put(vid, v.astype(np.float16))
                report.computed += 1
        except Exception as e:  # a corrupt file must not stop the run; it is reported
            report.failures.append({"item_id": path.name, "path": str(path), "reason": f"{type(e).__name__}: {e}"})
        audio.flush()
        rgb.flush()
        _write_videos(out_dir, videos)
    report.elapsed_s = time.perf_counter() - t0
    _write_report(report)
    return report


def _write_videos(out_dir: Path, videos: dict[str, tuple[str, str, str]]) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["id", "split", "file", "group"])
    for vid, (split, name, group) in sorted(videos.items()):
        w.writerow([vid, split, name, group])
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
    """Paired YouTube-8M features, in one of two batch layouts.

    ``sequences=False`` (pairs): ``{"audio": (B, [T,] 128), "video": (B, [T,] 1024), "track": (B,)}``;
    video-level features give ``(B, 128)``/``(B, 1024)``, frame-level ones crops of ``crop_frames``
    seconds (random for training, centred otherwise), or the mean over frames when ``crop_frames``
    is None.

    ``sequences=True`` (the two-tower methods): per-second sequences of at most ``crop_frames``
    seconds (all of them when None; a random window for training, the centred one otherwise),
    zero-padded to the longest in the batch::

        {"audio": (B, T, 128) float32, "rgb": (B, T, 1024) float32, "mask": (B, T) bool (True = padded second),
         "lengths": (B,) int64, "item": (B,) int64 (index of the video within its split),
         "group": (B,) int64 (code of the video's group, :meth:`group_names`), "track": (B,) int64 (table row)}

    Evaluation loaders keep the split's order, so ``item`` indexes :meth:`item_groups` (the group of
    each video of a split: renderings of one piece share one, which a "relaxed" R@k counts as hits).
    """

    dataset_id = "yt8m_mv"
    audio_dim = 128
    rgb_dim = 1024

    def __init__(self, root: str | None = None, cache_dir: str | None = None, crop_frames: int | None = None,
                 batch_size: int = 256, num_workers: int = 0, sequences: bool = False):
        super().__init__(root=root, feature="yt8m", cache_dir=cache_dir, crop_frames=crop_frames,
                         batch_size=1 if crop_frames is None else batch_size, num_workers=num_workers,
                         eval_mode="center")
        self.batch_size = batch_size  # crop_frames=None: means (pairs) or padded sequences; any batch size
        self.sequences = bool(sequences)
        self._row_group: np.ndarray | None = None
        self._group_names: list[str] = []

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
        self._group_names = sorted({videos[v][2] for v in ids})
        code = {g: k for k, g in enumerate(self._group_names)}
        self._row_group = np.array([code[videos[v][2]] for v in ids], dtype=np.int64)
        return Table(ids=ids, splits=splits)

    @property
    def data_info(self) -> DataInfo:
        return DataInfo(input_shape=(self.crop_frames, 128) if self.crop_frames else (128,))

    def group_names(self) -> list[str]:
        """Group names; a batch's ``group`` codes index this list."""
        self.table
        return list(self._group_names)

    def item_groups(self, split: str) -> np.ndarray:
        """``(N_split,)`` int64 group code of each video of ``split``, in ``item`` order."""
        self.table
        return self._row_group[self.split_rows(split)]

    def item_ids(self, split: str) -> list[str]:
        """Video ids of ``split`` in ``item`` order."""
        return [self.table.ids[int(r)] for r in self.split_rows(split)]

    def paired_inputs(self) -> PairedInputs:
        """The Nakatsuka et al. 2024 protocol's input: the test pairs and their groups (ambiguity unknown)."""
        return PairedInputs(test=self.test_dataloader(), groups=self.item_groups("test"))

    def dataset(self, split: str, train: bool | None = None) -> Dataset:
        self.cache  # opens both caches
        train = (split == "train") if train is None else train
        rows = self.split_rows(split)
        if self.sequences:
            return SequenceDataset(self._cache, self._rgb, self.table.ids, rows, self._row_group, self.crop_frames,
                                   train)
        return PairDataset(self._cache, self._rgb, self.table.ids, rows, self.crop_frames, train)

    def _loader(self, split: str) -> DataLoader:
        if not self.sequences:
            return super()._loader(split)
        train = split == "train"
        return DataLoader(self.dataset(split), batch_size=self.batch_size, shuffle=train,
                          drop_last=train and len(self.split_rows(split)) > self.batch_size,
                          num_workers=self.num_workers, persistent_workers=self.num_workers > 0,
                          collate_fn=collate_sequences)


def _window(n: int, crop: int | None, train: bool) -> slice:
    """The seconds an item contributes: all, or a ``crop``-second window (random in training, else centred)."""
    if crop is None or n <= crop:
        return slice(0, n)
    slack = n - crop
    s = int(torch.randint(0, slack + 1, ()).item()) if train else slack // 2
    return slice(s, s + crop)


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
            w = _window(min(len(a), len(v)), self.crop, self.train)
            a, v = _pad(a[w], self.crop), _pad(v[w], self.crop)
        return {"audio": torch.from_numpy(a), "video": torch.from_numpy(v), "track": torch.tensor(row)}


class SequenceDataset(Dataset):
    """One video's per-second ``audio`` (T, 128) and ``rgb`` (T, 1024), with its split index and group."""

    def __init__(self, audio: FeatureCache, rgb: FeatureCache, ids: list[str], rows: np.ndarray,
                 row_group: np.ndarray, crop: int | None, train: bool):
        self.audio, self.rgb, self.ids, self.rows = audio, rgb, ids, rows
        self.row_group, self.crop, self.train = row_group, crop, train

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict:
        row = int(self.rows[i])
        a, v = (c.load(self.ids[row]) for c in (self.audio, self.rgb))
        w = _window(min(len(a), len(v)), self.crop, self.train)
        return {"audio": torch.from_numpy(np.array(a[w], dtype=np.float32)),
                "rgb": torch.from_numpy(np.array(v[w], dtype=np.float32)),
                "item": i, "group": int(self.row_group[row]), "track": row}


def collate_sequences(items: list[dict]) -> dict[str, torch.Tensor]:
    """Zero-pad a list of :class:`SequenceDataset` items to the longest; ``mask`` is True on padding."""
    lengths = torch.tensor([len(x["audio"]) for x in items], dtype=torch.long)
    t = int(lengths.max())
    audio = torch.zeros(len(items), t, items[0]["audio"].shape[-1])
    rgb = torch.zeros(len(items), t, items[0]["rgb"].shape[-1])
    for k, x in enumerate(items):
        audio[k, : len(x["audio"])] = x["audio"]
        rgb[k, : len(x["rgb"])] = x["rgb"]
    out = {"audio": audio, "rgb": rgb, "mask": torch.arange(t)[None, :] >= lengths[:, None], "lengths": lengths}
    for key in ("item", "group", "track"):
        out[key] = torch.tensor([x[key] for x in items], dtype=torch.long)
    return out


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
