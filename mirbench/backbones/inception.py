"""The Inception-style CNN of Lee et al. (ICASSP 2020 Sec. 3; "deep inception backbone", ISMIR 2020 poster).

Input ``(B, 1, frames, mels)`` log-mel (129 x 128 for 3 s); a 5x5 conv stem (64 filters) with 2x2
max-pooling, then ``len(channels)`` Inception blocks, each a naive Inception module with stride 2 followed
by another Inception module, global average pooling and a linear map to ``embedding_dim`` (256).
The per-block widths are not printed in the papers (open: docs/protocols.md#lee-input): ``channels`` is the knob
(the corpus configs shrink it for CPU).

``channels_last=True`` runs the activations in channels-last layout: same numbers up to float rounding, and a
forward + backward step of the small CPU backbone on a triplet batch (96 x 1 x 129 x 128) takes 0.86-1.06 s
instead of 1.80-1.82 s on one core (1.7-2.1x over two measurements; the 3x3 max-pool branch of every Inception
module dominates in NCHW;
``benchmarks/perf/ismir2020_overhead.py --memory-format`` measures it). Off by default: with torch 2.13 on
CPU, an 8-channel stem in channels-last segfaults inside libtorch in the backward pass (16 and wider run), so
it is ignored below 16 stem channels (with a warning); the table configs that were run with it
(benchmarks/configs/ismir2020/cpu_scale.yaml) switch it on.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn


class InceptionModule(nn.Module):
    """Naive Inception module: 1x1, 3x3, 5x5 convolutions and a 3x3 max-pool (+1x1), concatenated."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        if out_channels % 4:
            raise ValueError(f"Inception out_channels must be divisible by 4, got {out_channels}")
        c = out_channels // 4

        def conv(k: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(in_channels, c, k, stride=stride, padding=k // 2, bias=False),
                                 nn.BatchNorm2d(c), nn.ReLU(inplace=True))

        self.branches = nn.ModuleList([conv(1), conv(3), conv(5)])
        self.pool = nn.Sequential(nn.MaxPool2d(3, stride=stride, padding=1),
                                  nn.Conv2d(in_channels, c, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([b(x) for b in self.branches] + [self.pool(x)], dim=1)


class InceptionBackbone(nn.Module):
    """Log-mel ``(B, 1, T, F)`` -> embedding ``(B, embedding_dim)`` (ReLU everywhere, no final activation)."""

    def __init__(self, stem_channels: int = 64, channels: tuple[int, ...] = (64, 128, 128, 256, 256, 256),
                 embedding_dim: int = 256, in_channels: int = 1, channels_last: bool = False):
        super().__init__()
        self.embedding_dim = embedding_dim
        if channels_last and stem_channels < 16:
            warnings.warn(f"InceptionBackbone: channels_last ignored for stem_channels={stem_channels} < 16 (torch 2.13 "
                          "segfaults on CPU in that case)", stacklevel=2)
            channels_last = False
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, stem_channels, 5, padding=2, bias=False), nn.BatchNorm2d(stem_channels),
            nn.ReLU(inplace=True), nn.MaxPool2d(2),
        ]
        prev = stem_channels
        for width in channels:
            layers += [InceptionModule(prev, width, stride=2), InceptionModule(width, width)]
            prev = width
        self.features = nn.Sequential(*layers).to(memory_format=self.memory_format)
        self.project = nn.Linear(prev, embedding_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 3:  # (B, T, F): add the channel axis
            x = x.unsqueeze(1)
        return self.project(self.features(x.contiguous(memory_format=self.memory_format)).mean(dim=(2, 3)))
