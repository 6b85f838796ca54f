"""``mirbench prepare gtzan --root <gtzan_mini rewritten as .wav>`` then a GTZAN genre probe, end to end.

The probe is Kim & Liem's G1 representation (per-track mean and std of the 52-d frames, 104-d)
with StandardScaler + LogisticRegression, fitted on train+valid and scored on test. It runs on the
GTZAN datamodule's arrays; the published protocol itself lives in mirbench.evaluation.
"""

import json

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mirbench.audio.cache import FeatureCache
from mirbench.data import commands
from mirbench.data.gtzan import GENRES, GTZANDataModule, export_layout

PER_GENRE = 4  # 40 real excerpts keep the test short; benchmarks/perf runs all 100


@pytest.fixture(scope="module")
def wav_root(shared_data, tmp_path_factory):
    src = tmp_path_factory.mktemp("mini_subset")
    for genre in GENRES:
        for p in sorted((shared_data / "gtzan_mini" / "genres" / genre).glob("*.flac"))[:PER_GENRE]:
            (src / "genres" / genre).mkdir(parents=True, exist_ok=True)
            (src / "genres" / genre / p.name).write_bytes(p.read_bytes())
    root = tmp_path_factory.mktemp("gtzan_wav")
    export_layout(src, root, "wav")
    # a corrupt excerpt in the real naming: listed in the report, skipped
    (root / "genres" / "rock" / "rock.00099.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    return root


@pytest.fixture(scope="module")
def prepared(wav_root, tmp_path_factory, monkeypatch_module):
    data = tmp_path_factory.mktemp("mirbench_data")
    monkeypatch_module.setenv("MIRBENCH_DATA", str(data))  # not used: the cache follows --root
    rc = commands.main(["prepare", "gtzan", "--root", str(wav_root), "--workers", "2", "--no-progress"])
    assert rc == 0
    assert not (data / "gtzan").exists()
    return wav_root / "features" / "frames_kim2022"


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def test_prepare_report_and_resume(prepared, wav_root, capsys):
    report = json.loads((prepared / "report.json").read_text())
    assert (report["computed"], report["failed"], report["total"]) == (10 * PER_GENRE, 1, 10 * PER_GENRE + 1)
    assert report["failures"][0]["item_id"] == "rock.00099" and "rock.00099.wav" in report["failures"][0]["path"]
    cache = FeatureCache(prepared)
    x = cache.load("blues.00000")
    assert x.shape == (1293, 52) and x.dtype == np.float32
    rc = commands.main(["prepare", "gtzan", "--root", str(wav_root), "--workers", "2", "--no-progress", "--strict"])
    assert rc == 1  # --strict: the corrupt file still fails
    again = json.loads((prepared / "report.json").read_text())
    assert (again["computed"], again["cached"], again["failed"]) == (0, 10 * PER_GENRE, 1)
    assert "already cached" in capsys.readouterr().out


def test_datamodule_batches(prepared, wav_root):
    dm = GTZANDataModule(root=str(wav_root), split="stratified", batch_size=8)
    batch = next(iter(dm.train_dataloader()))
    assert batch["x"].shape == (8, 129, 52) and batch["label"].shape == (8,) and batch["track"].shape == (8,)
    with pytest.warns(UserWarning, match="no cached features"):  # the corrupt rock.00099 is named
        test = list(dm.test_dataloader())
        n_tracks = len(dm.split_rows("test"))
    n_segments = sum(len(b["track"]) for b in test)
    assert n_segments == n_tracks * (1293 // 129)  # all non-overlapping 3-s segments of every test track
    assert dm.data_info.input_shape == (129, 52)


def test_genre_probe_end_to_end(prepared, wav_root):
    dm = GTZANDataModule(root=str(wav_root), split="stratified", seed=0)
    with pytest.warns(UserWarning, match="rock.00099|1 of 11 items"):  # the corrupt excerpt is named
        (xtr, ytr, _), (xva, yva, _), (xte, yte, _) = [dm.summary_arrays(s) for s in ("train", "valid", "test")]
    assert xtr.shape[1] == 104  # G1: mean and std of 52-d frames
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=20000)).fit(np.r_[xtr, xva], np.r_[ytr, yva])
    pred = clf.predict(xte)
    assert len(pred) == len(yte) == 10
    assert f1_score(yte, pred, average="macro") >= 0.0 and (pred == yte).mean() > 0.1  # above chance (10 genres)


def test_prepare_corpus_is_forwarded(monkeypatch):
    import sys
    import types

    seen = []
    fake = types.ModuleType("mirbench.data.corpus.prepare")
    fake.main = lambda argv: seen.append(argv) or 0
    monkeypatch.setitem(sys.modules, "mirbench.data.corpus.prepare", fake)
    assert commands.main(["prepare", "corpus", "--n", "3"]) == 0 and seen == [["--n", "3"]]
    with pytest.raises(SystemExit):
        commands.main(["prepare", "nope"])
    assert commands.main(["frobnicate"]) == 2
