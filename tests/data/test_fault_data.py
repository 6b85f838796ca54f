"""Fault drills for data: a deleted excerpt, split lists naming absent tracks, empty and non-UTF-8 split files,
a killed `prepare` (no worker left behind), file modes of a corpus build."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mirbench.audio.prepare import AudioItem, prepare_features
from mirbench.data import commands
from mirbench.data.gtzan import GENRES, GTZANDataModule, absent_tracks
from mirbench.data.splits import gtzan_split, read_lines


def _tiny_gtzan(root: Path, per_genre: int = 2, seconds: float = 1.0) -> Path:
    rng = np.random.default_rng(0)
    for g in GENRES:
        for n in range(per_genre):
            path = root / "genres" / g / f"{g}.{n:05d}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(path, (0.1 * rng.standard_normal(int(22050 * seconds))).astype(np.float32), 22050,
                     subtype="PCM_16")
    return root


def _mean_feature(y, sr):
    return np.stack([y.reshape(-1, 441).mean(1), y.reshape(-1, 441).std(1)], 1)


def test_a_deleted_excerpt_is_reported_by_count(tmp_path, capsys):
    root = _tiny_gtzan(tmp_path / "gtzan")
    (root / "genres" / "jazz" / "jazz.00001.wav").unlink()
    assert absent_tracks(root) == ([], ["genres/jazz: 1 excerpts where most genres have 2 (1 missing; without "
                                        "GTZAN_split lists their names are unknown)"])
    rc = commands.main(["prepare", "gtzan", "--root", str(root), "--workers", "1", "--no-progress"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "19 computed" in out and "warning: genres/jazz: 1 excerpts where most genres have 2" in out


def test_absent_items_of_the_lists_are_named_and_counted(tmp_path, capsys):
    root = _tiny_gtzan(tmp_path / "gtzan", per_genre=1)
    (root / "GTZAN_split").mkdir()
    for split, ids in {"train": ["blues.00000", "rock.00000", "rock.00007"], "valid": ["jazz.00000"],
                       "test": ["pop.00000", "pop.00003"]}.items():
        (root / "GTZAN_split" / f"{split}_filtered.txt").write_text(
            "".join(f"{t.split('.')[0]}/{t}.wav\n" for t in ids))
    assert absent_tracks(root) == (["pop.00003", "rock.00007"], [])
    with pytest.warns(UserWarning, match=r"split lists in .*: 1 of 3 train, 1 of 2 test tracks of the split lists "
                                         r"are not on disk and are left out \(rock.00007, pop.00003\)"):
        table = GTZANDataModule(root=str(root), feature="frames_kim2022").table
    assert {s: len(r) for s, r in table.splits.items()} == {"train": 2, "valid": 1, "test": 1}
    report = prepare_features([AudioItem("a", str(root / "genres/blues/blues.00000.wav")),
                               AudioItem("b", str(root / "nope.wav"))], tmp_path / "cache", _mean_feature,
                              workers=1, progress=False)
    assert report.total == 2 and report.failed == 1 and [m["item_id"] for m in report.missing] == ["b"]
    assert "1 failed (1 of them not on disk)" in report.summary() and "not on disk (1): b" in report.summary()


def test_empty_and_undecodable_split_files_name_the_file(tmp_path):
    d = tmp_path / "GTZAN_split"
    d.mkdir()
    (d / "train_filtered.txt").write_text("\n  \n")
    with pytest.raises(ValueError, match=r"train_filtered.txt: empty list"):
        gtzan_split(d)
    (d / "train_filtered.txt").write_bytes(b"blues/blues.00000.wav\n\xff\xfe\x00junk\n")
    with pytest.raises(ValueError, match=r"train_filtered.txt: not UTF-8 text .*one id or path per line"):
        read_lines(d / "train_filtered.txt")
    root = _tiny_gtzan(tmp_path / "gtzan", per_genre=1)
    with pytest.raises(ValueError, match="train_filtered.txt: not UTF-8"):
        GTZANDataModule(root=str(root), split_dir=str(d)).table


def _worker_pids(script: str) -> tuple[subprocess.Popen, list[int]]:
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    line = proc.stdout.readline()
    assert line.startswith("workers "), line
    return proc, [int(p) for p in line.split()[1:]]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


POOLS = {  # the pool each one really uses: prepare a ProcessPoolExecutor (whose idle workers used to stay
    # blocked after a SIGKILL of the parent), the corpus build a multiprocessing.Pool
    "prepare": ("from concurrent.futures import ProcessPoolExecutor\n"
                "from mirbench.audio.prepare import _init_worker",
                'ProcessPoolExecutor(2, mp_context=get_context("fork"), initializer=_init_worker)',
                "p.map(pid, range(6))"),
    "corpus": ("from mirbench.data.corpus.build import _init_pool_worker",
               'get_context("fork").Pool(2, initializer=_init_pool_worker)', "p.map(pid, range(6), chunksize=1)"),
}


@pytest.mark.parametrize("pool", sorted(POOLS))
def test_killed_parent_leaves_no_worker(pool):
    imports, make, run = POOLS[pool]
    script = f"""
import os, time
from multiprocessing import get_context
{imports}

def pid(_):
    time.sleep(0.2)
    return os.getpid()

with {make} as p:
    print("workers", *sorted(set({run})), flush=True)
    time.sleep(60)
"""
    proc, pids = _worker_pids(script)
    assert pids and all(_alive(p) for p in pids)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    deadline = time.time() + 10
    while any(_alive(p) for p in pids) and time.time() < deadline:
        time.sleep(0.1)
    assert not [p for p in pids if _alive(p)], "workers outlived their killed parent"


def test_corpus_build_is_readable_by_others(tiny_corpus):
    mask = os.umask(0o022)
    os.umask(mask)
    path = Path(tiny_corpus["path"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o777 & ~mask
    for p in path.iterdir():
        if p.is_file():
            assert stat.S_IMODE(p.stat().st_mode) == 0o666 & ~mask, p
