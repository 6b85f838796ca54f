"""2-D projections of test embeddings, the tables' ``kind: function`` plots
(``function(spec, records_df, out_dir, plot) -> list[Path]``).

``tutorial_projections``: the test notes of the tutorial2020 table, coloured by instrument family; one t-SNE panel
per representation -- the standardised raw features (row ``knn``), LDA, LMNN and the deep row with the
best mean test accuracy -- from the ``embeddings_test.npz`` each run writes into its work folder
(:mod:`mirbench.methods.embedding`). The tutorial drew UMAP maps of the same kind; umap is not a
mirbench dependency, t-SNE (scikit-learn) stands in.

``subspace_projections``: the ISMIR 2020 figure (Lee et al.): for each disentangled row, t-SNE of the test
tracks in the complete space beside t-SNE of one category's sub-space, both coloured by that category's tags
(the ``embeddings_test.npz`` of :class:`mirbench.evaluation.lee2020.Lee2020Evaluation`).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.manifold import TSNE  # noqa: E402

from mirbench.bench.figures.runs import (plot_rows, records_profile, row_files, row_label,  # noqa: E402
                                          save_figure)
from mirbench.evaluation.embeddings import EMBEDDINGS_FILE  # noqa: E402

FIXED_PANELS = (("knn", "Raw features (standardised)"), ("lda", "LDA"), ("lmnn", "LMNN"))
LINEAR_ROWS = ("knn", "lda", "nca", "lmnn")


def project_2d(x: np.ndarray, seed: int = 2020) -> np.ndarray:
    """t-SNE to 2-D (perplexity 30, PCA init); inputs of 2 dimensions are returned as they are."""
    x = np.asarray(x, dtype=np.float64)
    if x.shape[1] <= 2:
        return np.pad(x, ((0, 0), (0, 2 - x.shape[1])))
    return TSNE(n_components=2, perplexity=min(30.0, (len(x) - 1) / 3), init="pca", random_state=seed).fit_transform(x)


def best_deep_row(records_df: pd.DataFrame, metric: str = "test/accuracy") -> str | None:
    ok = records_df[(records_df.status == "ok") & (records_df.metric == metric) & ~records_df.row.isin(LINEAR_ROWS)]
    if ok.empty:
        return None
    return str(ok.groupby("row").value.mean().idxmax())


def tutorial_projections(spec, records_df: pd.DataFrame, out_dir: Path, plot=None) -> list[Path]:
    """Draw ``projections.png`` (``projections.<profile>.png`` for another profile) into ``out_dir``."""
    out_dir = Path(out_dir)
    if records_df.empty:
        return []
    profile = records_profile(records_df)
    panels = list(FIXED_PANELS)
    if (deep := best_deep_row(records_df)) is not None:
        label = row_label(spec, deep)
        panels.append((deep, f"Best deep: {label}"))
    drawn = []
    for (row, title), (_, path) in zip(panels, row_files(records_df, out_dir, [r for r, _ in panels], EMBEDDINGS_FILE)):
        if path is None:
            warnings.warn(f"projections: no {EMBEDDINGS_FILE} for row {row!r} under {out_dir / 'work'}; panel left out")
            continue
        data = np.load(path)
        drawn.append((title, project_2d(data["embeddings"]), data["labels"], [str(c) for c in data["class_names"]]))
    if not drawn:
        return []
    fig, axes = plt.subplots(1, len(drawn), figsize=(4.2 * len(drawn), 4.4), squeeze=False)
    cmap = plt.get_cmap("tab10")
    for ax, (title, xy, labels, names) in zip(axes[0], drawn):
        for c in np.unique(labels):
            m = labels == c
            ax.scatter(xy[m, 0], xy[m, 1], s=12, color=cmap(int(c) % 10), label=names[c] if c < len(names) else str(c))
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    return [_save(fig, axes[0][0], f"{spec.title}: t-SNE of the test notes", out_dir, "projections", profile, 10)]


def dominant_tag(tags: np.ndarray, tag_names: np.ndarray, tag_categories: np.ndarray, category: str
                 ) -> tuple[np.ndarray, list[str]]:
    """One colour label per item for a multi-label ``category``: the item's rarest tag of the category
    (its most specific one, e.g. ``jig`` over the umbrella ``dance``); -1 for items without any."""
    cols = np.flatnonzero(np.asarray(tag_categories) == category)
    if len(cols) == 0:
        raise ValueError(f"no tag of category {category!r}; categories: {sorted(set(map(str, tag_categories)))}")
    t = np.asarray(tags, dtype=bool)[:, cols]
    freq = t.sum(0)
    rank = np.where(t, freq[None, :], np.iinfo(np.int64).max)
    label = np.where(t.any(1), rank.argmin(1), -1)
    return label, [str(n) for n in np.asarray(tag_names)[cols]]


def subspace_projections(spec, records_df: pd.DataFrame, out_dir: Path, plot=None,
                         category: str = "genre", max_rows: int = 2) -> list[Path]:
    """Draw ``subspace_projections.png``: per disentangled row (``plot.rows``, default: the first
    ``max_rows`` rows whose runs saved sub-spaces), complete space vs the ``category`` sub-space."""
    out_dir = Path(out_dir)
    if records_df.empty:
        return []
    profile = records_profile(records_df)
    panels = []
    for row, path in row_files(records_df, out_dir, plot_rows(spec, plot), EMBEDDINGS_FILE):
        if path is None:
            continue
        data = np.load(path)
        blocks = json.loads(str(data["subspaces"])) if "subspaces" in data else {}
        if category not in blocks:
            continue
        label, names = dominant_tag(data["tags"], data["tag_names"], data["tag_categories"], category)
        emb = data["embeddings"]
        lo, hi = blocks[category]
        title = row_label(spec, row)
        panels.append((title, project_2d(emb), project_2d(emb[:, lo:hi]), label, names, emb.shape[1], hi - lo))
        if plot is None or not plot.rows:
            if len(panels) == max_rows:
                break
    if not panels:
        warnings.warn(f"projections: no run under {out_dir / 'work'} saved a {category!r} sub-space; plot skipped")
        return []
    fig, axes = plt.subplots(len(panels), 2, figsize=(9, 4.2 * len(panels)), squeeze=False)
    cmap = plt.get_cmap("tab20")
    for (title, full, sub, label, names, dims, width), ax_row in zip(panels, axes):
        for ax, xy, what in ((ax_row[0], full, f"complete space ({dims} dims)"),
                             (ax_row[1], sub, f"{category} sub-space ({width} dims)")):
            m = label < 0
            ax.scatter(xy[m, 0], xy[m, 1], s=8, color="0.8", label=f"no {category} tag")
            for c in np.unique(label[label >= 0]):
                m = label == c
                ax.scatter(xy[m, 0], xy[m, 1], s=10, color=cmap(int(c) % 20), label=names[c])
            ax.set_title(f"{title}: {what}", fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
    title = f"{plot.title if plot is not None and plot.title else spec.id}: t-SNE of the test tracks by {category}"
    return [_save(fig, axes[0][1], title, out_dir, plot.id if plot is not None else "subspace_projections", profile, 6)]


def _save(fig, legend_ax, title: str, out_dir: Path, name: str, profile: str, ncol: int) -> Path:
    """Shared legend under the panels, title, ``<name>[.<profile>].png``."""
    handles, labels = legend_ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), ncol), fontsize=7, frameon=False)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.08, 1, 0.95))
    suffix = "" if profile == "default" else f".{profile}"
    path = out_dir / f"{name}{suffix}.png"
    save_figure(fig, path, dpi=110, pdf=False)
    plt.close(fig)
    return path
