"""``mirbench prepare corpus``: build the embedded corpus ahead of training."""

from __future__ import annotations

import argparse
import json

from mirbench.data.corpus.build import CorpusParams, build_corpus


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="mirbench prepare corpus",
                                     description="Render the embedded music21 corpus and cache its features.")
    defaults = CorpusParams()
    parser.add_argument("--root", default=None, help="folder for the build (default $MIRBENCH_DATA/corpus)")
    parser.add_argument("--n-pieces", type=int, default=defaults.n_pieces, help="corpus size knob")
    parser.add_argument("--clips-per-piece", type=int, default=defaults.clips_per_piece)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--split", type=float, nargs=3, default=list(defaults.split), metavar=("TRAIN", "VALID", "TEST"),
                        help="fractions of the pieces per split (the ISMIR 2020 table uses 0.7 0.1 0.2)")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    parser.add_argument("--force", action="store_true", help="rebuild even if a build exists")
    args = parser.parse_args(argv)
    if abs(sum(args.split) - 1.0) > 1e-6 or min(args.split) <= 0:
        parser.error(f"--split: three positive fractions summing to 1, got {args.split}")
    from mirbench.data.corpus.datamodule import corpus_dir  # imports Lightning: not for --help

    params = CorpusParams(n_pieces=args.n_pieces, clips_per_piece=args.clips_per_piece, seed=args.seed,
                          split=tuple(args.split))
    path = corpus_dir(params, args.root)
    if (path / "corpus.json").is_file() and not args.force:
        print(f"corpus already built at {path} (use --force to rebuild)")
        return 0
    report = build_corpus(path, params, workers=args.workers)
    summary = {k: report[k] for k in ("n_pieces", "n_failed", "n_clips", "build_seconds", "pieces_per_source")}
    print(json.dumps(summary, indent=1))
    for failure in report["failed"]:
        print(f"skipped {failure['piece_id']}: {failure['reason']}")
    print(f"corpus written to {path} ({report['n_pieces']} pieces, {report['n_failed']} skipped: see report.json)")
    return 0
