"""Parse a corpus piece with music21 into timed note events (in quarter notes) and its mode."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from mirbench.data.corpus.sources import PieceSpec, corpus_root, split_abc


@dataclass
class ParsedPiece:
    """Notes of a piece: one array per part, rows = (onset_ql, duration_ql, midi pitch)."""

    parts: list[np.ndarray]
    mode: str  # "major" | "minor"
    tonic_pc: int  # pitch class of the key's tonic
    length_ql: float


class PieceParseError(RuntimeError):
    pass


def _load_score(spec: PieceSpec):
    from music21 import converter

    path = corpus_root() / spec.path
    if spec.number is None:
        return converter.parse(path)
    text = path.read_text(encoding="latin-1")
    for number, _, block in split_abc(text):
        if number == spec.number:
            return converter.parse(block, format="abc")
    raise PieceParseError(f"tune X:{spec.number} not found in {path}")


def _part_events(part) -> np.ndarray:
    """Onset, duration and pitch of each sounding note; tied notes are merged into one.

    Ties are merged here rather than with music21's ``stripTies``, which took 6 s of the 8 s
    spent on one quartet movement.
    """
    rows: list[list[float]] = []
    open_ties: dict[int, int] = {}  # midi pitch -> row of the note its tie continues
    for n in part.flatten().notes:
        dur = float(n.quarterLength)
        if dur <= 0:  # grace notes
            continue
        tie = n.tie.type if n.tie is not None else None
        for p in n.pitches:
            midi = int(p.midi)
            if tie in ("stop", "continue") and midi in open_ties:
                rows[open_ties[midi]][1] = float(n.offset) + dur - rows[open_ties[midi]][0]
                if tie == "stop":
                    del open_ties[midi]
                continue
            rows.append([float(n.offset), dur, midi])
            if tie == "start":
                open_ties[midi] = len(rows) - 1
    return np.asarray(rows, dtype=np.float64).reshape(-1, 3)


def parse_piece(spec: PieceSpec) -> ParsedPiece:
    """Parse ``spec`` (raises :class:`PieceParseError` with the reason when it cannot be used)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            score = _load_score(spec)
            if hasattr(score, "scores"):  # an Opus: take its first score
                score = score.scores[0]
            parts = list(score.parts) if getattr(score, "parts", None) else [score]
            events = [e for e in (_part_events(p) for p in parts) if len(e)]
            key = score.analyze("key")
    except PieceParseError:
        raise
    except Exception as exc:  # music21 raises many exception types on malformed scores
        raise PieceParseError(f"{spec.piece_id}: music21 could not parse it ({type(exc).__name__}: {exc})") from exc
    if not events:
        raise PieceParseError(f"{spec.piece_id}: no notes")
    length = max(float((e[:, 0] + e[:, 1]).max()) for e in events)
    mode = "minor" if key.mode == "minor" else "major"
    return ParsedPiece(events, mode, int(key.tonic.pitchClass), length)
