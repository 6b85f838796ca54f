"""On-the-fly log-mel front end (torch), selectable by ``class_path`` in a model config."""

from __future__ import annotations

import torch
from torch import nn

from mirbench.audio.decode import SAMPLE_RATE
from mirbench.audio.features import LEE2020_HOP, LEE2020_MEAN, LEE2020_N_FFT, LEE2020_N_MELS, LEE2020_STD, mel_filterbank


class LogMelFrontend(nn.Module):
    """Waveforms ``(batch, n)`` (or ``(batch, 1, n)``, ``(n,)``) -> log-mel ``(batch, n // hop, n_mels)``.

    The same formula as :func:`mirbench.audio.features.logmel_lee2020` (Lee et al. 2020): magnitude
    STFT (centred Hann frames, zero padding), librosa's Slaney mel filterbank, ``log10(1 + 10 M)``,
    optionally the fixed z-score ``(x - 0.2) / 0.25``. A 3-s clip at 22,050 Hz -> 129 x 128.
    """

    def __init__(
        self,
        sample_rate: int = SAMPLE_RATE,
        n_fft: int = LEE2020_N_FFT,
        hop_length: int = LEE2020_HOP,
        n_mels: int = LEE2020_N_MELS,
        normalize: bool = True,
    ):
        super().__init__()
        self.sample_rate, self.n_fft, self.hop_length, self.n_mels = sample_rate, n_fft, hop_length, n_mels
        self.normalize = normalize
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        fb = torch.from_numpy(mel_filterbank(sample_rate, n_fft, n_mels).copy())
        self.register_buffer("mel_fb", fb, persistent=False)  # (n_mels, 1 + n_fft // 2)

    def mel_spectrogram(self, wav: torch.Tensor) -> torch.Tensor:
        """Magnitude mel spectrogram ``(batch, n_mels, 1 + n // hop)`` (all centred frames, torchaudio's layout)."""
        wav = _as_batch(wav)
        spec = torch.stft(
            wav.float(),
            self.n_fft,
            self.hop_length,
            window=self.window,
            center=True,
            pad_mode="constant",
            return_complex=True,
        ).abs()
        return torch.matmul(self.mel_fb, spec)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        n_frames = _as_batch(wav).shape[-1] // self.hop_length
        mel = self.mel_spectrogram(wav)[..., :n_frames]
        x = torch.log10(1.0 + 10.0 * mel).transpose(1, 2)
        return (x - LEE2020_MEAN) / LEE2020_STD if self.normalize else x

    def extra_repr(self) -> str:
        return (
            f"sample_rate={self.sample_rate}, n_fft={self.n_fft}, hop_length={self.hop_length}, "
            f"n_mels={self.n_mels}, normalize={self.normalize}"
        )


def _as_batch(wav: torch.Tensor) -> torch.Tensor:
    if wav.dim() == 1:
        return wav[None]
    if wav.dim() == 3 and wav.shape[1] == 1:
        return wav[:, 0]
    if wav.dim() != 2:
        raise ValueError(f"expected waveforms (batch, n), (batch, 1, n) or (n,), got {tuple(wav.shape)}")
    return wav
