"""NSynth notes of the ISMIR 2020 metric-learning tutorial: 33 summary features + instrument family.

Card (full text in ``datasets/nsynth_tutorial/README.md``):
- What: 1,400 NSynth notes (Engel et al. 2017), 10 instrument families x 140; per note the time-means
  of 20 MFCCs, 12 chroma_cqt bins and a crude f0 (librosa 0.8): 33 floats, label ``instrument``.
- Files: ``nsynth_{train,valid,test}.csv``, 1,000 / 200 / 200 rows (100 / 20 / 20 per family); column 0
  is the NSynth file name. Sizes and SHA-256 in ``datasets/nsynth_tutorial/index.csv``.
- Source: github.com/bmcfee/ismir2020-metric-learning (McFee, Lee, Nam; commit 77aaed5).
- Licence: CC0 1.0 (the tutorial repository); NSynth audio CC BY 4.0.
- Split: the tutorial's: train = train + valid (1,200), test = 200 (docs/protocols.md#tutorial-knn).
- The one real data set at hand: without a root or ``$MIRBENCH_DATA/nsynth_tutorial`` the data
  module reads ``mirbench.paths.shared_data_dir() / "nsynth_tutorial"`` (``../shared/data``).
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from mirbench.data.sources.base import SPLITS, Source
from mirbench.paths import shared_data_dir

DATASET_ID = "nsynth_tutorial"
DATASET_NAME = "NSynth notes of the ISMIR 2020 metric-learning tutorial (33 summary features)"
DATASET_LICENSE = "CC0 1.0 (tutorial features); NSynth audio CC BY 4.0"
DATASET_URL = "https://github.com/bmcfee/ismir2020-metric-learning"
DATASET_LAYOUT = "nsynth_{train,valid,test}.csv: 33 features + instrument per note"
DATAMODULE = "mirbench.data.nsynth.NSynthTutorialDataModule"
DEFAULT_FEATURE = "nsynth_tutorial"
NEEDS_AUDIO_ROOT = False

FEATURES = tuple([f"mfcc_{i:02d}" for i in range(20)] + [f"chroma_{i:02d}" for i in range(12)] + ["f0"])
INSTRUMENTS = ("bass", "brass", "flute", "guitar", "keyboard", "mallet", "organ", "reed", "string", "vocal")
SPLIT_SIZES = {"train": 1000, "valid": 200, "test": 200}


def split_file(root: str | os.PathLike, split: str) -> Path:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    return Path(root) / f"nsynth_{split}.csv"


def _has_files(folder: Path) -> bool:
    return all(split_file(folder, s).is_file() for s in SPLITS)


def resolve_root(root: str | os.PathLike | None = None) -> Path:
    """The folder holding the three CSVs: ``root``, else ``$MIRBENCH_DATA/nsynth_tutorial`` when it has
    them, else ``shared_data_dir()/nsynth_tutorial``. Raises FileNotFoundError naming where it looked."""
    if root is not None:
        tried = [Path(root).expanduser()]
    else:
        tried = [Path(os.environ["MIRBENCH_DATA"]).expanduser() / DATASET_ID] if os.environ.get("MIRBENCH_DATA") else []
        tried.append(shared_data_dir() / DATASET_ID)
    for folder in tried:
        if _has_files(folder):
            return folder
    raise FileNotFoundError(
        f"NSynth tutorial CSVs (nsynth_{{train,valid,test}}.csv) not found in {', '.join(map(str, tried))}; "
        "get them from github.com/bmcfee/ismir2020-metric-learning and pass --data.init_args.root DIR"
    )


def load_split(root: str | os.PathLike, split: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """One CSV: ``(X (n, 33) float32, y (n,) int64 index into INSTRUMENTS, ids)``; the header is checked."""
    path = split_file(root, split)
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], [r for r in rows[1:] if r]
    if tuple(header[1:]) != FEATURES + ("instrument",):
        raise ValueError(f"{path}: unexpected columns {header[1:]}; expected the 33 features and 'instrument'")
    unknown = sorted({r[-1] for r in body} - set(INSTRUMENTS))
    if unknown:
        raise ValueError(f"{path}: unknown instrument label(s) {unknown}; expected {INSTRUMENTS}")
    x = np.array([[float(v) for v in r[1:-1]] for r in body], dtype=np.float32)
    y = np.array([INSTRUMENTS.index(r[-1]) for r in body], dtype=np.int64)
    return x, y, [r[0] for r in body]


def load(root: str | os.PathLike | None = None) -> Source:
    """The three CSVs one after the other (train, valid, test): ``features`` (n, 33) float32, ``labels``
    (instrument family); ``root`` as :func:`resolve_root`."""
    root = resolve_root(root)
    parts = {s: load_split(root, s) for s in SPLITS}
    ids, splits = [], {}
    for s in SPLITS:
        splits[s] = np.arange(len(ids), len(ids) + len(parts[s][2]))
        ids += parts[s][2]
    return Source(dataset=DATASET_ID, ids=ids, splits=splits, class_names=INSTRUMENTS, feature_names=FEATURES,
                  labels=np.concatenate([parts[s][1] for s in SPLITS]),
                  features=np.concatenate([parts[s][0] for s in SPLITS]))
