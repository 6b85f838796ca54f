"""Per-second features of one rendering: "audio" from its waveform, "rgb" from its score.

Both are mapped into [-2, 2], the range YouTube-8M quantises to uint8 (see
:func:`mirbench.data.yt8m_musicvideo.quantize`), so the 8-bit steps (4 / 255) cover them evenly.
"""

from __future__ import annotations

import numpy as np

from mirbench.audio.decode import SAMPLE_RATE
from mirbench.audio.features import LEE2020_HOP, LEE2020_N_MELS, logmel_lee2020
from mirbench.data.corpus.score import ParsedPiece

SLOTS_PER_SECOND = 8  # 128 pitches x 8 slots = 1024, the width of YouTube-8M's rgb features
PITCHES = 128


def audio_frames(audio: np.ndarray, seconds: int, sr: int = SAMPLE_RATE) -> np.ndarray:
    """``(seconds, 128)`` float32: per second, the mean of the Lee et al. 2020 log-mel frames centred in it.

    The log-mel log10(1 + 10 M) lies in [0, ~1] for the soundfont's levels; ``4 x - 2`` maps
    [0, 1] onto [-2, 2] (clipped). It stands for YouTube-8M's 128-d VGGish audio embedding.
    """
    lm = logmel_lee2020(audio, sr)
    second = np.minimum((np.arange(len(lm)) * LEE2020_HOP / sr).astype(np.int64), seconds - 1)
    sums = np.zeros((seconds, LEE2020_N_MELS), np.float64)
    np.add.at(sums, second, lm)
    counts = np.maximum(np.bincount(second, minlength=seconds), 1)
    return np.clip(4.0 * sums / counts[:, None] - 2.0, -2.0, 2.0).astype(np.float32)


def piano_roll_frames(piece: ParsedPiece, bpm: float, seconds: int,
                      slots: int = SLOTS_PER_SECOND) -> np.ndarray:
    """``(seconds, 128 * slots)`` float32: the score as a piano roll at the rendering's tempo.

    Entry ``[t, p * slots + j]`` is the fraction of slot j (1 / slots s long) of second t during
    which MIDI pitch p sounds in any part (ties merged, capped at 1), mapped by ``4 o - 2`` onto
    [-2, 2]. Instruments, dynamics and any drone accompaniment do not appear: only the score does.
    """
    n = seconds * slots
    roll = np.zeros((PITCHES, n), np.float64)
    slots_per_ql = 60.0 / bpm * slots
    for part in piece.parts:
        for onset, dur, pitch in part:
            on, off = onset * slots_per_ql, (onset + dur) * slots_per_ql
            first, last = int(np.floor(on)), min(int(np.ceil(off)), n)
            if first >= n or not 0 <= pitch < PITCHES:
                continue
            k = np.arange(first, last)
            roll[int(pitch), k] += np.minimum(off, k + 1) - np.maximum(on, k)
    roll = np.minimum(roll, 1.0).reshape(PITCHES, seconds, slots).transpose(1, 0, 2).reshape(seconds, -1)
    return (4.0 * roll - 2.0).astype(np.float32)
