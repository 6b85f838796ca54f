"""Features on real GTZAN audio against direct librosa calls (the authors' recipes)."""

import librosa
import numpy as np
import pytest

from mirbench.audio.decode import load_audio
from mirbench.audio.features import (
    frames_kim2022,
    logmel_lee2020,
    mel_filterbank,
    normalize_lee2020,
    segment_frames,
)


@pytest.fixture(scope="module")
def y(gtzan_flacs):
    return load_audio(gtzan_flacs[0])[: 22050 * 10]


def test_logmel_lee2020_matches_librosa(y):
    x = logmel_lee2020(y)
    # the authors' extraction: mel basis times |STFT|, log10(1 + 10 M)
    spec = np.abs(librosa.stft(y, n_fft=1024, hop_length=512, win_length=1024))
    ref = np.log10(1 + 10 * librosa.filters.mel(sr=22050, n_fft=1024, n_mels=128) @ spec).T
    assert x.shape == (len(y) // 512, 128) and x.dtype == np.float32
    # tol: float32 STFT + 513-term mel sum of positive terms vs librosa's float32: ~sqrt(513) u ~ 1.4e-6 relative
    # (typical), and log10(1 + 10 m) scales a relative error by <= 1/ln 10; measured passing on the four
    # kernel legs of make test-kernels (and the next assert)
    np.testing.assert_allclose(x, ref[: len(x)], rtol=1e-5, atol=1e-5)
    # librosa.feature.melspectrogram(power=1) is the same magnitude mel
    mel = librosa.feature.melspectrogram(y=y, sr=22050, n_fft=1024, hop_length=512, n_mels=128, power=1.0)
    np.testing.assert_allclose(x, np.log10(1 + 10 * mel).T[: len(x)], rtol=1e-5, atol=1e-5)


def test_three_second_excerpt_is_129_frames_and_first_segment(y):
    full = logmel_lee2020(y)
    excerpt = logmel_lee2020(y[: 3 * 22050])
    assert excerpt.shape == (129, 128)
    # tol: the same frames' float32 STFT and mel sum in other batch shapes: a few u x sqrt(513) ~ 1e-6
    np.testing.assert_allclose(excerpt, segment_frames(full)[0], atol=1e-5)
    assert segment_frames(full).shape == (len(full) // 129, 129, 128)
    z = logmel_lee2020(y[: 3 * 22050], normalize=True)
    # tol: the same float32 ops on the same excerpt: equal up to an ulp of (x - 0.2) / 0.25 (rtol 1e-6 ~ 16 u)
    np.testing.assert_allclose(z, (excerpt - 0.2) / 0.25, rtol=1e-6)
    # tol: exact: the same function on the same array (assert_allclose's default rtol 1e-7)
    np.testing.assert_allclose(normalize_lee2020(excerpt), z)
    assert mel_filterbank(22050, 1024, 128).shape == (128, 513)


def test_frames_kim2022_matches_their_recipe(y):
    x = frames_kim2022(y)
    # Kim & Liem, src/audio_process.py: power STFT -> mel -> dB; MFCC/deltas; log chroma; log onset
    power = np.abs(librosa.stft(y, n_fft=2048, hop_length=512)) ** 2
    mel_db = librosa.power_to_db(librosa.feature.melspectrogram(S=power, sr=22050))
    m = librosa.feature.mfcc(S=mel_db, sr=22050, n_mfcc=13)
    ref = np.r_[
        m,
        librosa.feature.delta(m, order=1),
        librosa.feature.delta(m, order=2),
        np.log(np.maximum(librosa.feature.chroma_stft(S=power, sr=22050), 1e-8)),
        np.log(np.maximum(librosa.onset.onset_strength(S=mel_db, sr=22050), 1e-8))[None],
    ].T
    assert x.shape == (1 + len(y) // 512, 52) and x.dtype == np.float32
    scale = np.abs(ref).max(axis=0)
    # tol: float32 vs librosa's float32 per column, relative to the column's range: dB / log / DCT / delta
    # amplify the STFT's ~1e-6 relative error about 10x; 1e-4 measured on the four kernel legs
    assert (np.abs(x - ref).max(axis=0) <= 1e-4 * np.maximum(scale, 1)).all()


def test_bad_input_is_rejected():
    with pytest.raises(ValueError, match="mono"):
        logmel_lee2020(np.zeros((2, 22050), np.float32))
    with pytest.raises(ValueError, match="too short"):
        logmel_lee2020(np.zeros(100, np.float32))
    with pytest.raises(ValueError, match="mono"):
        frames_kim2022(np.zeros((2, 22050), np.float32))
