"""The learned-distribution figure of the Nakatsuka 2024 table, drawn from synthetic run folders."""

from types import SimpleNamespace

import numpy as np
import pandas as pd

from mirbench.evaluation.nakatsuka2024 import PAIRED_EMBEDDINGS_FILE
from mirbench.bench.figures.nakatsuka2024 import learned_distributions, pca_2d, pick_groups


def _write_run(out, row, rng, n_multi=6, n_single=3, d=16):
    group = np.concatenate([np.repeat(np.arange(n_multi), 3), n_multi + np.arange(n_single)])
    n = len(group)
    centre = rng.normal(size=(group.max() + 1, d))[group]
    mu = [c / np.linalg.norm(c, axis=1, keepdims=True) for c in (centre + 0.1 * rng.normal(size=(n, d)),
                                                                  centre + 0.1 * rng.normal(size=(n, d)))]
    path = out / "work" / "default" / f"{row}__seed0" / "lightning_logs" / "version_0" / PAIRED_EMBEDDINGS_FILE
    path.parent.mkdir(parents=True)
    np.savez(path, music_mu=mu[0], video_mu=mu[1], music_kappa=rng.uniform(50, 900, n),
             video_kappa=rng.uniform(50, 900, n), item=np.arange(n), group=group,
             ambiguous=np.concatenate([np.ones(3 * n_multi, bool), np.zeros(n_single, bool)]))


def test_pick_groups_takes_ambiguous_and_single_pieces():
    group = np.array([0, 0, 0, 1, 1, 1, 2, 3])
    ambiguous = np.array([1, 1, 1, 1, 1, 1, 0, 0], bool)
    g = pick_groups(group, ambiguous, n_multi=1, n_single=2)
    assert len(g) == 3 and set(g[:1]) <= {0, 1} and set(g[1:]) == {2, 3}


def test_pca_keeps_the_two_main_directions():
    rng = np.random.default_rng(0)
    x = np.c_[10 * rng.normal(size=50), 3 * rng.normal(size=50), 0.01 * rng.normal(size=(50, 5))]
    xy = pca_2d(x)
    assert xy.shape == (50, 2) and xy[:, 0].var() > xy[:, 1].var() > 1.0


def test_learned_distributions_writes_png_and_pdf(tmp_path):
    rng = np.random.default_rng(0)
    for row in ("a", "b"):
        _write_run(tmp_path, row, rng)
    spec = SimpleNamespace(rows=[SimpleNamespace(id="a", label="Row A"), SimpleNamespace(id="b", label="Row B")])
    records = pd.DataFrame({"row": ["a", "b"], "seed": [0, 0], "status": ["ok", "ok"], "profile": ["default"] * 2})
    plot = SimpleNamespace(id="distributions", rows=("a", "b"), title="Learned distributions")
    paths = learned_distributions(spec, records, tmp_path, plot)
    assert [p.name for p in paths] == ["distributions.png", "distributions.pdf"]
    assert all(p.stat().st_size > 0 for p in paths)
    assert learned_distributions(spec, records.iloc[:0], tmp_path, plot) == []
