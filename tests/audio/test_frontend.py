"""LogMelFrontend (torch, on the fly) vs logmel_lee2020 (numpy, cached) and torchaudio."""

import numpy as np
import pytest
import torch

from mirbench.audio.decode import load_audio
from mirbench.audio.features import logmel_lee2020
from mirbench.audio.frontend import LogMelFrontend


@pytest.fixture(scope="module")
def waves(one_per_genre):
    return np.stack([load_audio(p, duration=3.0) for p in one_per_genre[:4]])


def test_matches_logmel_lee2020(waves):
    front = LogMelFrontend(normalize=False)
    out = front(torch.from_numpy(waves))
    assert out.shape == (4, 129, 128)
    ref = np.stack([logmel_lee2020(w) for w in waves])
    # tol: torch's float32 STFT + mel GEMM vs librosa's float32: ~1e-6 typical in log10 (see
    # test_features.py); measured on the four kernel legs
    np.testing.assert_allclose(out.numpy(), ref, atol=1e-5)
    normed = LogMelFrontend()(torch.from_numpy(waves[:1, None]))  # (batch, 1, n) input
    # tol: the same, through (x - 0.2) / 0.25: 4x the error, and 1e-4 is 2.5x the 4 x 1e-5 that needs
    np.testing.assert_allclose(normed.numpy()[0], (ref[0] - 0.2) / 0.25, atol=1e-4)
    assert LogMelFrontend()(torch.from_numpy(waves[0])).shape == (1, 129, 128)


def test_differentiable_and_rejects_bad_shapes(waves):
    x = torch.from_numpy(waves[:2]).requires_grad_()
    LogMelFrontend()(x).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    with pytest.raises(ValueError):
        LogMelFrontend()(torch.zeros(2, 2, 2, 100))


def test_matches_torchaudio_melspectrogram(waves):
    try:
        import torchaudio
    except Exception as e:  # not installed here: the CPU torch build has no matching torchaudio
        pytest.skip(f"torchaudio not importable ({type(e).__name__}: {e})")
    ta = torchaudio.transforms.MelSpectrogram(
        sample_rate=22050, n_fft=1024, hop_length=512, n_mels=128, power=1.0,
        norm="slaney", mel_scale="slaney", center=True, pad_mode="constant",
    )
    x = torch.from_numpy(waves)
    # tol: float32 vs torchaudio's float32 of the same mel power: relative ~sqrt(513) u ~ 1.4e-6 typical; 1e-4
    # leaves 70x
    np.testing.assert_allclose(LogMelFrontend().mel_spectrogram(x).numpy(), ta(x).numpy(), rtol=1e-4, atol=1e-4)
