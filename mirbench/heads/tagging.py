"""Multi-label tag heads of Lee et al. ISMIR 2020 (poster panels b, c, e, f; tutorial slides).

- :class:`TagHead`: a dense output layer; with ``normalize`` the embedding is L2-normalised first
  (logits = W f/||f|| + b, the slide's "(f/||f||) . C_z").
- :class:`ProxyHead`: one learnable proxy per tag, logits = cos(f, P_y) / temperature (dot product of
  normalised embedding and normalised proxies; the temperature is not printed in the paper, [I]).
- :class:`DisentangledTagHead`: per category k, its own head on the masked block f * m_k, scoring only
  the tags of k ("sub-dense layer h_k" for classification, per-category proxies P_k for proxy).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class TagHead(nn.Module):
    def __init__(self, in_dim: int, n_tags: int, normalize: bool = False):
        super().__init__()
        self.normalize = normalize
        self.linear = nn.Linear(in_dim, n_tags)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        return self.linear(F.normalize(f, dim=-1) if self.normalize else f)


class ProxyHead(nn.Module):
    def __init__(self, in_dim: int, n_tags: int, temperature: float = 0.1):
        super().__init__()
        self.temperature = temperature
        self.proxies = nn.Parameter(torch.randn(n_tags, in_dim) / in_dim**0.5)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        return F.normalize(f, dim=-1) @ F.normalize(self.proxies, dim=-1).T / self.temperature


class DisentangledTagHead(nn.Module):
    """Heads per category on that category's block; output columns in the data's tag order."""

    def __init__(self, blocks: dict[str, slice], tag_categories: tuple[str, ...], make_head):
        super().__init__()
        self.blocks = blocks
        self.tag_index = {c: [i for i, t in enumerate(tag_categories) if t == c] for c in blocks}
        self.heads = nn.ModuleDict({
            c: make_head(s.stop - s.start, len(self.tag_index[c])) for c, s in blocks.items()})
        self.n_tags = len(tag_categories)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        out = f.new_zeros(f.shape[0], self.n_tags)
        for c, s in self.blocks.items():
            out[:, self.tag_index[c]] = self.heads[c](f[:, s])
        return out
