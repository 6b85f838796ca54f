"""2-D projections of the test notes of the tutorial2020 table, coloured by instrument family.

``tutorial_projections(spec, records_df, out_dir)`` is the spec's ``kind: function`` plot: one t-SNE panel
per representation -- the standardised raw features (row ``knn``), LDA, LMNN and the deep row with the
best mean test accuracy -- from the ``embeddings_test.npz`` each run writes into its work folder
(:mod:`mirbench.methods.embedding`). The tutorial drew UMAP maps of the same kind; umap is not a
mirbench dependency, t-SNE (scikit-learn) stands in.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.manifold import TSNE  # noqa: E402

from mirbench.methods.embedding import EMBEDDINGS_FILE  # noqa: E402

FIXED_PANELS = (("knn", "Raw features (standardised)"), ("lda", "LDA"), ("lmnn", "LMNN"))
LINEAR_ROWS = ("knn", "lda", "nca", "lmnn")


def project_2d(x: np.ndarray, seed: int = 2020) -> np.ndarray:
    """t-SNE to 2-D (perplexity 30, PCA init); inputs of 2 dimensions are returned as they are."""
    x = np.asarray(x, dtype=np.float64)
    if x.shape[1] <= 2:
        return np.pad(x, ((0, 0), (0, 2 - x.shape[1])))
    return TSNE(n_components=2, perplexity=min(30.0, (len(x) - 1) / 3), init="pca", random_state=seed).fit_transform(x)


def find_embeddings(out_dir: Path, profile: str, row: str, seed: int) -> Path | None:
    """The test embeddings of one run (in-process runs: the work folder; subprocess runs: its ``test/``)."""
    work = Path(out_dir) / "work" / profile / f"{row}__seed{seed}"
    hits = sorted(work.rglob(EMBEDDINGS_FILE)) if work.is_dir() else []
    return hits[0] if hits else None


def best_deep_row(records_df: pd.DataFrame, metric: str = "test/accuracy") -> str | None:
    ok = records_df[(records_df.status == "ok") & (records_df.metric == metric) & ~records_df.row.isin(LINEAR_ROWS)]
    if ok.empty:
        return None
    return str(ok.groupby("row").value.mean().idxmax())


def tutorial_projections(spec, records_df: pd.DataFrame, out_dir: Path) -> list[Path]:
    """Draw ``projections.png`` (``projections.<profile>.png`` for another profile) into ``out_dir``."""
    out_dir = Path(out_dir)
    if records_df.empty:
        return []
    profile = str(records_df.profile.iloc[0])
    panels = list(FIXED_PANELS)
    if (deep := best_deep_row(records_df)) is not None:
        label = next((r.label for r in spec.rows if r.id == deep), deep)
        panels.append((deep, f"Best deep: {label}"))
    drawn = []
    for row, title in panels:
        seeds = sorted(records_df[(records_df.row == row) & (records_df.status == "ok")].seed.unique())
        path = next((p for s in seeds if (p := find_embeddings(out_dir, profile, row, int(s))) is not None), None)
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
    handles, names = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=min(len(names), 10), fontsize=8, frameon=False)
    fig.suptitle(f"{spec.title}: t-SNE of the test notes", fontsize=10)
    fig.tight_layout(rect=(0, 0.07, 1, 0.95))
    suffix = "" if profile == "default" else f".{profile}"
    path = out_dir / f"projections{suffix}.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return [path]
