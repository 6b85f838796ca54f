"""The Kim & Liem 2022 table on the paper's data (the `real` profile of benchmarks/tables/hdpgmm2022.yaml), on
small copies in the published layouts (:mod:`real_roots`): learning on MSD previews, genre on the real GTZAN-mini
excerpts with the real fault-filtered split lists, tags on MTAT clips of the real split, recommendation on a Taste
Profile over the MSD tracks; features cached by ``mirbench prepare <id> --feature frames_kim2022``."""

import dataclasses
import os

import numpy as np
import pytest
from real_roots import write_echonest_root, write_gtzan_root, write_msd_root, write_mtat_root

from mirbench.audio.decode import load_audio
from mirbench.bench.execute import resolve_config
from mirbench.bench.spec import load_spec
from mirbench.data.gtzan import GENRES
from mirbench.data.msd_songs import MSDSongsDataModule
from mirbench.data.splits import mtat_split
from mirbench.evaluation.downstream import RealDownstream


@pytest.fixture(scope="module")
def real_data(shared_data, tmp_path_factory):
    from mirbench.data import commands

    data = tmp_path_factory.mktemp("data")
    msd = write_msd_root(shared_data, data)
    write_gtzan_root(shared_data, data)
    write_mtat_root(shared_data, data)
    write_echonest_root(data, msd["train"] + msd["test"])
    old = os.environ.get("MIRBENCH_DATA")
    os.environ["MIRBENCH_DATA"] = str(data)  # echonest finds the MSD id -> 7digital maps under DATA/msd_lastfm
    try:
        for dataset in ("msd_lastfm", "gtzan", "mtat", "echonest"):
            extra = ["--audio-root", str(msd["root"] / "audio")] if dataset == "echonest" else []
            rc = commands.main(["prepare", dataset, "--feature", "frames_kim2022", "--workers", "1", "--no-progress",
                                *extra])
            assert rc == 0, dataset
    finally:
        os.environ.pop("MIRBENCH_DATA") if old is None else os.environ.__setitem__("MIRBENCH_DATA", old)
    return {**msd, "data": data}


def test_real_downstream_reads_gtzan_mtat_and_echonest(real_data, shared_data):
    real = RealDownstream(gtzan_root=str(real_data["data"] / "gtzan"), mtat_root=str(real_data["data"] / "mtat"),
                          echonest_root=str(real_data["data"] / "echonest"))
    parts = real.load("frames52")
    g = parts["genre"]
    # the real fault-filtered lists name 40 / 49 / 4 of the GTZAN-mini excerpts
    assert [int((g.split == s).sum()) for s in ("train", "valid", "test")] == [40, 49, 4]
    assert [GENRES[k] for k in g.labels] == [t.split(".")[0] for t in g.songs.ids]
    assert g.songs[0].shape[1] == 52 and g.songs[0].shape[0] > 1200  # 30 s at 43 frames/s
    t = parts["tags"]
    lists = mtat_split(real_data["data"] / "mtat" / "MTAT_split")
    assert [int((t.split == s).sum()) for s in ("train", "valid", "test")] == [len(lists[s]) for s in lists]
    y_valid = np.load(shared_data / "splits" / "MTAT_split" / "y_valid_pub.npy")
    np.testing.assert_array_equal(t.tags[t.split == "valid"], y_valid[16:24])  # rows 16.. of the fixture
    assert t.tags.shape[1] == len(t.tag_names) == 50
    r = parts["recommendation"]
    assert r.plays.shape[1] == len(r.songs) == len(real_data["train"] + real_data["test"]) - 1  # mismatch dropped
    assert (np.asarray((r.plays > 0).sum(1)).ravel() >= 4).all()  # >= 5 items before the mismatch is dropped
    # the audio view decodes the data set's files
    a = real.gtzan("audio")
    np.testing.assert_array_equal(a.songs[0], load_audio(a.songs.dm.table.audio[a.songs.rows[0]].path, sr=22050))


def test_msd_songs_learn_from_train_and_valid_in_each_view(real_data):
    root = str(real_data["root"])
    dm = MSDSongsDataModule(root=root, train_size=24, view="frames52", batch_size=8, max_len=100)
    assert len(dm.learning_songs()) == 32 and len(dm.songs("test")) == 12
    batch = next(iter(dm.train_dataloader()))
    assert batch["frames"].shape == (8, 100, 52) and batch["mask"].all()
    half = MSDSongsDataModule(root=root, train_size=24, train_fraction=0.5, subset_seed=3)
    assert len(half.learning_songs()) == 16
    audio = MSDSongsDataModule(root=root, train_size=24, view="audio", crop_length=59049, batch_size=4)
    pair = next(iter(audio.train_dataloader()))
    assert pair["view1"].shape == (4, 59049) and audio.data_info.input_shape == (59049,)
    with pytest.raises(FileNotFoundError, match="mirbench prepare msd_lastfm"):
        MSDSongsDataModule(root=root, train_size=24, view="mel", crop_length=216).learning_songs()


def test_real_profile_resolves_to_msd_learning_and_real_downstream():
    spec = load_spec("hdpgmm2022")
    plans = {p.row: p for p in spec.resolve("real", seeds=[0])}
    for row, view in (("g1", "frames52"), ("kim", "mel"), ("clmr", "audio"), ("hdpgmm", "frames52")):
        text, _ = resolve_config(plans[row].config_paths, list(plans[row].overrides), 0)
        assert "class_path: mirbench.data.msd_songs.MSDSongsDataModule" in text and f"view: {view}" in text, row
        assert "n_pieces" not in text and "gtzan_split: filtered" in text and "gtzan_mini: false" in text
        assert "cpu_" not in " ".join(plans[row].configs)  # the paper's hyper-parameters
    assert "init: random_assign" in resolve_config(plans["hdpgmm"].config_paths, [], 0)[0]
    assert spec.for_profile("real").column("gtzan_macro_f1").label == "macro-F1, GTZAN"


@pytest.mark.smoke
def test_hdpgmm2022_real_profile_runs_end_to_end(real_data, tmp_path, monkeypatch):
    """``make table-hdpgmm2022 DATA_ROOT=...`` for G1 and a small HDPGMM: learn on MSD, evaluate on the three."""
    from mirbench.bench.commands import main as bench_main
    from mirbench.bench.records import read_record, record_path
    from mirbench.bench.runner import run_table
    from mirbench.bench.tables import build_report

    monkeypatch.setenv("MIRBENCH_DATA", str(real_data["data"]))
    spec = load_spec("hdpgmm2022")
    real = spec.profiles["real"]
    results = tmp_path / "results"
    small = {"g1": ("--data.init_args.train_size=24",),
             "hdpgmm": ("--data.init_args.train_size=24", "--data.init_args.batch_size=16", "--trainer.max_epochs=1",
                        "--model.init_args.n_components=8", "--model.init_args.n_song_components=4",
                        "--model.init_args.e_step_max_iter=20")}
    for row, extra in small.items():
        prof = dataclasses.replace(real, overrides=real.overrides + extra)
        s = dataclasses.replace(spec, profiles={**spec.profiles, "real": prof})
        out = run_table(s, profile="real", rows=[row], seeds=[0], results_root=results, log=lambda m: None)
        assert out.ok, out.summary()
        m = read_record(record_path("hdpgmm2022", "real", row, 0, results)).metrics
        for key in ("test/gtzan_macro_f1", "test/mtat_macro_auroc", "test/echonest_ndcg500"):
            assert 0.0 <= m[key] <= 1.0, (row, key)
        assert "test/gtzan_mini_macro_f1" not in m
    cfg = (results / "hdpgmm2022" / "runs" / "real" / "hdpgmm__seed0.yaml").read_text()
    assert "MSDSongsDataModule" in cfg and "n_components: 8" in cfg
    comps = np.load(next((results / "hdpgmm2022" / "work" / "real").rglob("song_components.npz")))
    assert comps["song_comp"].shape == (32, 8) and comps["tags"].shape == (32, 50)  # the MTAT songs
    assert bench_main(["table", "hdpgmm2022", "--profile", "real", "--results", str(results)]) == 0
    md = (results / "hdpgmm2022" / "table.real.md").read_text()
    assert "nDCG@500, Echonest" in md and "simulated" not in md.split("\n\n")[1]
    # on the paper's data Table 4 is checked, not excused as a known gap: the fixture's models miss it
    cells = build_report(spec, "real", results).cells
    table4 = cells[cells.column.isin(["echonest_ndcg500", "gtzan_macro_f1", "mtat_macro_auroc"]) & (cells.n > 0)]
    assert len(table4) == 6 and set(table4.status) <= {"ok", "miss"} and "miss" in set(table4.status)
    assert "MISS" in md
    assert bench_main(["check", "hdpgmm2022", "--profile", "real", "--results", str(results)]) == 1
