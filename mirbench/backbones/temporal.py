"""A small encoder of per-second feature sequences (e.g. YouTube-8M's 128-d audio / 1024-d rgb frames).

(B, T, F) frames (or (B, F), read as T = 1) with an optional padding mask (B, T) bool, True = padded
second -> (B, out_dim): a per-frame MLP, then a temporal pooling: the masked mean, a learned attention
pooling (one query, softmax over the frames), or a small pre-norm transformer (sinusoidal positions,
key-padding mask) followed by the masked mean.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn


def masked_mean(h: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Mean over T of h (B, T, H), ignoring the padded frames (mask True); an all-padded row gives 0."""
    if mask is None:
        return h.mean(1)
    keep = (~mask).unsqueeze(-1).to(h.dtype)
    return (h * keep).sum(1) / keep.sum(1).clamp_min(1.0)


def sinusoidal_positions(t: int, dim: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """(t, dim) positional encodings of Vaswani et al. (2017)."""
    pos = torch.arange(t, device=device, dtype=torch.float32)[:, None]
    freq = torch.exp(-math.log(10000.0) * torch.arange(0, dim, 2, device=device, dtype=torch.float32) / dim)
    out = torch.zeros(t, dim, device=device)
    out[:, 0::2] = torch.sin(pos * freq)
    out[:, 1::2] = torch.cos(pos * freq[: dim // 2])
    return out.to(dtype)


class TemporalEncoder(nn.Module):
    """(B, T, in_dim) + mask (B, T) -> (B, out_dim).

    Args:
        in_dim: frame feature size (YouTube-8M: 128 audio, 1024 rgb).
        hidden: width of the frame MLP and of the transformer.
        out_dim: output size (the head projects it to the embedding).
        pooling: ``mean`` | ``attention`` | ``transformer``.
        n_layers, n_heads: of the transformer (``pooling="transformer"``).
        dropout: in the frame MLP and the transformer.
    """

    def __init__(self, in_dim: int, hidden: int = 256, out_dim: int = 256,
                 pooling: Literal["mean", "attention", "transformer"] = "mean", n_layers: int = 1,
                 n_heads: int = 4, dropout: float = 0.1) -> None:
        super().__init__()
        if pooling not in ("mean", "attention", "transformer"):
            raise ValueError(f"pooling must be 'mean', 'attention' or 'transformer', got {pooling!r}")
        self.in_dim, self.out_dim, self.pooling = int(in_dim), int(out_dim), pooling
        self.frames = nn.Sequential(nn.LayerNorm(in_dim), nn.Linear(in_dim, hidden), nn.GELU(), nn.Dropout(dropout),
                                    nn.Linear(hidden, hidden))
        self.score = nn.Linear(hidden, 1) if pooling == "attention" else None
        self.transformer = None
        if pooling == "transformer":
            layer = nn.TransformerEncoderLayer(hidden, n_heads, 2 * hidden, dropout, batch_first=True, norm_first=True)
            self.transformer = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.out = nn.Sequential(nn.GELU(), nn.Linear(hidden, out_dim))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if x.dim() == 2:
            x, mask = x.unsqueeze(1), None
        h = self.frames(x)
        if self.transformer is not None:
            h = h + sinusoidal_positions(h.shape[1], h.shape[2], h.device, h.dtype)
            h = self.transformer(h, src_key_padding_mask=mask)
        if self.score is not None:
            s = self.score(h).squeeze(-1)
            if mask is not None:
                s = s.masked_fill(mask, float("-inf")).nan_to_num(neginf=-1e4)  # all-padded rows stay finite
            pooled = (torch.softmax(s, dim=1).unsqueeze(-1) * h).sum(1)
        else:
            pooled = masked_mean(h, mask)
        return self.out(pooled)
