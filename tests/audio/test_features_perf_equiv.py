"""The faster feature code (numpy mel product, frame-major spectra) against the previous code, kept here as
the reference, and against librosa: the same numbers to float32 rounding."""

import librosa
import numpy as np
import pytest
import torch

from mirbench.audio.decode import load_audio
from mirbench.audio.features import _stft_mag, frames_kim2022, logmel_lee2020, mel_filterbank, mel_kim2022

SR = 22050


def _torch_mel(power: torch.Tensor, n_fft: int) -> np.ndarray:
    return (torch.from_numpy(mel_filterbank(SR, n_fft, 128).copy()) @ power).numpy()


def previous_frames_kim2022(y):
    with torch.no_grad():
        power_t = _stft_mag(torch.from_numpy(y), 2048, 512) ** 2
        mel = _torch_mel(power_t, 2048)
        power = power_t.contiguous().numpy()
    mel_db = librosa.power_to_db(mel)
    mfcc = librosa.feature.mfcc(S=mel_db, sr=SR, n_mfcc=13)
    d1, d2 = librosa.feature.delta(mfcc, order=1), librosa.feature.delta(mfcc, order=2)
    chroma = np.log(np.maximum(librosa.feature.chroma_stft(S=power, sr=SR), 1e-8))
    onset = np.log(np.maximum(librosa.onset.onset_strength(S=mel_db, sr=SR), 1e-8))[None]
    return np.ascontiguousarray(np.concatenate([mfcc, d1, d2, chroma, onset]).T, dtype=np.float32)


def previous_mel_kim2022(y):
    with torch.no_grad():
        mel = _torch_mel(_stft_mag(torch.from_numpy(y), 1024, 256) ** 2, 1024)
    return np.ascontiguousarray(librosa.power_to_db(mel).T, dtype=np.float32)


def previous_logmel_lee2020(y):
    with torch.no_grad():
        spec = _stft_mag(torch.from_numpy(y), 1024, 512)[:, : len(y) // 512]
        mel = torch.from_numpy(mel_filterbank(SR, 1024, 128).copy()) @ spec
        return torch.log10(1.0 + 10.0 * mel).T.contiguous().numpy()


def librosa_recipe(name, y):
    if name == "frames_kim2022":
        power = np.abs(librosa.stft(y, n_fft=2048, hop_length=512)) ** 2
        mel_db = librosa.power_to_db(librosa.feature.melspectrogram(S=power, sr=SR))
        m = librosa.feature.mfcc(S=mel_db, sr=SR, n_mfcc=13)
        return np.r_[m, librosa.feature.delta(m, order=1), librosa.feature.delta(m, order=2),
                     np.log(np.maximum(librosa.feature.chroma_stft(S=power, sr=SR), 1e-8)),
                     np.log(np.maximum(librosa.onset.onset_strength(S=mel_db, sr=SR), 1e-8))[None]].T
    if name == "mel_kim2022":
        return librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=SR, n_fft=1024, hop_length=256)).T
    mel = librosa.feature.melspectrogram(y=y, sr=SR, n_fft=1024, hop_length=512, n_mels=128, power=1.0)
    return np.log10(1 + 10 * mel).T[: len(y) // 512]


def rel_diff(a, ref):
    """Largest |a - ref| per column, over max(|ref| of the column, 1)."""
    return float((np.abs(a - ref).max(0) / np.maximum(np.abs(ref).max(0), 1)).max())


CASES = {"frames_kim2022": (frames_kim2022, previous_frames_kim2022),
         "mel_kim2022": (mel_kim2022, previous_mel_kim2022),
         "logmel_lee2020": (logmel_lee2020, previous_logmel_lee2020)}


@pytest.mark.parametrize("name", list(CASES))
def test_new_feature_code_equals_previous_and_librosa(name, one_per_genre):
    new, old = CASES[name]
    for path in one_per_genre[:3]:
        y = load_audio(path)[: SR * 12]
        a, b, ref = new(y), old(y), librosa_recipe(name, y)
        assert a.shape == b.shape == ref.shape and a.dtype == np.float32 and a.flags.c_contiguous
        assert rel_diff(a, b) < 2e-6  # float32 rounding of a product summed in another order
        assert rel_diff(a, ref) <= rel_diff(b, ref) + 2e-6
