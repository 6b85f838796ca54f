"""The ISMIR 2020 projection figure: embeddings saved by the evaluation, coloured by a category's rarest tag."""

from types import SimpleNamespace

import numpy as np
import pandas as pd

from mirbench.data.base import DataInfo
from mirbench.evaluation.embeddings import EMBEDDINGS_FILE
from mirbench.evaluation.lee2020 import save_embeddings
from mirbench.bench.figures.projections import dominant_tag, subspace_projections

INFO = DataInfo(tag_names=("dance", "jig", "reel", "minor", "violin"),
                tag_categories=("genre", "genre", "genre", "mood", "instrument"),
                categories=("genre", "mood", "instrument", "era"))


def test_dominant_tag_is_the_rarest_of_the_category():
    tags = np.array([[1, 1, 0, 1, 0],   # dance + jig: jig (rarer)
                     [1, 0, 1, 0, 1],   # dance + reel: reel
                     [1, 0, 0, 0, 0],   # dance only
                     [0, 0, 0, 1, 1]], dtype=bool)  # no genre tag
    label, names = dominant_tag(tags, np.array(INFO.tag_names), np.array(INFO.tag_categories), "genre")
    assert names == ["dance", "jig", "reel"]
    assert label.tolist() == [1, 2, 0, -1]


def test_subspace_projections_reads_saved_embeddings(tmp_path):
    rng = np.random.default_rng(0)
    n = 40
    tags = np.zeros((n, 5), dtype=bool)
    tags[:, 0] = True
    tags[: n // 2, 1] = True
    tags[n // 2:, 2] = True
    emb = rng.normal(size=(n, 8)).astype(np.float32)
    emb[: n // 2, :2] += 5.0  # the genre block (dims 0-1) separates jig from reel
    work = tmp_path / "work" / "default" / "triplet_disent__seed0" / "lightning_logs" / "version_0"
    save_embeddings(work / EMBEDDINGS_FILE, emb, tags, INFO, {"genre": slice(0, 2), "mood": slice(2, 4)})
    saved = np.load(work / EMBEDDINGS_FILE)
    assert saved["embeddings"].shape == (n, 8) and saved["tags"].dtype == bool
    records = pd.DataFrame({"row": ["triplet_disent", "proxy"], "seed": [0, 0], "status": ["ok", "ok"],
                            "profile": ["default", "default"]})
    spec = SimpleNamespace(id="ismir2020", rows=[SimpleNamespace(id="triplet_disent", label="Triplet (disent.)")])
    plot = SimpleNamespace(id="subspace_projections", title="Complete vs sub-space", rows=("triplet_disent", "proxy"))
    paths = subspace_projections(spec, records, tmp_path, plot)
    assert [p.name for p in paths] == ["subspace_projections.png"] and paths[0].stat().st_size > 5000
