"""Readers for the published split files (jongpillee/music_dataset_split and plain lists).

The MSD and MTAT splits are Python-2 ``cPickle`` files (protocol 0, ``str`` = bytes), readable in
Python 3 with ``encoding="latin1"``; the GTZAN split is one relative path per line.
"""

from __future__ import annotations

import os
import pickle
import warnings
from collections.abc import Collection
from pathlib import Path
from typing import Any

MSD_TRAIN_SIZE = 201_680  # README of music_dataset_split: first 201,680 of filtered_list_train.cP = train
MSD_VALID_SIZE = 11_774
MSD_TEST_SIZE = 28_435
MTAT_SPLIT_SIZES = {"train": 15_244, "valid": 1_529, "test": 4_332}
GTZAN_SPLIT_SIZES = {"train": 443, "valid": 197, "test": 290}


def load_py2_pickle(path: str | os.PathLike) -> Any:
    """Unpickle a Python-2 ``cPickle`` file (``str`` payloads decoded as latin-1)."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            return pickle.load(f, encoding="latin1")
    except FileNotFoundError:
        raise
    except Exception as e:
        raise ValueError(f"{path} is not a readable (Python-2) pickle: {type(e).__name__}: {e}") from e


def read_lines(path: str | os.PathLike) -> list[str]:
    """Non-empty, stripped lines of a text file; an empty or non-UTF-8 file is a ValueError naming it."""
    path = Path(path)
    try:
        lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start}); expected one id or path "
                         f"per line") from None
    if not lines:
        raise ValueError(f"{path}: empty list (no id or path in it)")
    return lines


def _nonempty(ids: list, path: str | os.PathLike) -> list:
    if not ids:
        raise ValueError(f"{path}: empty split list (no id in it)")
    return ids


def present_only(lists: dict[str, list[str]], present: Collection[str], source: str | os.PathLike,
                 what: str = "tracks", stacklevel: int = 2) -> dict[str, list[str]]:
    """``lists`` without the ids not in ``present``, warning with the counts per split and the first ids.

    ``source`` names the lists in the message (e.g. their folder). Returns the filtered lists.
    """
    out = {s: [t for t in ids if t in present] for s, ids in lists.items()}
    gone = {s: len(lists[s]) - len(out[s]) for s in lists if len(out[s]) < len(lists[s])}
    if gone:
        missing = [t for ids in lists.values() for t in ids if t not in present]
        counts = ", ".join(f"{n} of {len(lists[s])} {s}" for s, n in gone.items())
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        warnings.warn(f"{source}: {counts} {what} of the split lists are not on disk and are left out "
                      f"({', '.join(missing[:5])}{more})", stacklevel=stacklevel)
    return out


def msd_split(
    train_pickle: str | os.PathLike | None, test_pickle: str | os.PathLike, train_size: int = MSD_TRAIN_SIZE
) -> dict[str, list[str]]:
    """MSD track ids per split of Lee et al. (``filtered_list_train.cP`` / ``filtered_list_test.cP``).

    The train pickle holds train then valid: its first 201,680 ids are train, the rest valid.
    ``train_pickle=None`` gives only the test split. ``train_size`` exists for small fixtures.
    """
    out = {"test": _nonempty([str(t) for t in load_py2_pickle(test_pickle)], test_pickle)}
    if train_pickle is not None:
        ids = _nonempty([str(t) for t in load_py2_pickle(train_pickle)], train_pickle)
        if len(ids) <= train_size:
            raise ValueError(
                f"{train_pickle} holds {len(ids)} ids; the published file holds {MSD_TRAIN_SIZE + MSD_VALID_SIZE} "
                f"(first {train_size} train, the rest valid)"
            )
        out["train"], out["valid"] = ids[:train_size], ids[train_size:]
    return out


def mtat_split(split_dir: str | os.PathLike) -> dict[str, list[str]]:
    """MTAT clip paths per split: ``{train,valid,test}_list_pub.cP`` -> ``'0/...-30-59.mp3'``.

    The lists name the authors' per-clip ``.npy`` spectrograms (``<dir>/<clip>.npy``); the clip is
    ``annotations_final.csv``'s ``mp3_path`` with ``.mp3`` for ``.npy``.
    """
    split_dir = Path(split_dir)
    out = {}
    for split in ("train", "valid", "test"):
        paths = _nonempty(load_py2_pickle(split_dir / f"{split}_list_pub.cP"), split_dir / f"{split}_list_pub.cP")
        out[split] = [str(p)[: -len(".npy")] + ".mp3" if str(p).endswith(".npy") else str(p) for p in paths]
    return out


def gtzan_split(split_dir: str | os.PathLike, suffix: str = "_filtered.txt") -> dict[str, list[str]]:
    """GTZAN track ids (``blues.00012``) per split from ``{train,valid,test}_filtered.txt``."""
    split_dir = Path(split_dir)
    return {s: [Path(p).stem for p in read_lines(split_dir / f"{s}{suffix}")] for s in ("train", "valid", "test")}
