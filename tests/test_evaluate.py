"""`mirbench evaluate` / mirbench.evaluate(): a model of one's own through the suite's protocols.

Precomputed embeddings give the numbers and bootstrap replicates the protocol gives the same embeddings through a
model; ids the protocol needs and the file lacks are an error; `table --add` shows the row; the GTZAN genre probe
runs on the real excerpts. The ci-scale corpus (60 pieces x 4 clips) of the tables' ci profiles.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mirbench.bench.evaluate import evaluate, table_defaults
from mirbench.evaluation.external import EmbeddingError, EmbeddingTable, corpus_clip_ids, corpus_song_ids

CI = {"n_pieces": 60, "clips_per_piece": 4}


class MeanMel(torch.nn.Module):
    """A deterministic stand-in model: the time-mean of the log-mel, projected to 16 dims."""

    def __init__(self) -> None:
        super().__init__()
        self.w = torch.from_numpy(np.random.default_rng(0).standard_normal((128, 16)).astype(np.float32))

    def embed(self, x):
        return x.mean(dim=2).flatten(1) @ self.w


class MeanFrames:
    """Kim & Liem stand-in: the mean frame of each song."""

    def embed(self, songs):
        return np.stack([np.asarray(s).mean(axis=0) for s in songs])


@pytest.fixture(scope="module")
def lee_dm():
    from mirbench.data.corpus.datamodule import CorpusDataModule

    args, _ = table_defaults("ismir2020", "ci", None)
    return CorpusDataModule(**args)


@pytest.fixture(scope="module")
def clip_npz(lee_dm, tmp_path_factory):
    clip_ids, _ = corpus_clip_ids(lee_dm)
    model = MeanMel()
    with torch.no_grad():
        emb = torch.cat([model.embed(torch.from_numpy(lee_dm.transform(np.asarray(lee_dm.features[i], np.float32)))[None]) for i in range(len(clip_ids))])
    path = tmp_path_factory.mktemp("emb") / "clips.npz"
    np.savez(path, ids=np.asarray(clip_ids), emb=emb.numpy())
    return path


def test_lee2020_precomputed_matches_the_model(lee_dm, clip_npz):
    from mirbench.evaluation.lee2020 import evaluate_items

    _, cb = table_defaults("ismir2020", "ci", "mirbench.evaluation.lee2020.Lee2020Evaluation")
    want, want_reps = evaluate_items(MeanMel(), lee_dm, **cb)
    got = evaluate("lee2020", embeddings=clip_npz, profile="ci")
    assert got.metrics == {f"test/{k}": v for k, v in want.items()}
    assert set(got.replicates) == {f"test/{k}" for k in want_reps}
    for k, v in want_reps.items():
        np.testing.assert_array_equal(got.replicates[f"test/{k}"], v)


def test_missing_ids_nan_and_shape_are_errors(clip_npz, tmp_path):
    with np.load(clip_npz) as z:
        ids, emb = z["ids"], z["emb"]
    keep = np.array([not i.startswith(("T00003/", "T00004/")) for i in ids])
    np.savez(tmp_path / "few.npz", ids=ids[keep], emb=emb[keep])
    with pytest.raises(EmbeddingError, match=r"\d+ of \d+ items the protocol needs have no embedding, e\.g\."):
        evaluate("lee2020", embeddings=tmp_path / "few.npz", profile="ci")
    bad = emb.copy()
    bad[3, 0] = np.nan
    with pytest.raises(EmbeddingError, match="1 of .* NaN"):
        EmbeddingTable(ids, bad)
    with pytest.raises(EmbeddingError, match=r"\(N, D\)"):
        EmbeddingTable(ids, emb[:, 0])
    with pytest.raises(ValueError, match="Did you mean 'lee2020'"):
        evaluate("lee2021", embeddings=clip_npz)


def test_kimliem2022_precomputed_matches_the_model(tmp_path):
    from mirbench.data.corpus.songs import CorpusSongsDataModule
    from mirbench.evaluation.kimliem2022 import evaluate_items

    args, cb = table_defaults("hdpgmm2022", "ci", "mirbench.evaluation.kimliem2022.KimLiem2022Evaluation")
    cb.update(gtzan_mini=False)
    dm = CorpusSongsDataModule(**args)
    with torch.inference_mode(False), torch.enable_grad():
        want, want_reps = evaluate_items(MeanFrames(), dm, **cb)
    np.savez(tmp_path / "songs.npz", ids=np.asarray(corpus_song_ids(dm)), emb=MeanFrames().embed(dm.songs()))
    got = evaluate("kimliem2022", embeddings=tmp_path / "songs.npz", profile="ci")
    timing = ("test/embed_time_s", "test/eval_time_s")
    assert {k: v for k, v in got.metrics.items() if k not in timing} == \
        {k: v for k, v in want.items() if k not in timing}
    for k, v in want_reps.items():
        np.testing.assert_array_equal(got.replicates[k], v)


def _wave_stats(y: np.ndarray) -> np.ndarray:
    frames = y[: len(y) // 2048 * 2048].reshape(-1, 2048)
    rms = np.sqrt((frames**2).mean(axis=1))
    zcr = (np.diff(np.sign(frames), axis=1) != 0).mean(axis=1)
    return np.array([rms.mean(), rms.std(), zcr.mean(), zcr.std()], dtype=np.float32)


def test_gtzan_genre_probe_on_the_real_excerpts(shared_data, tmp_path):
    from mirbench.evaluation.kimliem2022 import gtzan_mini_ids, gtzan_mini_root

    root = gtzan_mini_root(shared_data / "gtzan_mini")
    if root is None:
        pytest.skip("no gtzan_mini excerpts in the shared data")
    args = {"gtzan_mini_per_genre": 4, "genre_n_iter": 2}  # 2 train, 1 valid, 1 test per genre
    got = evaluate("kimliem2022", data="gtzan", model=_wave_stats, protocol_args=args, data_root=str(root),
                   out=tmp_path, name="wave")
    assert 0.0 <= got.metrics["test/gtzan_mini_macro_f1"] <= 1.0
    assert (tmp_path / "wave.json").is_file() and (tmp_path / "wave.boot.npz").is_file()
    # the same embeddings precomputed, keyed by excerpt id, give the same numbers
    from mirbench.audio.decode import load_audio
    from mirbench.data.gtzan import find_tracks

    ids, _, _ = gtzan_mini_ids(root, 4)
    tracks = find_tracks(root)
    np.savez(tmp_path / "g.npz", ids=np.asarray(ids), emb=np.stack([_wave_stats(load_audio(tracks[t], sr=22050))
                                                                     for t in ids]))
    pre = evaluate("kimliem2022", data="gtzan", embeddings=tmp_path / "g.npz", protocol_args=args,
                   data_root=str(root))
    assert pre.metrics == got.metrics


def test_cli_end_to_end_and_table_add(clip_npz, tmp_path, capsys):
    from mirbench.cli import main

    assert main(["evaluate", "--protocol", "lee2020", "--profile", "ci", "--embeddings", str(clip_npz),
                 "--name", "mine", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "test/recall_at_1" in out and f"--add mine={tmp_path / 'mine.json'}" in out
    assert main(["evaluate", "--protocol", "lee2021", "--embeddings", str(clip_npz)]) == 2
    assert "Did you mean 'lee2020'" in capsys.readouterr().err

    assert main(["table", "ismir2020", "--add", f"mine={tmp_path / 'mine.json'}"]) == 0
    table = capsys.readouterr().out
    mine = [line for line in table.splitlines() if line.startswith("| `mine` |")]
    # Tables 1, 3 (complete-space metrics only: no sub-space, so not in that group) and 4, under an "Added" group
    assert len(mine) == 3 and table.count("| *Added* |") == 3, [ln for ln in table.splitlines() if "mine" in ln]
    assert "`classification`" in table  # the paper's rows as before
    assert main(["table", "ismir2020", "--add", f"classification={tmp_path / 'mine.json'}"]) == 2


def test_tutorial_knn_on_precomputed_nsynth_features(shared_data, tmp_path):
    import pandas as pd

    root = shared_data / "nsynth_tutorial"
    df = pd.concat([pd.read_csv(root / f"nsynth_{s}.csv", index_col=0) for s in ("train", "valid", "test")])
    feat = df.drop(columns=["instrument"]).select_dtypes("number")
    np.savez(tmp_path / "ns.npz", ids=df.index.astype(str).to_numpy(dtype=str), emb=feat.to_numpy(np.float32))
    got = evaluate("tutorial_knn", data="nsynth", embeddings=tmp_path / "ns.npz")
    assert set(got.metrics) == {"test/accuracy", "test/macro_f1"} and 0.5 < got.metrics["test/accuracy"] <= 1
    assert len(got.replicates["test/accuracy"]) > 1


def test_a_clip_datamodule_in_the_kimliem_protocol_says_what_to_run():
    from mirbench.evaluation.kimliem2022 import evaluate_items

    with pytest.raises(TypeError,
                       match="has no downstream_inputs.*mirbench evaluate --protocol kimliem2022 --data gtzan"):
        evaluate_items(None, object())
