"""The qualitative figure of the Nakatsuka et al. (ISMIR 2024) table, a ``kind: function`` plot
(``function(spec, records_df, out_dir, plot) -> list[Path]``).

``learned_distributions``: for each listed row, the vMF distributions of a few test pieces: the music and
video means of every rendering of those pieces, projected to 2-D by PCA fitted on the drawn means, one
colour per piece, circles for music and triangles for video, a line from each music mean to its paired
video mean, and the marker area proportional to kappa (the concentration; a small marker = a wide, uncertain
distribution). Ambiguous pieces (rendered several times) and unambiguous ones (rendered once) are both
drawn when the build has them. Reads the ``paired_embeddings_test.npz`` that
:class:`mirbench.evaluation.nakatsuka2024.Nakatsuka2024Evaluation` writes into each run's work folder.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from mirbench.bench.figures.runs import (plot_rows, records_profile, row_files, row_label,  # noqa: E402
                                          save_figure)
from mirbench.evaluation.nakatsuka2024 import PAIRED_EMBEDDINGS_FILE  # noqa: E402

MARKER_AREA = (12.0, 260.0)  # points^2 for the smallest / largest kappa drawn


def pick_groups(group: np.ndarray, ambiguous: np.ndarray, n_multi: int = 4, n_single: int = 2,
                seed: int = 0) -> np.ndarray:
    """Group codes to draw: ``n_multi`` pieces with several renderings and ``n_single`` rendered once."""
    rng = np.random.default_rng(seed)
    codes, counts = np.unique(group, return_counts=True)
    multi, single = codes[counts > 1], codes[counts == 1]
    if len(ambiguous) == len(group):  # the build says which items are controls
        single = np.array([c for c in codes if not ambiguous[group == c].any()])
        multi = np.array([c for c in codes if ambiguous[group == c].all()])
    take = [rng.choice(multi, min(n_multi, len(multi)), replace=False) if len(multi) else np.zeros(0, int),
            rng.choice(single, min(n_single, len(single)), replace=False) if len(single) else np.zeros(0, int)]
    return np.concatenate(take).astype(np.int64)


def pca_2d(x: np.ndarray) -> np.ndarray:
    """``(N, D)`` -> ``(N, 2)``: the first two principal components (centred SVD)."""
    x = np.asarray(x, dtype=np.float64)
    x = x - x.mean(0, keepdims=True)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    return x @ vt[:2].T if vt.shape[0] >= 2 else np.pad(x @ vt.T, ((0, 0), (0, 2 - vt.shape[0])))


def _area(kappa: np.ndarray, lo: float, hi: float) -> np.ndarray:
    t = (np.log(kappa) - np.log(lo)) / max(np.log(hi) - np.log(lo), 1e-12) if hi > lo else np.full_like(kappa, 0.5)
    return MARKER_AREA[0] + (MARKER_AREA[1] - MARKER_AREA[0]) * np.clip(t, 0.0, 1.0)


def draw_panel(ax, data, groups: np.ndarray, k_lo: float, k_hi: float, title: str) -> None:
    """One row's panel: the picked pieces' music and video means (PCA), marker area ~ log kappa."""
    sel = np.isin(data["group"], groups)
    xy = pca_2d(np.concatenate([data["music_mu"][sel], data["video_mu"][sel]]))
    n = int(sel.sum())
    m_xy, v_xy = xy[:n], xy[n:]
    g = data["group"][sel]
    cmap = plt.get_cmap("tab10")
    for k, code in enumerate(groups):
        m = g == code
        colour = cmap(k % 10)
        for a, b in zip(m_xy[m], v_xy[m]):
            ax.plot([a[0], b[0]], [a[1], b[1]], color=colour, lw=0.8, alpha=0.6, zorder=1)
        ax.scatter(m_xy[m, 0], m_xy[m, 1], s=_area(data["music_kappa"][sel][m], k_lo, k_hi), marker="o",
                   color=colour, alpha=0.7, edgecolors="k", linewidths=0.4, zorder=2)
        ax.scatter(v_xy[m, 0], v_xy[m, 1], s=_area(data["video_kappa"][sel][m], k_lo, k_hi), marker="^",
                   color=colour, alpha=0.7, edgecolors="k", linewidths=0.4, zorder=2)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("PC 1 of the drawn means", fontsize=8)
    ax.set_ylabel("PC 2 of the drawn means", fontsize=8)
    ax.tick_params(labelsize=7)


def _legend_handles(groups: np.ndarray, data, k_lo: float, k_hi: float) -> list:
    cmap = plt.get_cmap("tab10")
    amb = data["ambiguous"]
    handles = []
    for k, code in enumerate(groups):
        n = int((data["group"] == code).sum())
        kind = ("rendered once" if n == 1 else f"{n} renderings") if len(amb) else f"{n} item(s)"
        handles.append(Line2D([], [], marker="s", ls="", color=cmap(k % 10), label=f"piece {k + 1} ({kind})"))
    handles += [Line2D([], [], marker="o", ls="", color="0.5", mec="k", label="music mean"),
                Line2D([], [], marker="^", ls="", color="0.5", mec="k", label="video mean"),
                Line2D([], [], color="0.5", lw=0.8, label="paired items")]
    for kappa in np.geomspace(k_lo, k_hi, 3):
        size = float(np.sqrt(_area(np.array([kappa]), k_lo, k_hi)[0]))  # Line2D sizes are diameters in points
        handles.append(Line2D([], [], marker="o", ls="", ms=size, mfc="none", mec="k", mew=0.6,
                              label=f"kappa = {kappa:.0f}"))
    return handles


def learned_distributions(spec, records_df: pd.DataFrame, out_dir: Path, plot=None,
                          n_multi: int = 4, n_single: int = 2) -> list[Path]:
    """Draw ``<plot id>.png`` / ``.pdf`` (``<plot id>.<profile>.*`` for another profile) into ``out_dir``."""
    out_dir = Path(out_dir)
    if records_df.empty:
        return []
    profile = records_profile(records_df)
    panels = []
    for row, path in row_files(records_df, out_dir, plot_rows(spec, plot), PAIRED_EMBEDDINGS_FILE):
        if path is None:
            warnings.warn(f"distributions: no {PAIRED_EMBEDDINGS_FILE} for row {row!r} under {out_dir / 'work'}")
            continue
        with np.load(path) as z:
            panels.append((row_label(spec, row), {k: z[k] for k in z.files}))
    if not panels:
        return []
    first = panels[0][1]
    groups = pick_groups(first["group"], first["ambiguous"], n_multi, n_single)
    kappas = np.concatenate([np.concatenate([d["music_kappa"][np.isin(d["group"], groups)],
                                             d["video_kappa"][np.isin(d["group"], groups)]]) for _, d in panels])
    k_lo, k_hi = float(kappas.min()), float(kappas.max())
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels) + 2.4, 4.3), squeeze=False)
    for ax, (label, data) in zip(axes[0], panels):
        draw_panel(ax, data, groups, k_lo, k_hi, label)
    fig.legend(handles=_legend_handles(groups, first, k_lo, k_hi), loc="center right", fontsize=7, frameon=False,
               borderaxespad=0.5, labelspacing=1.1)
    title = plot.title if plot is not None and plot.title else "Learned distributions of test items"
    fig.suptitle(f"{title}: vMF means (PCA of each panel's drawn means), marker area ~ log kappa", fontsize=10,
                 y=0.985)
    fig.tight_layout(rect=(0, 0, 1 - 2.3 / fig.get_figwidth(), 0.97))
    name = plot.id if plot is not None else "distributions"
    suffix = "" if profile == "default" else f".{profile}"
    paths = [out_dir / f"{name}{suffix}.png", out_dir / f"{name}{suffix}.pdf"]
    save_figure(fig, paths[0], dpi=120)
    plt.close(fig)
    return paths
