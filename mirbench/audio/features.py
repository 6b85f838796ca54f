"""Frame-level input features of the reproduced papers, computed with librosa.

- :func:`logmel_lee2020`: the log-mel input of Lee et al. (ICASSP 2020 / ISMIR 2020), 128 bins.
- :func:`frames_kim2022`: the 52-d MFCC+chroma+onset frames of Kim & Liem (ISMIR 2022).
- :func:`mel_kim2022`: the dB mel input of their KIM baseline (eldrin/MTLMusicRepresentation-PyTorch).

Both take a mono float waveform ``y`` (``(n,)``) and return ``(frames, dim)`` float32, time first.
"""

from __future__ import annotations

from functools import lru_cache

import librosa
import numpy as np
import scipy.fft
import scipy.signal

from mirbench.audio.decode import SAMPLE_RATE

LEE2020_N_FFT = 1024
LEE2020_HOP = 512
LEE2020_N_MELS = 128
LEE2020_MEAN = 0.2  # fixed z-score constants (ICASSP 2020 text; tutorial notebook (mel - 0.20) / 0.25)
LEE2020_STD = 0.25
LEE2020_FRAMES = 129  # 3-s excerpt at 22,050 Hz -> 129 x 128 input (ICASSP 2020, Sec. 3)

KIM2022_N_FFT = 2048
KIM2022_HOP = 512
KIM2022_EPS = 1e-8
KIM2022_DIM = 52
KIM2022_N_MELS = 128  # the dB mel the MFCCs and onset strength are read from (librosa default)
KIM_MEL_N_FFT = 1024  # KIM baseline (musmtl/config.py): n_fft 1024, hop 256, 128 mel bins, dB
KIM_MEL_HOP = 256
KIM_MEL_N_MELS = 128


STFT_BLOCK = 128  # frames per FFT call: the float64 block stays in cache


def stft_magnitude(y: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """``|librosa.stft(y, n_fft, hop)|``, ``(1 + n_fft // 2, 1 + n // hop)`` float32, bit for bit.

    Centred Hann frames with zero padding, as librosa >= 0.10. The array is frame-major in memory
    (Fortran order), as librosa's own. Speed: :func:`_frames_magnitude`.
    """
    return _frames_magnitude(np.ascontiguousarray(y, dtype=np.float32), n_fft, hop).T


def _frames_magnitude(y: np.ndarray, n_fft: int, hop: int, power: bool = False) -> np.ndarray:
    """``|librosa.stft(y)|.T`` (``** 2`` when ``power``), ``(frames, 1 + n_fft // 2)`` C-order float32.

    librosa's arithmetic (float32 frames times the float64 window, float64 real FFT, rounded to complex64),
    so the same bits, but in cache-sized blocks of frames with ``scipy.fft``: 0.71-0.83x librosa's STFT
    time (30-s GTZAN clips, n_fft 1024-2048, one core, interleaved, on a shared 2-core machine).
    """
    padded = np.pad(y, n_fft // 2)
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop]
    window = _hann(n_fft)
    out = np.empty((len(frames), n_fft // 2 + 1), np.float32)
    for i in range(0, len(frames), STFT_BLOCK):
        spec = scipy.fft.rfft(frames[i:i + STFT_BLOCK] * window, axis=-1).astype(np.complex64)
        block = np.abs(spec, out=out[i:i + STFT_BLOCK])
        if power:
            np.square(block, out=block)
    return out


def _frames_mel(spec_t: np.ndarray, fb: np.ndarray) -> np.ndarray:
    """``(fb @ spec).T`` ``(frames, n_mels)`` from the frame-major ``spec_t = spec.T`` ``(frames, bins)``.

    One numpy GEMM whose output is already time-first (no transposed copy).
    """
    return spec_t @ fb.T


@lru_cache(maxsize=8)
def _hann(n: int) -> np.ndarray:
    """librosa's default window: periodic Hann, float64 (``scipy.signal.get_window("hann", n, fftbins=True)``)."""
    w = scipy.signal.get_window("hann", n, fftbins=True)
    w.setflags(write=False)
    return w


@lru_cache(maxsize=8)
def mel_filterbank(sr: int, n_fft: int, n_mels: int) -> np.ndarray:
    """librosa's default (Slaney-style, area-normalised) mel filterbank, ``(n_mels, 1 + n_fft // 2)``."""
    fb = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels).astype(np.float32)
    fb.setflags(write=False)
    return fb


def logmel_lee2020(y: np.ndarray, sr: int = SAMPLE_RATE, normalize: bool = False) -> np.ndarray:
    """Log-compressed magnitude mel spectrogram of Lee et al. 2020, ``(n // 512, 128)`` float32.

    S = |STFT| (n_fft 1024 = 23 ms at 22,050 Hz, hop 512 = 50 % overlap, Hann, centred frames),
    M = mel(128) @ S, X = log10(1 + 10 M) (ICASSP 2020 Sec. 3: "log10(1 + 10 S)"). S is the
    *magnitude*, not the power: the authors' extraction code multiplies the mel basis with
    ``np.abs(stft)``. We keep the first ``n // hop`` centred frames (dropping the last one, which
    lies mostly in the padding), so a 3-s excerpt gives exactly 129 frames and equals the first
    129-frame segment that the authors cut from a full-song spectrogram. ``normalize`` applies
    :func:`normalize_lee2020`. Padding is librosa >= 0.10's zero padding (older librosa reflected).
    """
    y = np.ascontiguousarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise ValueError(f"logmel_lee2020 expects mono audio (n,), got shape {y.shape}")
    n_frames = len(y) // LEE2020_HOP
    if n_frames < 1:
        raise ValueError(f"audio too short for one frame: {len(y)} samples < hop {LEE2020_HOP}")
    spec_t = _frames_magnitude(y, LEE2020_N_FFT, LEE2020_HOP)[:n_frames]
    mel = _frames_mel(spec_t, mel_filterbank(sr, LEE2020_N_FFT, LEE2020_N_MELS))
    out = np.log10(np.float32(1.0) + np.float32(10.0) * mel)
    return normalize_lee2020(out) if normalize else out


def normalize_lee2020(x: np.ndarray) -> np.ndarray:
    """Fixed z-score of Lee et al.: ``(x - 0.2) / 0.25`` (numpy or torch)."""
    return (x - LEE2020_MEAN) / LEE2020_STD


def frames_kim2022(y: np.ndarray, sr: int = SAMPLE_RATE, eps: float = KIM2022_EPS) -> np.ndarray:
    """52-d frames of Kim & Liem 2022, ``(1 + n // 512, 52)`` float32.

    As in their ``audio_process.process_track``: power STFT (n_fft 2048, hop 512) -> mel (128,
    librosa defaults) -> dB (``power_to_db``, ref 1, top_db 80); per frame MFCC(13) from the dB mel,
    its delta and delta-delta (librosa width 9), log(max(chroma_stft(power STFT), eps)) (12) and
    log(max(onset_strength(dB mel), eps)) (1); eps = 1e-8. Columns: 0-12 MFCC, 13-25 delta,
    26-38 delta2, 39-50 log chroma, 51 log onset strength.
    """
    y = np.ascontiguousarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise ValueError(f"frames_kim2022 expects mono audio (n,), got shape {y.shape}")
    if len(y) < KIM2022_N_FFT // 2 + 1:
        raise ValueError(f"audio too short: {len(y)} samples")
    power_t = _frames_magnitude(y, KIM2022_N_FFT, KIM2022_HOP, power=True)
    power = power_t.T  # (bins, frames) frame-major, the order librosa.stft gives chroma_stft
    mel_db = librosa.power_to_db(_frames_mel(power_t, mel_filterbank(sr, KIM2022_N_FFT, KIM2022_N_MELS))).T
    mfcc = librosa.feature.mfcc(S=mel_db, sr=sr, n_mfcc=13)
    width = min(9, mfcc.shape[1] - (1 - mfcc.shape[1] % 2))  # librosa needs width <= frames, odd
    d1 = librosa.feature.delta(mfcc, order=1, width=max(width, 3))
    d2 = librosa.feature.delta(mfcc, order=2, width=max(width, 3))
    chroma = np.log(np.maximum(librosa.feature.chroma_stft(S=power, sr=sr), eps))
    onset = np.log(np.maximum(librosa.onset.onset_strength(S=mel_db, sr=sr), eps))[None]
    return np.ascontiguousarray(np.concatenate([mfcc, d1, d2, chroma, onset]).T, dtype=np.float32)


def mel_kim2022(y: np.ndarray, sr: int = SAMPLE_RATE) -> np.ndarray:
    """dB mel spectrogram of the KIM baseline, ``(1 + n // 256, 128)`` float32.

    As ``musmtl/utils.py: extract_mel``: ``power_to_db(melspectrogram(y, sr, n_fft=1024, hop_length=256))``
    (power 2, librosa's Slaney filterbank, centred frames, ref 1, top_db 80 over the whole input).
    The reference computes it per channel of stereo audio (mono files become two identical channels);
    here one mono channel; stack two of them for ``in_channels = 2``.
    """
    y = np.ascontiguousarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise ValueError(f"mel_kim2022 expects mono audio (n,), got shape {y.shape}")
    power_t = _frames_magnitude(y, KIM_MEL_N_FFT, KIM_MEL_HOP, power=True)
    mel = _frames_mel(power_t, mel_filterbank(sr, KIM_MEL_N_FFT, KIM_MEL_N_MELS))
    return np.ascontiguousarray(librosa.power_to_db(mel), dtype=np.float32)


def segment_frames(x: np.ndarray, n_frames: int = LEE2020_FRAMES) -> np.ndarray:
    """Non-overlapping ``n_frames`` segments of ``(frames, dim)``: ``(frames // n_frames, n_frames, dim)``.

    How Lee et al. turn a full-song spectrogram into 3-s inputs (the remainder is dropped).
    """
    k = x.shape[0] // n_frames
    return x[: k * n_frames].reshape(k, n_frames, *x.shape[1:])


FEATURES = {"logmel_lee2020": logmel_lee2020, "frames_kim2022": frames_kim2022, "mel_kim2022": mel_kim2022}
"""Feature extractors by name (``mirbench prepare --feature NAME``)."""
FEATURE_DIMS = {"logmel_lee2020": LEE2020_N_MELS, "frames_kim2022": KIM2022_DIM, "mel_kim2022": KIM_MEL_N_MELS}
"""Width of each extractor's frames (the last axis of its output)."""


def warm_up(*names: str, sr: int = SAMPLE_RATE) -> None:
    """Compute the named features (default: all) once on 3 s of noise, in this process, before forking workers.

    librosa's numba kernels then compile, and write numba's on-disk cache, once. Workers that compile them at the
    same time write the cache index concurrently and can leave it pointing at another signature's machine code:
    every later process that loads it crashes with a segmentation fault (seen on a fresh install: the corpus
    build's workers, then ``frames_kim2022`` in the evaluation). Forked workers inherit the compiled kernels.
    """
    y = (np.random.default_rng(0).standard_normal(3 * sr) * 0.1).astype(np.float32)
    for name in names or tuple(FEATURES):
        FEATURES[name](y, sr)
