"""Multi-label tag heads of Lee et al. ISMIR 2020 (Sec. 3.2-3.3; docs/protocols.md#lee-models).

- :class:`TagHead`: the classification layer. With ``normalize`` it is Eq. 8, logits = (f/||f||) . c_y, whose
  bias the paper leaves out (footnote 2: it did not help); without, the vanilla dense layer f . c_y + b.
- :class:`ProxyHead`: one learnable proxy per tag. The paper's Eq. 6: logits = (f/||f||) . p_y, the proxy
  *not* normalised and no temperature (Eq. 3's cosine bounds the sigmoid's input to [-1, 1]; footnote 1: a
  smoothing factor was tried and was worse). ``temperature`` / ``normalize_proxies`` give the cosine / temperature
  of NormSoftmax-style proxies (Zhai & Wu 2018) as a named alternative.
- :class:`DisentangledTagHead`: per category k, its own head on block k of the embedding, scoring only the tags
  of k: with the heads above this is Eq. 7 (proxy) and Eq. 9 (classification: the block normalised, its 64-unit
  "sub-dense layer" h o m_k is the embedding layer's block k).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class TagHead(nn.Module):
    def __init__(self, in_dim: int, n_tags: int, normalize: bool = False, bias: bool = True):
        super().__init__()
        self.normalize = normalize
        self.linear = nn.Linear(in_dim, n_tags, bias=bias)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        return self.linear(F.normalize(f, dim=-1) if self.normalize else f)


class ProxyHead(nn.Module):
    """Eq. 6 by default; ``temperature`` (not None) divides the logits, ``normalize_proxies`` makes them cosines."""

    def __init__(self, in_dim: int, n_tags: int, temperature: float | None = None, normalize_proxies: bool = False):
        super().__init__()
        if temperature is not None and temperature <= 0:
            raise ValueError(f"temperature must be > 0 or None, got {temperature}")
        self.temperature, self.normalize_proxies = temperature, bool(normalize_proxies)
        self.proxies = nn.Parameter(torch.randn(n_tags, in_dim) / in_dim**0.5)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        p = F.normalize(self.proxies, dim=-1) if self.normalize_proxies else self.proxies
        logits = F.normalize(f, dim=-1) @ p.T
        return logits if self.temperature is None else logits / self.temperature


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
