"""GTZAN genre collection: 1,000 excerpts of 30 s, 10 genres x 100, 22,050 Hz mono 16-bit.

The datamodule; the data set's card, files and parsing are in :mod:`mirbench.data.sources.gtzan`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from mirbench.audio.prepare import AudioItem, add_notes
from mirbench.data.featuredm import FeatureDataModule, Table, prepare_items
from mirbench.data.sources.base import to_table
from mirbench.data.sources.gtzan import (GENRES, SPLIT_KINDS, find_tracks, genre_of, genres_dir, load,  # noqa: F401
                                         stratified_split)
from mirbench.data.splits import GTZAN_SPLIT_SIZES, gtzan_split
from mirbench.paths import dataset_dir


def audio_items(root: str | os.PathLike) -> list[AudioItem]:
    """What ``mirbench prepare gtzan`` computes: every excerpt on disk, whole."""
    return [AudioItem(t, str(p)) for t, p in find_tracks(root).items()]


def absent_tracks(root: str | os.PathLike) -> tuple[list[str], list[str]]:
    """What a copy lacks: ``(ids, notes)``. ``ids``: excerpts named by ``<root>/GTZAN_split/*_filtered.txt``, or
    by ``datasets/gtzan/index.csv`` when the copy looks complete (>= 500 excerpts), that are not on disk.
    ``notes``: for a subset without lists (e.g. gtzan_mini), genres with fewer excerpts than most genres
    have (GTZAN is balanced; the missing names cannot be known there)."""
    from collections import Counter

    root = Path(root)
    found = find_tracks(root)
    expected: set[str] = set()
    if (root / "GTZAN_split" / "train_filtered.txt").is_file():
        expected |= {t for ts in gtzan_split(root / "GTZAN_split").values() for t in ts}
    if len(found) >= 500:
        expected |= {f"{g}.{n:05d}" for g in GENRES for n in range(100)}
    counts = Counter(genre_of(t) for t in found)
    usual = Counter(counts.get(g, 0) for g in GENRES).most_common(1)[0][0]
    notes = [] if expected else [
        f"genres/{g}: {counts.get(g, 0)} excerpts where most genres have {usual} ({usual - counts.get(g, 0)} "
        f"missing; without GTZAN_split lists their names are unknown)" for g in GENRES if counts.get(g, 0) < usual]
    return sorted(expected - set(found)), notes


def prepare(args):
    """``mirbench prepare gtzan --root DIR``: features of every excerpt on disk."""
    root = dataset_dir("gtzan", args.root)
    items = audio_items(root)
    if not items:
        raise SystemExit(f"no GTZAN excerpts (genres/<genre>/<genre>.000NN.au|wav) under {root}")
    absent, notes = absent_tracks(root)
    # absent paths are reported by prepare_features (not on disk: by name and count)
    items += [AudioItem(t, str(genres_dir(root) / genre_of(t) / f"{t}.au")) for t in absent]
    return add_notes(prepare_items("gtzan", items, args, "frames_kim2022"), notes)


class GTZANDataModule(FeatureDataModule):
    """GTZAN genre classification from cached features; ``label`` = genre index in :data:`GENRES`.

    ``split="filtered"``: the fault-filtered 443/197/290 lists (``split_dir`` holds
    ``{train,valid,test}_filtered.txt``; default ``<root>/GTZAN_split``); listed tracks absent on
    disk are left out with a warning. ``split="stratified"``: a seeded per-genre 50/25/25 split of
    the tracks on disk.
    """

    dataset_id = "gtzan"

    def __init__(self, root: str | None = None, split: str = "filtered", split_dir: str | None = None,
                 seed: int = 0, feature: str = "frames_kim2022", **kwargs):
        super().__init__(root=root, feature=feature, **kwargs)
        if split not in SPLIT_KINDS:
            raise ValueError(f"split must be 'filtered' or 'stratified', got {split!r}")
        self.split, self.seed = split, seed
        self.split_dir = Path(split_dir) if split_dir else self.root / "GTZAN_split"

    def build_table(self) -> Table:
        return to_table(load(self.root, self.split, self.split_dir, self.seed))

    def info_fields(self) -> dict:
        return {"class_names": GENRES}


def export_layout(src_root: str | os.PathLike, dst_root: str | os.PathLike, ext: str = "wav",
                  tracks: list[str] | None = None) -> list[Path]:
    """Write the excerpts under ``src_root`` into the real layout ``dst_root/genres/<genre>/<id>.<ext>``.

    16-bit PCM, sample for sample (e.g. the FLAC re-encoding of gtzan_mini -> the original ``.au``).
    ``tracks`` restricts the export to those ids.
    """
    import soundfile as sf

    out = []
    for track, path in find_tracks(src_root).items():
        if tracks is not None and track not in tracks:
            continue
        y, sr = sf.read(path, dtype="int16")
        dst = Path(dst_root) / "genres" / genre_of(track) / f"{track}.{ext}"
        dst.parent.mkdir(parents=True, exist_ok=True)
        sf.write(dst, y, sr, format=ext.upper(), subtype="PCM_16")
        out.append(dst)
    return out


def published_split_sizes() -> dict[str, int]:
    return dict(GTZAN_SPLIT_SIZES)


if __name__ == "__main__":  # python -m mirbench.data.gtzan export SRC DST [wav|au]
    if len(sys.argv) >= 4 and sys.argv[1] == "export":
        files = export_layout(sys.argv[2], sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else "wav")
        print(f"wrote {len(files)} files under {Path(sys.argv[3]) / 'genres'}")
    else:
        print("usage: python -m mirbench.data.gtzan export SRC_ROOT DST_ROOT [wav|au]")


def verify(root: str | os.PathLike) -> list[str]:
    """Problems of a full GTZAN copy against ``datasets/gtzan/index.csv`` (1,000 excerpts, split files)."""
    from mirbench.data.checksums import index_path, read_index, verify_index

    root = Path(root)
    entries = read_index(index_path("gtzan"))
    tracks = find_tracks(root)
    problems = [f"missing: {e.path} (or .wav)" for e in entries if e.path.startswith("genres/") and Path(e.path).stem not in tracks]
    problems += verify_index(root, [e for e in entries if not e.path.startswith("genres/")])
    if not problems:
        sizes = {k: len(v) for k, v in gtzan_split(root / "GTZAN_split").items()}
        if sizes != GTZAN_SPLIT_SIZES:
            problems.append(f"split sizes {sizes}, published {GTZAN_SPLIT_SIZES}")
    return problems
