"""MagnaTagATune (MTAT): 25,863 clips of 29 s from 5,405 Magnatune tracks, 188 tags; top-50 auto-tagging.

Card (full text in ``datasets/mtat/README.md``):
- What: Law, West, Mandel, Bay & Downie (2009), "Evaluation of algorithms using games: the case of
  music tagging", ISMIR. 16-kHz mono MP3s in 16 folders ``0``..``f``.
- Files: ``annotations_final.csv`` (tab-separated, quoted: ``clip_id``, 188 binary tag columns,
  ``mp3_path``), ``mp3.zip.001-003`` (about 3 GB). Source: https://mirg.city.ac.uk/datasets/magnatagatune/.
- Licence: audio from Magnatune under CC BY-NC-SA 1.0; annotations free for research.
- Split: Lee et al. (2017, SPL) via jongpillee/music_dataset_split ``MTAT_split`` (MIT):
  15,244 / 1,529 / 4,332 clips with >= 1 top-50 tag and >= 29.1 s of audio, as pickled lists of
  ``<dir>/<clip>.npy`` paths; tags = ``top50_tags.txt``. Used by Kim & Liem (2022) (macro ROC-AUC).
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from mirbench.audio.prepare import AudioItem
from mirbench.data.sources.base import SPLITS, Source, concat_splits
from mirbench.data.splits import mtat_split, read_lines

DATASET_ID = "mtat"
DATASET_NAME = "MagnaTagATune top-50 (Lee et al. 2017 split)"
DATASET_LICENSE = "audio CC BY-NC-SA 1.0 (Magnatune); annotations free for research"
DATASET_URL = "https://mirg.city.ac.uk/datasets/magnatagatune/"
DATASET_LAYOUT = "annotations_final.csv, <0..f>/<clip>.mp3 (from mp3.zip.001-003), MTAT_split pickles"
DATAMODULE = "mirbench.data.mtat.MTATDataModule"
DEFAULT_FEATURE = "frames_kim2022"
NEEDS_AUDIO_ROOT = False

ANNOTATIONS = "annotations_final.csv"


def read_annotations(path: str | os.PathLike) -> tuple[list[int], list[str], list[str], np.ndarray]:
    """``annotations_final.csv`` -> ``(clip_ids, mp3_paths, tag_names, (n_clips, n_tags) uint8)``.

    Columns with the same tag name (the header repeats a few) are kept apart here; :func:`tag_matrix`
    ORs them when selecting tags by name.
    """
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f, delimiter="\t", quotechar='"')
        header = next(reader)
        if header[0] != "clip_id" or header[-1] != "mp3_path":
            raise ValueError(f"{path}: expected columns clip_id, <tags>, mp3_path; got {header[:2]} ... {header[-1:]}")
        clip_ids, paths, rows = [], [], []
        for line in reader:
            if not line:
                continue
            if len(line) != len(header):
                raise ValueError(f"{path}: row for clip {line[0]} has {len(line)} fields, header has {len(header)}")
            clip_ids.append(int(line[0]))
            paths.append(line[-1])
            rows.append([int(v) for v in line[1:-1]])
    return clip_ids, paths, header[1:-1], np.asarray(rows, dtype=np.uint8).reshape(len(rows), len(header) - 2)


def tag_matrix(matrix: np.ndarray, columns: list[str], tags: list[str]) -> np.ndarray:
    """Select ``tags`` (in that order) from an annotation matrix; repeated columns are OR-ed."""
    out = np.zeros((matrix.shape[0], len(tags)), dtype=np.uint8)
    for j, tag in enumerate(tags):
        cols = [i for i, c in enumerate(columns) if c == tag]
        if not cols:
            raise KeyError(f"tag {tag!r} is not a column of the MTAT annotations")
        out[:, j] = matrix[:, cols].max(axis=1)
    return out


def find_audio_root(root: Path) -> Path:
    """Where the ``0``..``f`` folders are: ``root``, ``root/mp3`` or ``root/audio``."""
    for cand in (root, root / "mp3", root / "audio"):
        if (cand / "0").is_dir() or (cand / "f").is_dir():
            return cand
    return root


def load(root: str | os.PathLike, split_dir: str | os.PathLike | None = None) -> Source:
    """The clips of the split lists (train, valid, test in list order), ids = ``clip_id``, top-50 ``tags``.

    ``split_dir`` holds the ``MTAT_split`` files (default ``<root>/MTAT_split``).
    """
    root = Path(root)
    split_dir = Path(split_dir) if split_dir else root / "MTAT_split"
    clip_ids, paths, columns, matrix = read_annotations(root / ANNOTATIONS)
    top50 = read_lines(split_dir / "top50_tags.txt")
    tags = tag_matrix(matrix, columns, top50)
    by_path = {p: i for i, p in enumerate(paths)}
    lists = mtat_split(split_dir)
    unknown = [p for ps in lists.values() for p in ps if p not in by_path]
    if unknown:
        raise ValueError(f"{len(unknown)} clips of the split lists are not in {ANNOTATIONS}, e.g. {unknown[:3]}")
    order_paths, splits = concat_splits({s: lists[s] for s in SPLITS})
    order = [by_path[p] for p in order_paths]
    audio_root = find_audio_root(root)
    return Source(dataset=DATASET_ID, ids=[str(clip_ids[i]) for i in order], splits=splits, tags=tags[order],
                  tag_names=tuple(top50), audio=[AudioItem(str(clip_ids[i]), str(audio_root / paths[i])) for i in order])
