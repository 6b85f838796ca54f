"""Decode audio files to float32 arrays with soundfile (libsndfile) and resample with soxr.

libsndfile >= 1.1 reads WAV, AU, FLAC, OGG/Vorbis and MP3, so one code path serves GTZAN (``.au``/
``.wav``), MTAT and the MSD 7digital previews (``.mp3``). Resampling uses soxr's "HQ" quality,
the same resampler as ``librosa.load``'s default (``res_type="soxr_hq"``), so features computed
here match features computed from ``librosa.load`` up to float rounding.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

SAMPLE_RATE = 22050  # Hz: the one rate every audio input of the suite is decoded to (all its papers use it)


class AudioDecodeError(RuntimeError):
    """A file could not be decoded; ``path`` and ``reason`` say which and why."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(
            f"cannot decode audio file {self.path}: {reason}. The file is missing, truncated or not "
            "an audio format libsndfile reads (wav, au, flac, ogg, mp3); re-download or re-extract it, "
            "or leave it out (mirbench prepare lists such files in its report and skips them)."
        )


def audio_info(path: str | os.PathLike) -> tuple[int, int, int]:
    """``(sample_rate, channels, frames)`` from the file header, without decoding."""
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, OSError) as e:
        raise AudioDecodeError(path, _reason(path, e)) from e
    return int(info.samplerate), int(info.channels), int(info.frames)


def load_audio(
    path: str | os.PathLike,
    sr: int = SAMPLE_RATE,
    mono: bool = True,
    offset: float = 0.0,
    duration: float | None = None,
) -> np.ndarray:
    """Decode ``path`` to float32 in [-1, 1] at ``sr`` Hz.

    ``offset``/``duration`` are in seconds (as in ``librosa.load``). Returns ``(n,)`` when ``mono``
    (channel mean, as ``librosa.to_mono``), else ``(channels, n)``. Raises :class:`AudioDecodeError`
    naming the file when it is missing, unreadable, empty or contains non-finite samples.
    """
    path = Path(path)
    if not path.is_file():
        raise AudioDecodeError(path, "file not found")
    _check_truncation(path)
    try:
        with sf.SoundFile(str(path)) as f:
            native_sr = int(f.samplerate)
            start = int(round(offset * native_sr))
            if start > 0:
                if start >= f.frames:
                    raise AudioDecodeError(path, f"offset {offset} s is beyond the end ({f.frames / native_sr:.2f} s)")
                f.seek(start)
            frames = -1 if duration is None else int(round(duration * native_sr))
            x = f.read(frames=frames, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError, ValueError, EOFError) as e:
        raise AudioDecodeError(path, _reason(path, e)) from e
    if x.shape[0] == 0:
        raise AudioDecodeError(path, f"no samples decoded (offset {offset} s beyond the end, or empty file)")
    if not np.isfinite(x).all():
        raise AudioDecodeError(path, "decoded samples contain NaN or inf")
    y = x.mean(axis=1, dtype=np.float32) if mono else np.ascontiguousarray(x.T)
    if native_sr != sr:
        y = resample(y, native_sr, sr)
    return np.ascontiguousarray(y, dtype=np.float32)


def resample(y: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """soxr HQ resampling along the last axis of ``(n,)`` or ``(channels, n)`` float32.

    The output has ``ceil(n * target_sr / orig_sr)`` samples (zero-padded or trimmed), exactly as
    ``librosa.resample(..., res_type="soxr_hq")``.
    """
    if orig_sr == target_sr:
        return y
    n_out = int(np.ceil(y.shape[-1] * target_sr / orig_sr))
    out = soxr.resample(np.ascontiguousarray(y.T), orig_sr, target_sr, quality="HQ").T
    if out.shape[-1] < n_out:
        pad = [(0, 0)] * (out.ndim - 1) + [(0, n_out - out.shape[-1])]
        out = np.pad(out, pad)
    return np.ascontiguousarray(out[..., :n_out], dtype=np.float32)


def _check_truncation(path: Path) -> None:
    """Raise if a RIFF-WAV or Sun-AU header declares more sample bytes than the file holds.

    libsndfile silently shortens such files; a truncated download would then pass as a short clip.
    """
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(4096)
    declared_end = None
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        pos = 12
        while pos + 8 <= len(head):
            cid, n = head[pos : pos + 4], int.from_bytes(head[pos + 4 : pos + 8], "little")
            if cid == b"data":
                declared_end = pos + 8 + n if n != 0xFFFFFFFF else None
                break
            pos += 8 + n + (n & 1)
    elif head[:4] == b".snd" and len(head) >= 12:
        offset, n = int.from_bytes(head[4:8], "big"), int.from_bytes(head[8:12], "big")
        declared_end = offset + n if n != 0xFFFFFFFF else None
    if declared_end is not None and declared_end > size:
        raise AudioDecodeError(path, f"truncated: the header declares {declared_end} bytes, the file has {size}")


def _reason(path: str | os.PathLike, e: BaseException) -> str:
    msg = str(e).replace(f"'{path}'", "").replace(str(path), "").replace("''", "").strip(" :.")
    return f"{type(e).__name__}: {msg}" if msg else type(e).__name__
