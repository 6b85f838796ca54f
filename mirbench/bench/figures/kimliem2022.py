"""Figures and side tables of the Kim & Liem (ISMIR 2022) tables, the specs' ``kind: function`` plots
(``function(spec, records_df, out_dir, plot) -> list[Path]``).

- :func:`component_tags`: what the HDPGMM components mean (paper Sec. 5): the top tags of the heaviest
  components from the song-component matrix a run saved (``song_components.npz``,
  :class:`mirbench.evaluation.kimliem2022.KimLiem2022Evaluation`), as ``component_tags.md``/``.csv`` and a heat map.
- :func:`published_vs_ours`: Table 4's published scores beside ours, per column.
Ours carry the tables' 95 % intervals (:func:`cell_intervals`), the published values their SD over runs.
- :func:`figure3`: the ablations (eta0 sweep, corpus size) beside the published Figure 3 numbers
  (:data:`FIGURE3`). Rows are read by id: ``eta_<value>`` (splash eta0) and ``size_<percent>`` (share of the
  train songs).
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from mirbench.evaluation.interpret import plot_component_tags, top_component_tags  # noqa: E402
from mirbench.bench.figures.runs import (plot_rows, records_profile, row_files, row_label,  # noqa: E402
                                          save_figure)
from mirbench.evaluation.kimliem2022 import RESPONSIBILITIES_FILE  # noqa: E402

# Table-4 column -> (metric, the paper's data set, our stand-in for it): panels and axes name both.
COLUMNS = {"echonest_ndcg500": ("nDCG@500", "Echonest", "simulated listening log"),
           "gtzan_macro_f1": ("macro-F1", "GTZAN", "corpus genres"),
           "mtat_macro_auroc": ("macro ROC-AUC", "MTAT", "corpus tags")}
OURS = "ours (corpus, ± 95 % interval)"
PUBLISHED = "published (MSD, ± SD over runs)"
# Figure 3 of Kim & Liem (HDPGMM ablations): (mean, sample SD) per setting, recomputed from the authors'
# results_agg.csv (docs/protocols.md#kim-published; tested on <shared data>/published/hdpgmm2022_runs.csv).
FIGURE3 = {
    "eta": {  # eta0 on the full 213k MSD corpus, n = 15 each
        1e-4: {"echonest_ndcg500": (0.0159, 0.0014), "gtzan_macro_f1": (0.5768, 0.0158), "mtat_macro_auroc": (0.8207, 0.0038)},
        1e-3: {"echonest_ndcg500": (0.0181, 0.0005), "gtzan_macro_f1": (0.5760, 0.0213), "mtat_macro_auroc": (0.8304, 0.0033)},
        1e-2: {"echonest_ndcg500": (0.0211, 0.0006), "gtzan_macro_f1": (0.6023, 0.0144), "mtat_macro_auroc": (0.8415, 0.0019)},
        1e-1: {"echonest_ndcg500": (0.0221, 0.0006), "gtzan_macro_f1": (0.6467, 0.0069), "mtat_macro_auroc": (0.8482, 0.0020)},
    },
    "size": {  # training songs at eta0 = 0.1: 2k and 20k (5 random subsets, n = 75), 213k (n = 15)
        2000: {"echonest_ndcg500": (0.0206, 0.0010), "gtzan_macro_f1": (0.6126, 0.0211), "mtat_macro_auroc": (0.8301, 0.0046)},
        20000: {"echonest_ndcg500": (0.0192, 0.0008), "gtzan_macro_f1": (0.6219, 0.0154), "mtat_macro_auroc": (0.8390, 0.0025)},
        213354: {"echonest_ndcg500": (0.0221, 0.0006), "gtzan_macro_f1": (0.6467, 0.0069), "mtat_macro_auroc": (0.8482, 0.0020)},
    },
}
N_TOP_COMPONENTS = 20
N_TOP_TAGS = 5


def _suffix(profile: str) -> str:
    return "" if profile == "default" else f".{profile}"


def component_tag_table(path: str | Path, n_components: int = N_TOP_COMPONENTS, n_tags: int = N_TOP_TAGS
                        ) -> pd.DataFrame:
    """One line per component: ``component, weight, share_of_songs, top_tags`` (``tag (category)``, by idf-weighted
    association over all songs), heaviest components first."""
    d = np.load(path)
    names = [f"{t} ({c})" if c else str(t) for t, c in zip(d["tag_names"], d["tag_categories"])]
    long = top_component_tags(d["song_comp"], d["tags"], names, n_components, n_tags)
    dominant = np.bincount(d["song_comp"].argmax(1), minlength=d["song_comp"].shape[1])
    rows = []
    for k, g in long.groupby("component", sort=False):
        rows.append({"component": int(k), "weight": float(g.weight.iloc[0]),
                     "songs_dominated": int(dominant[k]), "top_tags": ", ".join(g.sort_values("rank").tag)})
    return pd.DataFrame(rows).sort_values("weight", ascending=False).reset_index(drop=True)


def component_tags(spec, records_df: pd.DataFrame, out_dir: Path, plot=None) -> list[Path]:
    """``component_tags[.<profile>].{md,csv,png}`` from the first HDPGMM row's saved song-component matrix."""
    from mirbench.bench.tables import md_table

    out_dir, profile = Path(out_dir), records_profile(records_df)
    found = row_files(records_df, out_dir, plot_rows(spec, plot), RESPONSIBILITIES_FILE)
    used, path = next(((row, p) for row, p in found if p is not None), (None, None))
    if path is None:
        warnings.warn(f"component_tags: no {RESPONSIBILITIES_FILE} under {out_dir / 'work' / profile}; skipped")
        return []
    table = component_tag_table(path)
    name = plot.id if plot is not None else "component_tags"
    sfx = _suffix(profile)
    csv, md, png = (out_dir / f"{name}{sfx}.{ext}" for ext in ("csv", "md", "png"))
    table.to_csv(csv, index=False)
    label = row_label(spec, used)
    body = [[str(r.component), f"{r.weight:.3f}", str(r.songs_dominated), r.top_tags] for r in table.itertuples()]
    md.write_text(f"# {label}: top tags of the {len(table)} heaviest components\n\n"
                  f"From `{path.relative_to(out_dir).as_posix()}` (work folder, not committed). weight = the component's share of all songs' "
                  "mean responsibilities; songs dominated = songs whose largest responsibility it holds; "
                  "top tags by the idf-weighted song-component x tag association (mirbench.evaluation.interpret).\n\n"
                  + md_table(["component", "weight", "songs dominated", "top tags (category)"], body) + "\n")
    d = np.load(path)
    fig = plot_component_tags(d["song_comp"], d["tags"], list(d["tag_names"]), N_TOP_COMPONENTS, N_TOP_TAGS)
    fig.axes[0].set_title((plot.title if plot is not None and plot.title else "HDPGMM components") + f"\n({label})",
                          fontsize=9)
    save_figure(fig, png, dpi=110, pdf=False, bbox_inches="tight")
    plt.close(fig)
    return [csv, md, png]


def _save(fig, handles, labels, spec, plot, default_id: str, profile: str, out_dir: Path, margin: float) -> Path:
    """Shared legend below the panels, the plot's title, ``<plot id>[.<profile>].png`` (and ``.pdf``); closes the
    figure."""
    fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=8, frameon=False)
    fig.suptitle(plot.title if plot is not None and plot.title else spec.title, fontsize=9)
    fig.tight_layout(rect=(0, margin, 1, 1 - margin))
    path = save_figure(fig, Path(out_dir) / f"{plot.id if plot is not None else default_id}{_suffix(profile)}.png",
                       dpi=110)
    plt.close(fig)
    return path


def cell_intervals(spec, records_df: pd.DataFrame, results_root: Path) -> dict[tuple[str, str], tuple[float, float]]:
    """``{(row, column): (mean, half)}``: the table's cells and 95 % half-widths (:func:`mirbench.bench.compare.aggregate`
    with the bootstrap replicates recorded under ``results_root``; seeds only where a run has none; half 0 where
    a cell has no interval), so a figure's error bars are the table's."""
    from mirbench.bench.compare import aggregate
    from mirbench.bench.records import RunRecord, records_replicates

    ok = records_df[(records_df.status == "ok") & (records_df.metric != "")]
    records = [RunRecord(spec.id, str(row), int(seed), str(g.profile.iloc[0]),
                         metrics=dict(zip(g.metric, g.value.astype(float))))
               for (row, seed), g in ok.groupby(["row", "seed"], sort=True)]
    replicates, _ = records_replicates(records, results_root)
    agg = aggregate(spec, records, replicates)
    return {(r.row, r.column): (float(r.mean), float(np.nan_to_num(r.half))) for r in agg.itertuples()}


def published_vs_ours(spec, records_df: pd.DataFrame, out_dir: Path, plot=None) -> list[Path]:
    """One column of panels per Table-4 column: ours (corpus stand-in, mean over trials ± the table's 95 % interval)
    on top, the published numbers (MSD-trained, ± their SD) below, each panel on its own labelled axis (the scales
    are not comparable; the orderings are), points rather than bars so no axis has to start at zero."""
    from mirbench.bench.compare import load_reference

    out_dir, profile = Path(out_dir), records_profile(records_df)
    ref = load_reference(spec.published, spec, None) if spec.published and Path(spec.published).is_file() else None
    cells = cell_intervals(spec, records_df, out_dir.parent)
    cols = [c for c in spec.columns if c.id in COLUMNS]
    rows = [r for r in spec.rows if not r.runs_from]
    fig, axes = plt.subplots(2, len(cols), figsize=(4.2 * len(cols), 5.8), squeeze=False, sharex=True)
    x = np.arange(len(rows))
    for j, col in enumerate(cols):
        metric, paper_data, our_data = COLUMNS[col.id]
        ours = [cells.get((r.id, col.id), (np.nan, 0.0)) for r in rows]
        pub = [_published(ref, r.id, col.id) for r in rows]
        for ax, vals, color, marker, who, ylabel in (
                (axes[0][j], ours, "tab:blue", "o", OURS, f"ours: {our_data}"),
                (axes[1][j], pub, "tab:orange", "s", PUBLISHED, f"published: {paper_data}")):
            ax.errorbar(x, [v[0] for v in vals], yerr=[v[1] for v in vals], fmt=marker, color=color, capsize=3,
                        label=who)
            ax.set_ylabel(f"{ylabel}\n({metric})", color=color, fontsize=8)
            ax.tick_params(axis="y", labelsize=7)
            _tight(ax, vals)
            ax.grid(alpha=0.3)
        axes[0][j].set_title(f"{metric}: ours on the {our_data}, the paper on {paper_data}", fontsize=8)
        axes[1][j].set_xticks(x, [r.label.split(" (")[0] for r in rows], fontsize=7)  # short names: no rotation
    handles = [axes[0][0].get_legend_handles_labels(), axes[1][0].get_legend_handles_labels()]
    return [_save(fig, handles[0][0] + handles[1][0], handles[0][1] + handles[1][1], spec, plot, "published_vs_ours",
                  profile, out_dir, margin=0.05)]


def _published(ref, row: str, column: str) -> tuple[float, float]:
    if ref is None or ref.empty:
        return np.nan, 0.0
    m = ref[(ref.row == row) & (ref.column == column)]
    if m.empty:
        return np.nan, 0.0
    return float(m.value.iloc[0]), float(m.tol_abs.iloc[0] or 0.0)  # the CSV's tol_abs is the published SD


def _tight(ax, points) -> None:
    """Y limits around ``(value, half)`` points, error bars included, with a margin; never below 0."""
    v = np.asarray([(m - h, m + h) for m, h in points if np.isfinite(m)])
    if len(v):
        lo, hi = v[:, 0].min(), v[:, 1].max()
        pad = max(hi - lo, 0.05 * abs(hi), 1e-4) * 0.15
        ax.set_ylim(max(lo - pad, 0.0), hi + pad)


_ETA = re.compile(r"^eta_(.+)$")
_SIZE = re.compile(r"^size_(\d+)$")


def ablation_rows(spec) -> dict[str, list[tuple[float, str]]]:
    """``{"eta": [(eta0, row id)], "size": [(percent, row id)]}`` from the row ids, sorted by value."""
    out: dict[str, list[tuple[float, str]]] = {"eta": [], "size": []}
    for r in spec.rows:
        if m := _ETA.match(r.id):
            out["eta"].append((float(m.group(1)), r.id))
        elif m := _SIZE.match(r.id):
            out["size"].append((float(m.group(1)), r.id))
    return {k: sorted(v) for k, v in out.items()}


# (knob, our x axis, the paper's x axis) of the two Figure-3 studies
KNOBS = {"eta": ("splash eta0", "splash eta0 (ours: all corpus train songs)", "splash eta0 (paper: 213k MSD songs)"),
         "size": ("training songs", "share of our corpus train songs (eta0 = 0.1)",
                  "MSD training songs (paper, eta0 = 0.1)")}


def figure3(spec, records_df: pd.DataFrame, out_dir: Path, plot=None) -> list[Path]:
    """The eta0 sweep and the corpus-size study (paper Figure 3) x the three columns: for each, ours (corpus
    stand-in, ± the table's 95 % interval) in one panel and the published Figure 3 (MSD, ± SD) in the panel below,
    each on its own labelled axes (no twin axes; ours on the corpus' songs, the paper's on MSD counts)."""
    out_dir, profile = Path(out_dir), records_profile(records_df)
    abl = ablation_rows(spec)
    cells = cell_intervals(spec, records_df, out_dir.parent)
    cols = [c for c in spec.columns if c.id in COLUMNS]
    fig, axes = plt.subplots(4, len(cols), figsize=(4.4 * len(cols), 12.5), squeeze=False)
    for i, (kind, (knob, ours_x, paper_x)) in enumerate(KNOBS.items()):
        pub = FIGURE3[kind]
        for j, col in enumerate(cols):
            metric, paper_data, our_data = COLUMNS[col.id]
            ax, axp = axes[2 * i][j], axes[2 * i + 1][j]
            pts = [(x, cells.get((r, col.id), (np.nan, 0.0))) for x, r in abl[kind]]
            px = np.array(sorted(pub))
            if kind == "eta":
                xs, pxs = np.array([p[0] for p in pts]), px
                for a in (ax, axp):
                    a.set_xscale("log")
            else:  # ours: shares of the corpus' train songs; the paper: MSD song counts (no common axis)
                xs, pxs = np.arange(len(pts)), np.arange(len(px))
                ax.set_xticks(xs, [f"{p[0]:.0f} %" for p in pts], fontsize=7)
                axp.set_xticks(pxs, [f"{int(x):,}" for x in px], fontsize=7)
            if pts:
                ax.errorbar(xs, [p[1][0] for p in pts], yerr=[p[1][1] for p in pts], marker="o", color="tab:blue",
                            capsize=3, label=OURS)
                _tight(ax, [p[1] for p in pts])
            axp.errorbar(pxs, [pub[x][col.id][0] for x in px], yerr=[pub[x][col.id][1] for x in px], marker="s",
                         ls="--", color="tab:orange", capsize=3, label=PUBLISHED)
            _tight(axp, [pub[x][col.id] for x in px])
            ax.set_title(f"ours: {metric} on the {our_data} vs {knob}", fontsize=8)
            axp.set_title(f"paper: {metric} on {paper_data} vs {knob}", fontsize=8)
            for a, who, color, xlabel in ((ax, "ours", "tab:blue", ours_x), (axp, "published", "tab:orange", paper_x)):
                a.set_ylabel(f"{who} ({metric})", color=color, fontsize=8)
                a.set_xlabel(xlabel, fontsize=7)
                a.tick_params(axis="y", labelsize=7)
                a.grid(alpha=0.3)
    h1, l1 = axes[0][0].get_legend_handles_labels()
    h2, l2 = axes[1][0].get_legend_handles_labels()
    return [_save(fig, h1 + h2, l1 + l2, spec, plot, "figure3", profile, out_dir, margin=0.03)]


ABLATIONS_TABLE = "hdpgmm2022_ablations"


def figure3_of_ablations(spec, records_df: pd.DataFrame, out_dir: Path, plot=None) -> list[Path]:
    """:func:`figure3` drawn into this table's folder from the runs recorded for the sibling table
    ``hdpgmm2022_ablations`` under the same profile (``make table-hdpgmm2022_ablations`` makes them; the
    repository ships them), so ``make table-hdpgmm2022`` shows Table 4 with both of the paper's figures; drawn with
    the ablation table's plot spec, so it is the same file as ``results/hdpgmm2022_ablations/figure3.png``."""
    from mirbench.bench.records import load_records, records_frame
    from mirbench.bench.spec import load_spec

    profile = records_profile(records_df)
    ablations = load_spec(ABLATIONS_TABLE)
    records = [r for r in load_records(ablations.id, profile, Path(out_dir).parent) if r.ok]
    if not records:
        warnings.warn(f"figure3: no {ABLATIONS_TABLE} runs under profile {profile!r} in {Path(out_dir).parent}; "
                      f"`make table-{ABLATIONS_TABLE}` records them; skipped")
        return []
    # the ablation table's own plot (its title too), so both tables' figure3.png are one picture, byte for byte
    own = next((p for p in ablations.plots if p.id == "figure3"), plot)
    return figure3(ablations, records_frame(records), out_dir, own)
