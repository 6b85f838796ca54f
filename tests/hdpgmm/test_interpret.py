"""Component x tag association tables and figure."""

import numpy as np
import pandas as pd

from mirbench.evaluation.interpret import component_tag_scores, plot_component_tags, top_component_tags, wide_table


def _toy():
    rng = np.random.default_rng(0)
    comp = rng.integers(0, 3, size=300)  # each song dominated by one of 3 components
    pi = np.full((300, 4), 0.02)
    pi[np.arange(300), comp] = 0.94
    tags = np.zeros((300, 5), int)
    tags[:, 4] = 1  # a tag every song has
    for k in range(3):
        tags[(comp == k) & (rng.random(300) < 0.8), k] = 1
    return pi, tags, ["rock", "jazz", "pop", "rare", "music"]


def test_scores_equal_weighted_cooccurrence_with_idf():
    pi, tags, _ = _toy()
    raw = component_tag_scores(pi, tags, idf=False)
    # tol: assert_allclose's default rtol 1e-7: float64 GEMM of 300 terms vs numpy's, ~n eps ~ 7e-14 relative
    np.testing.assert_allclose(raw, pi.T @ tags)
    idf = np.log(300) - np.log(tags.sum(0) + 1.0)
    # tol: as above
    np.testing.assert_allclose(component_tag_scores(pi, tags), raw * idf)


def test_top_tags_recover_the_planted_association_and_render():
    pi, tags, names = _toy()
    table = top_component_tags(pi, tags, names, n_components=3, n_tags=2)
    assert list(table.columns) == ["component", "weight", "rank", "tag", "score"]
    first = table[table["rank"] == 1].set_index("component")["tag"].to_dict()
    assert first == {0: "rock", 1: "jazz", 2: "pop"}
    assert "music" not in set(table["tag"])  # idf removes the ubiquitous tag
    wide = wide_table(table)
    assert isinstance(wide, pd.DataFrame) and len(wide) == 3
    fig = plot_component_tags(pi, tags, names, n_components=3, n_tags=2)
    assert len(fig.axes) == 2
