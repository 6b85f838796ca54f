"""`mirbench evaluate`: the GTZAN genre probe knows the excerpts it scores (a missing one is an error naming it, the
record carries the count), and a bad embeddings file is one line naming it, exit 2, never a traceback.

The excerpt folders here hold empty files under the real names: precomputed embeddings never decode audio.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from mirbench.bench.records import RunRecord, read_record
from mirbench.cli import main
from mirbench.data.gtzan import GENRES
from mirbench.evaluation.kimliem2022 import expected_gtzan_excerpts, gtzan_mini_ids

FAST = ["--protocol-arg", "genre_n_iter=2"]


def _excerpts(root, ids):
    for t in ids:
        path = root / "genres" / t.split(".")[0] / f"{t}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    return root


def _embeddings(path, ids):
    np.savez(path, ids=np.asarray(ids), emb=np.random.default_rng(0).standard_normal((len(ids), 6)))
    return path


def test_gtzan_mini_expects_its_100_excerpts(shared_data):
    ids = expected_gtzan_excerpts(100)
    assert len(ids) == 100 and len(set(ids)) == 100 and {t.split(".")[0] for t in ids} == set(GENRES)
    assert "jazz.00003" not in ids and "jazz.00012" in ids  # the mini release skips jazz 3, 9 and 10
    assert len(expected_gtzan_excerpts(100, per_genre=4)) == 40 and len(expected_gtzan_excerpts(1000)) == 1000
    from mirbench.data.gtzan import find_tracks

    real = find_tracks(shared_data / "gtzan_mini")
    if real:
        assert sorted(real) == sorted(ids)


def test_a_missing_gtzan_excerpt_is_an_error_naming_it(tmp_path, capsys):
    ids = expected_gtzan_excerpts(100)
    root = _excerpts(tmp_path / "g", [t for t in ids if t not in ("jazz.00004", "rock.00009")])
    with pytest.raises(FileNotFoundError, match=r"2 of the 100 GTZAN excerpts .* missing \(jazz\.00004, rock\.00009\)"):
        gtzan_mini_ids(root)
    with pytest.raises(FileNotFoundError, match=r"1 of the 40 .* \(jazz\.00004\)"):
        gtzan_mini_ids(root, per_genre=4)
    emb = _embeddings(tmp_path / "e.npz", ids)
    assert main(["evaluate", "--protocol", "kimliem2022", "--data", "gtzan", "--embeddings", str(emb),
                 "--data-root", str(root), "--out", str(tmp_path / "out"), *FAST]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"mirbench evaluate: error: {root}: 2 of the 100 GTZAN excerpts the genre probe scores are "
                   "missing (jazz.00004, rock.00009); restore them (genres/<genre>/<id>.au|wav|flac): a score on "
                   "fewer is not comparable"), err
    assert not (tmp_path / "out" / "my_model.json").exists()


def test_the_record_carries_the_evaluated_count_and_old_records_read(tmp_path, capsys):
    ids = expected_gtzan_excerpts(100)
    root = _excerpts(tmp_path / "g", ids)
    emb = _embeddings(tmp_path / "e.npz", ids)
    assert main(["evaluate", "--protocol", "kimliem2022", "--data", "gtzan", "--embeddings", str(emb),
                 "--data-root", str(root), "--out", str(tmp_path / "out"), *FAST]) == 0
    assert "(gtzan, 100 items)" in capsys.readouterr().out
    rec = read_record(tmp_path / "out" / "my_model.json")
    assert rec.n_items == 100 and np.isfinite(rec.metrics["test/gtzan_mini_macro_f1"])
    old = json.loads((tmp_path / "out" / "my_model.json").read_text())
    del old["n_items"]  # a record written before the count was kept
    assert RunRecord.from_dict(old).n_items is None


def _bad_files() -> dict[str, str]:
    """``{file name: what the message says}``; the files are written by :func:`_write`."""
    return {
        "empty.npz": "an empty file (0 bytes), not an .npz archive; save the embeddings with np.savez(",
        "text.npz": "not an .npz archive (a text file); save the embeddings with np.savez(",
        "noise.npz": "not an .npz archive (other bytes)",
        "no_arrays.npz": "no array(s) ['ids', 'emb'] (it has no arrays); save with np.savez(",
        "renamed.npz": "no array(s) ['ids', 'emb'] (it has ['names', 'vectors']); save with np.savez(",
        "zero_rows.npz": "no embeddings in it (0 ids)",
        "cut.npz": "a truncated or damaged .npz (BadZipFile",
        "plain.npy": "an .npy holds one array and no item ids; save the ids with the embeddings: np.savez(",
        "empty.npy": "an .npy holds one array and no item ids",
        "text.parquet": "not a Parquet file (a text file)",
    }


def _write(tmp_path, name):
    path = tmp_path / name
    if name in ("empty.npz", "empty.npy"):
        path.touch()
    elif name.startswith("text."):
        path.write_text("id,x\nblues.00000,1.0\n")
    elif name == "noise.npz":
        path.write_bytes(bytes(np.random.default_rng(0).integers(0, 256, 400, dtype=np.uint8)))
    elif name == "no_arrays.npz":
        np.savez(path)
    elif name == "renamed.npz":
        np.savez(path, names=np.array(["blues.00000"]), vectors=np.zeros((1, 3)))
    elif name == "zero_rows.npz":
        np.savez(path, ids=np.array([], dtype=str), emb=np.zeros((0, 3)))
    elif name == "cut.npz":
        np.savez(path, ids=np.array(["blues.00000"]), emb=np.zeros((1, 3)))
        path.write_bytes(path.read_bytes()[:150])
    elif name == "plain.npy":
        np.save(path, np.zeros((4, 3)))
    return path


@pytest.mark.parametrize("name", list(_bad_files()))
def test_a_bad_embeddings_file_is_one_line_naming_it(tmp_path, capsys, name):
    path = _write(tmp_path, name)
    assert main(["evaluate", "--protocol", "kimliem2022", "--data", "gtzan", "--embeddings", str(path),
                 "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"mirbench evaluate: error: {path}: "), err
    assert _bad_files()[name] in err, err
    assert "Traceback" not in err and "pickled" not in err
