"""Synthetic song corpora for tests and benchmarks: each song mixes a few of C well-separated
Gaussian clusters, the generative story of the HDPGMM in miniature."""

from __future__ import annotations

import numpy as np
import torch


def cluster_means(n_clusters: int, dim: int, separation: float, rng: np.random.Generator) -> np.ndarray:
    """``(C, D)`` means on a random simplex-like layout with pairwise distances >= ``separation``."""
    if dim >= n_clusters:
        return separation / np.sqrt(2.0) * np.eye(n_clusters, dim)[:, rng.permutation(dim)]
    while True:
        means = rng.normal(scale=separation, size=(n_clusters, dim))
        d = np.linalg.norm(means[:, None] - means[None], axis=-1) + np.eye(n_clusters) * 1e9
        if d.min() >= separation:
            return means


def toy_songs(
    n_songs: int = 60,
    n_clusters: int = 3,
    dim: int = 2,
    clusters_per_song: int = 2,
    frames: tuple[int, int] = (40, 60),
    separation: float = 8.0,
    scale: float = 0.5,
    seed: int = 0,
) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """``(songs, means, song_clusters)``: ``songs[j]`` ``(N_j, D)`` float32 frames, ``means`` ``(C, D)``,
    ``song_clusters`` ``(J, clusters_per_song)`` the clusters each song draws from (equal odds)."""
    rng = np.random.default_rng(seed)
    means = cluster_means(n_clusters, dim, separation, rng)
    songs, members = [], []
    for _ in range(n_songs):
        cs = rng.choice(n_clusters, clusters_per_song, replace=False)
        n = int(rng.integers(frames[0], frames[1] + 1))
        z = cs[rng.integers(clusters_per_song, size=n)]
        songs.append((means[z] + scale * rng.normal(size=(n, dim))).astype(np.float32))
        members.append(cs)
    return songs, means, np.array(members)


def pad_songs(songs: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Padded ``(J, L, D)`` float32 tensor and ``(J, L)`` bool mask."""
    width = max(len(s) for s in songs)
    x = torch.zeros(len(songs), width, songs[0].shape[1])
    mask = torch.zeros(len(songs), width, dtype=torch.bool)
    for j, s in enumerate(songs):
        x[j, : len(s)] = torch.from_numpy(np.asarray(s, dtype=np.float32))
        mask[j, : len(s)] = True
    return x, mask
