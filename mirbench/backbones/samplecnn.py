"""SampleCNN encoder (Lee, Park, Kim & Nam, SMC 2017) in the CLMR configuration (Spijkervet &
Burgoyne, ISMIR 2021), with Kim & Liem's (ISMIR 2022) reduction of the widest layers 512 -> 256
(eldrin/CLMR branch ``hdpgmm_study_mod``, ``clmr/models/sample_cnn_s.py``).

Input raw audio ``(B, 1, 59049)`` (3^10 samples, ~2.68 s at 22,050 Hz). A stride-3 conv, nine
blocks of conv(3)-BN-ReLU-maxpool(3), and a final conv(3)-BN-ReLU reduce time to 1: output
``(B, channels[-1])``.
"""

from __future__ import annotations

from typing import Sequence

from torch import Tensor, nn

STUDY_CHANNELS = (128, 128, 128, 256, 256, 256, 256, 256, 256, 256)  # Kim & Liem: widest 256
CLMR_CHANNELS = (128, 128, 128, 256, 256, 256, 256, 256, 256, 512)  # Spijkervet & Burgoyne


def _block(c_in: int, c_out: int, kernel: int, stride: int, pool: int | None) -> nn.Sequential:
    layers = [nn.Conv1d(c_in, c_out, kernel, stride=stride, padding=0 if stride > 1 else kernel // 2),
              nn.BatchNorm1d(c_out), nn.ReLU()]
    if pool:
        layers.append(nn.MaxPool1d(pool, stride=pool))
    return nn.Sequential(*layers)


class SampleCNN(nn.Module):
    """``(B, in_channels, n) -> (B, channels[-1])``; ``channels[0]`` is the strided first conv, then one
    entry per pooled block; ``n = 3 * prod(strides)`` gives a length-1 output (59,049 by default)."""

    def __init__(
        self,
        channels: Sequence[int] = STUDY_CHANNELS,
        strides: Sequence[int] = (3,) * 9,
        in_channels: int = 1,
    ) -> None:
        super().__init__()
        if len(channels) != len(strides) + 1:
            raise ValueError("need one channel count for the first conv plus one per block")
        layers = [_block(in_channels, channels[0], 3, 3, None)]
        for c_in, c_out, s in zip(channels[:-1], channels[1:], strides):
            layers.append(_block(c_in, c_out, s, 1, s))
        layers.append(_block(channels[-1], channels[-1], 3, 1, None))
        self.features = nn.Sequential(*layers)
        self.embed_dim = channels[-1]

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() == 2:
            x = x[:, None]
        h = self.features(x)
        return h.mean(-1)  # length 1 for the designed input size; mean keeps other lengths usable
