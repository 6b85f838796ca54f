"""``mirbench prepare <id>`` and ``mirbench download <id>``.

``prepare``: decode a real data set's audio and cache features on all cores (progress bar, ETA;
bad files listed in ``<cache>/failures.csv`` and skipped; re-running resumes).
``prepare corpus ...`` is the embedded default corpus (:mod:`mirbench.data.corpus.prepare`).
``download``: fetch the public files of MTAT, GTZAN, Dim-Sim and the Taste Profile, resumable and
checksum-verified.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path

from mirbench.data.registry import DATASETS, get, preparable


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("prepare", "download"):
        print("usage: mirbench prepare|download <dataset> ...", file=sys.stderr)
        return 2
    command, rest = argv[0], argv[1:]
    if command == "prepare" and rest and rest[0] == "corpus":
        return int(importlib.import_module("mirbench.data.corpus.prepare").main(argv[2:]) or 0)
    return prepare(rest) if command == "prepare" else download(rest)


def prepare(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="mirbench prepare", description="decode audio and cache features")
    p.add_argument("dataset", choices=preparable() + ["corpus"])
    p.add_argument("--root", help="the data set in its published layout (default $MIRBENCH_DATA/<id>)")
    p.add_argument("--audio-root", help="audio folder when it lives elsewhere (MSD previews for msd_lastfm, dimsim, echonest)")
    p.add_argument("--split-dir", help="mtat: folder of the MTAT_split files (default <root>/MTAT_split)")
    p.add_argument("--feature", help="logmel_lee2020 | frames_kim2022 | mel_kim2022 (default: the data set's)")
    p.add_argument("--cache-dir",
                   help="feature cache folder (default <root>/features/<feature>; set it when the root is read-only)")
    p.add_argument("--workers", type=int, default=os.cpu_count(), help="processes (default: all cores)")
    p.add_argument("--dtype", help="stored precision (default float16 for log-mels, float32 otherwise)")
    p.add_argument("--label", help="yt8m_mv: restrict to this YouTube-8M label name (default 'Music video')")
    p.add_argument("--ids", help="yt8m_mv: a file of video ids to keep instead of the label")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--strict", action="store_true", help="exit 1 if any file failed")
    args = p.parse_args(argv)
    entry = get(args.dataset)
    module = entry.load()
    root = Path(args.root) if args.root else None
    if root is not None and not root.is_dir():
        print(f"--root {root} is not a folder", file=sys.stderr)
        return 2
    report = module.prepare(args)
    print(report.summary())
    print(f"report: {Path(report.out_dir) / 'report.json'}")
    return 1 if (args.strict and report.failed) else 0


def download(argv: list[str]) -> int:
    from mirbench.data.download import DownloadError, download_dataset, sources

    p = argparse.ArgumentParser(prog="mirbench download", description="fetch public data set files (resumable, verified)")
    p.add_argument("dataset", choices=sorted(sources()))
    p.add_argument("--root", help="destination (default $MIRBENCH_DATA/<id>)")
    p.add_argument("--only", action="append", default=[], help="file name(s) to fetch (default: all)")
    p.add_argument("--base-url", help="fetch from this mirror instead of the published URLs (same file names)")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    try:
        paths = download_dataset(args.dataset, args.root, only=args.only or None, base_url=args.base_url,
                                 progress=not args.no_progress)
    except DownloadError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    for path in paths:
        print(path)
    return 0
