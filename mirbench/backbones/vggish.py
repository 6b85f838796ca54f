"""VGG-ish 2-D CNN of the "KIM" baseline (Kim, Urbano, Liem & Hanjalic, "One deep music representation
to rule them all?", Neural Comput. & Appl. 2020; eldrin/MTLMusicRepresentation-PyTorch
``musmtl/model.py``, shared trunk branched at "fc"), as used by Kim & Liem (ISMIR 2022).

Input: standardised dB mel spectrogram ``(B, C, T, F)``, C = 2 (stereo, the reference) or 1,
T = 216 frames (~2.5 s at 22,050 Hz / hop 256), F = 128 mel bins. Output ``(B, 256)``.
Blocks: conv-BN-ReLU(-maxpool 2); the first conv is 5x5 with stride (2, 1); then 3x3 convs to
32, 64, 64, 128, 256 channels (no pool on the 256-channel ones), a 1x1 conv, global average pool,
and Linear(256, 256)-BN-ReLU-Dropout.
"""

from __future__ import annotations

from typing import Sequence

from torch import Tensor, nn

KIM_CHANNELS = (16, 32, 64, 64, 128, 256, 256)  # the reference's conv widths (last = the 1x1 conv)


class ConvBlock2d(nn.Module):
    """Conv2d -> BatchNorm -> ReLU -> optional max-pool (``same`` padding for odd kernels)."""

    def __init__(self, c_in: int, c_out: int, kernel: int = 3, stride=1, pool: int | None = 2) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2)
        self.bn = nn.BatchNorm2d(c_out)
        self.pool = nn.MaxPool2d(pool) if pool else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        return self.pool(self.bn(self.conv(x)).relu())


class VGGish(nn.Module):
    """KIM's VGG-like encoder: ``(B, in_channels, T, F) -> (B, embed_dim)``.

    ``channels``: the widths of the seven conv blocks (default the reference's); narrower ones for CPU runs.
    """

    def __init__(self, in_channels: int = 2, embed_dim: int = 256, dropout: float = 0.5,
                 channels: Sequence[int] = KIM_CHANNELS) -> None:
        super().__init__()
        if len(channels) != 7:
            raise ValueError(f"VGGish has 7 conv blocks; got {len(channels)} channel counts")
        c = [in_channels, *channels]
        self.embed_dim = embed_dim
        self.features = nn.Sequential(
            ConvBlock2d(c[0], c[1], 5, stride=(2, 1)),
            *[ConvBlock2d(c[i], c[i + 1]) for i in range(1, 5)],
            ConvBlock2d(c[5], c[6], pool=None),
            ConvBlock2d(c[6], c[7], 1, pool=None),
        )
        self.head = nn.Sequential(
            nn.Linear(c[7], embed_dim), nn.BatchNorm1d(embed_dim), nn.ReLU(), nn.Dropout(dropout)
        )

    def forward(self, x: Tensor) -> Tensor:
        h = self.features(x).mean(dim=(2, 3))
        return self.head(h)
