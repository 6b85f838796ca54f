"""Fixed disjoint sub-spaces of an embedding, one per tag category (Lee et al. ICASSP 2020 Sec. 2.2).

A 256-d embedding split into 4 x 64 blocks: the binary mask m_s of category s selects its block.
"""

from __future__ import annotations

import torch


def category_slices(dim: int, categories: tuple[str, ...] | list[str]) -> dict[str, slice]:
    """Equal contiguous blocks of ``dim`` (which must divide evenly) per category, in order."""
    n = len(categories)
    if n == 0 or dim % n:
        raise ValueError(f"embedding dim {dim} cannot be split into {n} equal sub-spaces {tuple(categories)}")
    width = dim // n
    return {c: slice(i * width, (i + 1) * width) for i, c in enumerate(categories)}


def category_masks(dim: int, categories: tuple[str, ...] | list[str]) -> torch.Tensor:
    """``(n_categories, dim)`` binary masks m_s."""
    masks = torch.zeros(len(categories), dim)
    for i, s in enumerate(category_slices(dim, categories).values()):
        masks[i, s] = 1.0
    return masks
