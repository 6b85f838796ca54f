"""Dim-Sim-style triplets on the corpus's test pieces, judged by simulated annotators.

Written in the column layout of the real Dim-Sim CSVs (Lee et al. ICASSP 2020, Zenodo 3889149):
raw files carry vote counts, clean files keep triplets with agreement >= 0.9 as 0/1 votes. Each
simulated annotator prefers the song whose tags overlap the anchor's more (mean over the four
categories of the Jaccard index), through a logistic choice with their own bias.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mirbench.data.corpus.render import CLIP_SECONDS, SAMPLE_RATE
from mirbench.data.corpus.tags import CATEGORIES, TAG_CATEGORIES

DIMSIM_COLUMNS = [
    "triplet_id", "anchor_id", "anchor_start_seconds", "anchor_start_samples",
    "song1_id", "song1_start_seconds", "song1_start_samples",
    "song2_id", "song2_start_seconds", "song2_start_samples",
    "sampling_rate", "clip_lengths_seconds", "clip_lengths_samples", "song1_vote", "song2_vote",
]
CLEAN_AGREEMENT = 0.9
CHOICE_TEMPERATURE = 0.15  # scale of similarity differences annotators notice


def track_id(track: int) -> str:
    return f"T{track:05d}"


def category_similarity(tags_a: np.ndarray, tags_b: np.ndarray) -> float:
    """Mean over categories of the Jaccard index of two multi-hot tag vectors."""
    cats = np.asarray(TAG_CATEGORIES)
    sims = []
    for c in CATEGORIES:
        a, b = tags_a[cats == c].astype(bool), tags_b[cats == c].astype(bool)
        union = (a | b).sum()
        sims.append((a & b).sum() / union if union else 1.0)
    return float(np.mean(sims))


def simulate_dimsim(clips: pd.DataFrame, tag_matrix: np.ndarray, n_triplets: int, seed: int,
                    split: str = "test") -> tuple[pd.DataFrame, pd.DataFrame]:
    """(raw, clean) triplet tables over the clips of ``split``."""
    rng = np.random.default_rng([seed, 11])
    pool = clips[clips["split"] == split].reset_index(drop=True)
    tracks = pool["track"].unique()
    if len(tracks) < 3:
        empty = pd.DataFrame(columns=DIMSIM_COLUMNS)
        return empty, empty
    rows = []
    for t in range(n_triplets):
        ta, t1, t2 = rng.choice(tracks, size=3, replace=False)
        clip = {k: pool[pool["track"] == k].sample(1, random_state=int(rng.integers(2**31))).iloc[0]
                for k in (ta, t1, t2)}
        s1 = category_similarity(tag_matrix[ta], tag_matrix[t1])
        s2 = category_similarity(tag_matrix[ta], tag_matrix[t2])
        n_annotators = int(rng.integers(5, 13))
        bias = rng.normal(0.0, 0.3, n_annotators)
        p_song1 = 1.0 / (1.0 + np.exp(-((s1 - s2) / CHOICE_TEMPERATURE + bias)))
        votes1 = int((rng.random(n_annotators) < p_song1).sum())
        row = {"triplet_id": t}
        for name, k in (("anchor", ta), ("song1", t1), ("song2", t2)):
            start = float(clip[k]["start_seconds"])
            row.update({f"{name}_id": track_id(int(k)), f"{name}_start_seconds": start,
                        f"{name}_start_samples": int(round(start * SAMPLE_RATE))})
        row.update({"sampling_rate": SAMPLE_RATE, "clip_lengths_seconds": CLIP_SECONDS,
                    "clip_lengths_samples": int(CLIP_SECONDS * SAMPLE_RATE),
                    "song1_vote": votes1, "song2_vote": n_annotators - votes1})
        rows.append(row)
    raw = pd.DataFrame(rows, columns=DIMSIM_COLUMNS)
    agreement = raw[["song1_vote", "song2_vote"]].max(axis=1) / raw[["song1_vote", "song2_vote"]].sum(axis=1)
    clean = raw[agreement >= CLEAN_AGREEMENT].copy()
    clean["song1_vote"], clean["song2_vote"] = (
        (clean["song1_vote"] > clean["song2_vote"]).astype(int),
        (clean["song2_vote"] > clean["song1_vote"]).astype(int))
    return raw, clean.reset_index(drop=True)
