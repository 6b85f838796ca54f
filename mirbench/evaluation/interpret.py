"""What the HDPGMM components mean (Kim & Liem, ISMIR 2022, Sec. 5 / eldrin/hdpgmm-music-experiments
``scripts/extract_topic_terms.py``): associate each corpus component with tags through the
song-component matrix.

``F = Pi' Y`` (components x tags) with ``Pi`` ``(J, K)`` the songs' component weights (rows summing
to 1, e.g. mean E-step responsibilities) and ``Y`` ``(J, V)`` binary song tags; each column is
weighted by the tag's inverse document frequency ``log J - log(n_t + 1)`` so that ubiquitous tags do
not top every component. The components with the largest total weight ``sum_j Pi_jk`` are reported
with their top tags, as a table and a heat-map figure.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from scipy import sparse as sp


def component_tag_scores(song_comp: np.ndarray, tags, idf: bool = True) -> np.ndarray:
    """Association ``(K, V)`` of components and tags: ``Pi' Y``, columns times idf when ``idf``."""
    y = sp.csr_matrix(tags, dtype=np.float64)
    y.data[:] = 1.0
    scores = np.asarray((y.T @ np.asarray(song_comp, dtype=np.float64)).T)
    if idf:
        n_docs = y.shape[0]
        scores = scores * (np.log(n_docs) - np.log(np.asarray(y.sum(0)).ravel() + 1.0))
    return scores


def top_component_tags(
    song_comp: np.ndarray,
    tags,
    tag_names: Sequence[str],
    n_components: int = 20,
    n_tags: int = 5,
    idf: bool = True,
) -> pd.DataFrame:
    """Long table ``component, weight, rank, tag, score`` for the ``n_components`` heaviest components."""
    scores = component_tag_scores(song_comp, tags, idf)
    weight = np.asarray(song_comp).sum(0)
    rows = []
    for k in np.argsort(-weight, kind="stable")[:n_components]:
        order = np.argsort(-scores[k], kind="stable")[:n_tags]
        for rank, t in enumerate(order):
            rows.append({"component": int(k), "weight": float(weight[k] / weight.sum()), "rank": rank + 1,
                         "tag": tag_names[t], "score": float(scores[k, t])})
    return pd.DataFrame(rows)


def wide_table(table: pd.DataFrame) -> pd.DataFrame:
    """One row per component: ``component, weight, tags`` (top tags joined by ', '), as in the paper's table."""
    g = table.sort_values(["component", "rank"]).groupby("component", sort=False)
    out = g.agg(weight=("weight", "first"), tags=("tag", ", ".join)).reset_index()
    return out.sort_values("weight", ascending=False).reset_index(drop=True)


def plot_component_tags(song_comp: np.ndarray, tags, tag_names: Sequence[str], n_components: int = 20,
                        n_tags: int = 5, idf: bool = True):
    """Heat map (matplotlib ``Figure``): top components (rows) x the union of their top tags (columns),
    each row scaled to its maximum."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    table = top_component_tags(song_comp, tags, tag_names, n_components, n_tags, idf)
    comps = list(dict.fromkeys(table["component"]))
    cols = list(dict.fromkeys(table["tag"]))
    index = {t: i for i, t in enumerate(tag_names)}
    scores = component_tag_scores(song_comp, tags, idf)[np.ix_(comps, [index[t] for t in cols])]
    scores = scores / np.maximum(np.abs(scores).max(1, keepdims=True), 1e-12)
    fig, ax = plt.subplots(figsize=(0.35 * len(cols) + 2.5, 0.3 * len(comps) + 1.5))
    im = ax.imshow(scores, aspect="auto", cmap="viridis")
    ax.set_xticks(range(len(cols)), cols, rotation=90, fontsize=7)
    ax.set_yticks(range(len(comps)), [f"k={k}" for k in comps], fontsize=7)
    ax.set_xlabel("tag")
    ax.set_ylabel("component (by corpus weight)")
    fig.colorbar(im, ax=ax, fraction=0.03, label="idf-weighted association (row-scaled)")
    fig.tight_layout()
    return fig
