"""Render 3-s excerpts of a parsed piece with the General MIDI soundfont inside ``pretty_midi``.

Each piece gets a rendering plan drawn from its seed: a tempo (quarter-note BPM), a dynamic
(MIDI velocity) and a General MIDI program per part from its genre's palette; monophonic tunes get a
drone accompaniment on a second instrument half the time, so clips carry several instruments.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mirbench.audio.decode import SAMPLE_RATE
from mirbench.data.corpus.score import ParsedPiece
from mirbench.data.corpus.tags import PROGRAM_FAMILY

CLIP_SECONDS = 3.0

# General MIDI programs (0-based) each genre is rendered with
PALETTES = {
    "art_vocal": (52, 53, 19, 48, 41, 42, 73, 74, 68, 70, 71, 57, 60, 6, 24),
    "quartet": (40, 41, 42, 48, 0, 73, 71, 68, 70),
    "dance": (40, 73, 74, 21, 0, 24, 25, 6, 71),
    "folk": (53, 73, 24, 21, 0, 40, 71, 6),
}
ACCOMPANIMENT = (0, 24, 25, 21, 19, 42, 48, 6)
GENRE_PALETTE = {
    "string quartet": "quartet", "reel": "dance", "jig": "dance", "hornpipe": "dance",
    "strathspey": "dance", "air": "folk",
}
# quarter-note BPM ranges: dance tunes are played faster than chorales
TEMPO_RANGE = {"dance": (100.0, 180.0), "art_vocal": (55.0, 140.0), "quartet": (60.0, 170.0), "folk": (60.0, 160.0)}


def palette_of(genre: str) -> str:
    if genre in GENRE_PALETTE:
        return GENRE_PALETTE[genre]
    return "folk" if genre.endswith("folk") else "art_vocal"


@dataclass
class RenderPlan:
    bpm: float
    velocity: int
    programs: list[int]  # one per part (+ the accompaniment's, last, when ``drone``)
    drone: bool

    @property
    def instrument_tags(self) -> list[str]:
        return sorted({PROGRAM_FAMILY[p] for p in self.programs})


def plan_rendering(piece: ParsedPiece, genre: str, rng: np.random.Generator) -> RenderPlan:
    palette = palette_of(genre)
    lo, hi = TEMPO_RANGE[palette]
    bpm = float(rng.uniform(lo, hi))
    velocity = int(rng.integers(40, 122))  # soft < 64 <= medium <= 92 < loud
    n_parts = len(piece.parts)
    choices = PALETTES[palette]
    if n_parts > 1 and rng.random() < 0.4:  # one instrument for every part (an organ, a choir)
        programs = [int(rng.choice(choices))] * n_parts
    else:
        programs = [int(rng.choice(choices)) for _ in range(n_parts)]
    drone = n_parts == 1 and rng.random() < 0.5
    if drone:
        programs.append(int(rng.choice(ACCOMPANIMENT)))
    return RenderPlan(bpm, velocity, programs, drone)


def soundfont_path() -> Path:
    import pretty_midi

    return Path(pretty_midi.__file__).parent / "TimGM6mb.sf2"


def _drone_events(piece: ParsedPiece, bar_ql: float = 4.0) -> np.ndarray:
    """Tonic and fifth two octaves below middle C's octave, struck every bar."""
    onsets = np.arange(0.0, piece.length_ql, bar_ql)
    root = 36 + piece.tonic_pc
    rows = [(t, bar_ql, p) for t in onsets for p in (root, root + 7)]
    return np.asarray(rows, dtype=np.float64).reshape(-1, 3)


def clip_starts(duration_s: float, n_clips: int, rng: np.random.Generator) -> np.ndarray:
    """``n_clips`` excerpt starts spread over the piece (jittered, sorted)."""
    span = max(duration_s - CLIP_SECONDS, 0.0)
    edges = np.linspace(0.0, span, n_clips + 1)
    return np.sort(edges[:-1] + rng.uniform(0.0, 1.0, n_clips) * np.diff(edges))


class Renderer:
    """A tinysoundfont synthesiser that renders excerpts of parsed pieces (one per process)."""

    def __init__(self, sample_rate: int = SAMPLE_RATE, gain_db: float = -6.0):
        import tinysoundfont

        self.sample_rate = sample_rate
        self.synth = tinysoundfont.Synth(gain=gain_db, samplerate=sample_rate)
        self.sfid = self.synth.sfload(str(soundfont_path()))

    def _events(self, piece: ParsedPiece, plan: RenderPlan) -> list[tuple[int, float, float, int]]:
        parts = list(piece.parts) + ([_drone_events(piece)] if plan.drone else [])
        sec = 60.0 / plan.bpm
        return [(ch, on * sec, (on + dur) * sec, int(p)) for ch, ev in enumerate(parts) for on, dur, p in ev]

    def render(self, piece: ParsedPiece, plan: RenderPlan, starts: np.ndarray) -> np.ndarray:
        """Mono float32 clips, shape (len(starts), CLIP_SECONDS * sample_rate)."""
        n = int(round(CLIP_SECONDS * self.sample_rate))
        events = self._events(piece, plan)
        out = np.zeros((len(starts), n), dtype=np.float32)
        for ch, program in enumerate(plan.programs):
            self.synth.program_select(ch, self.sfid, 0, program)
        for i, start in enumerate(starts):
            out[i] = self._render_window(events, plan, float(start), n)
        return out

    def _render_window(self, events, plan: RenderPlan, start: float, n: int) -> np.ndarray:
        end = start + n / self.sample_rate
        timeline = []
        for ch, on, off, pitch in events:
            if on < end and off > start:
                timeline.append((max(on - start, 0.0), 1, ch, pitch))
                if off < end:
                    timeline.append((off - start, 0, ch, pitch))
        timeline.sort(key=lambda e: (e[0], e[1]))  # note-offs before note-ons at the same instant
        self.synth.sounds_off()
        self.synth.generate(self.sample_rate // 5)  # let released voices die out before the clip
        chunks, pos = [], 0
        for t, kind, ch, pitch in timeline:
            sample = min(int(t * self.sample_rate), n)
            if sample > pos:
                chunks.append(np.frombuffer(self.synth.generate(sample - pos), dtype=np.float32))
                pos = sample
            if kind:
                self.synth.noteon(ch, pitch, plan.velocity)
            else:
                self.synth.noteoff(ch, pitch)
        if pos < n:
            chunks.append(np.frombuffer(self.synth.generate(n - pos), dtype=np.float32))
        stereo = np.concatenate(chunks).reshape(-1, 2)
        return np.clip(stereo.mean(axis=1), -1.0, 1.0)
