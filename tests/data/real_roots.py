"""Small copies of the real data sets in their published layouts, for the tests of the `real` profiles.

``DATA/msd_lastfm``: the real ``filtered_list_test.cP`` and ``50tagList.txt`` copied unchanged, a Python-2
``filtered_list_train.cP`` (train then valid), ``lastfm_tags.db`` and 7digital-layout MP3 previews for a few
dozen tracks (the other 28,423 test tracks have no audio, as on a partial copy). ``DATA/gtzan``: the real
GTZAN-mini excerpts (``../shared/data/gtzan_mini``) as ``genres/<genre>/<id>.wav`` with the real
``GTZAN_split`` lists. ``DATA/mtat``: ``annotations_final.csv`` in its real format and the split pickles for
a few clips of the real split, with 16-kHz MP3s. ``DATA/echonest``: ``train_triplets.txt``,
``unique_tracks.txt`` and ``sid_mismatches.txt`` over the MSD tracks of ``DATA/msd_lastfm``. ``DATA/dimsim``:
both Dim-Sim CSVs over a few of those tracks (one tied vote). ``DATA/yt8m``: frame-level YouTube-8M TFRecords
(music videos and a distractor) with their features extracted as ``mirbench prepare yt8m_mv`` does.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import soundfile as sf

from mirbench.data.realformat import (write_dimsim_csv, write_lastfm_db, write_mtat_annotations, write_pickle,
                                      write_py2_list, write_taste_profile, write_yt8m)
from mirbench.data.splits import load_py2_pickle, mtat_split, read_lines

N_TRAIN, N_VALID, N_TEST = 24, 8, 12
# per category, the tags the MSD fixture draws from: each track gets one of each, so every category has
# positives and negatives in every split
POOLS = {"genre": ("rock", "jazz", "electronic"), "mood": ("chill", "happy"),
         "instrument": ("female vocalists", "instrumental"), "era": ("80s", "00s")}
F0 = {"rock": 220.0, "jazz": 330.0, "electronic": 495.0}


def _tone(rng, f0: float, seconds: float, sr: int) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (0.3 * np.sin(2 * np.pi * f0 * t) + 0.05 * rng.standard_normal(len(t))).astype(np.float32)


def write_msd_root(shared_data: Path, data: Path) -> dict:
    """``data/msd_lastfm`` (see the module docstring); returns its ids and tags."""
    real = shared_data / "splits" / "MSD_split"
    root = data / "msd_lastfm"
    sd = root / "MSD_split"
    sd.mkdir(parents=True)
    for name in ("filtered_list_test.cP", "50tagList.txt"):
        shutil.copyfile(real / name, sd / name)
    test = [str(t) for t in load_py2_pickle(sd / "filtered_list_test.cP")[:N_TEST]]
    train = [f"TRZZFIX{k:011d}" for k in range(N_TRAIN + N_VALID)]  # first N_TRAIN train, the rest valid
    write_py2_list(sd / "filtered_list_train.cP", train)
    rng = np.random.default_rng(0)
    tags_of, audio_of, genre_of = {}, {}, {}
    for k, tid in enumerate(train + test):
        picks = {c: pool[(k // step) % len(pool)] for (c, pool), step in zip(POOLS.items(), (1, 3, 6, 12))}
        tags_of[tid] = {t: float(rng.integers(1, 100)) for t in picks.values()}
        genre_of[tid] = picks["genre"]
        # a 6.5-s 44.1-kHz preview (two 3-s segments) whose pitch follows the genre tag
        audio_of[tid] = _tone(rng, F0[picks["genre"]], 6.5, 44100)
    write_lastfm_db(root / "lastfm_tags.db", tags_of)
    to7d = {tid: 5_000_000 + k for k, tid in enumerate(train + test)}
    write_pickle(sd / "MSD_id_to_7D_id.pkl", to7d)
    write_pickle(sd / "7D_id_to_path.pkl", {d: f"{d % 10}/{d % 7}/{d}.clip.mp3" for d in to7d.values()})
    for tid, y in audio_of.items():
        d = to7d[tid]
        path = root / "audio" / f"{d % 10}/{d % 7}/{d}.clip.mp3"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, y, 44100, format="MP3")
    return {"data": data, "root": root, "train": train, "test": test, "tags_of": tags_of, "genre_of": genre_of}


def write_gtzan_root(shared_data: Path, data: Path) -> Path:
    """``data/gtzan``: the 100 real GTZAN-mini excerpts and the real fault-filtered split lists (which list
    40 / 49 / 4 of them)."""
    from mirbench.data.gtzan import export_layout

    root = data / "gtzan"
    export_layout(shared_data / "gtzan_mini", root, "wav")
    shutil.copytree(shared_data / "splits" / "GTZAN_split", root / "GTZAN_split")
    return root


def write_mtat_root(shared_data: Path, data: Path, per_split: dict[str, int] | None = None) -> Path:
    """``data/mtat``: the first clips of each real split list, top-50 tags from the real ``y_valid_pub.npy``
    rows (train/test clips reuse them), one 16-kHz MP3 each whose pitch follows its first tag (6 s: the real
    clips are 29 s, which only costs the test time)."""
    per_split = per_split or {"train": 16, "valid": 8, "test": 8}
    split_dir = shared_data / "splits" / "MTAT_split"
    lists = mtat_split(split_dir)
    top50 = read_lines(split_dir / "top50_tags.txt")
    y_valid = np.load(split_dir / "y_valid_pub.npy").astype(np.uint8)
    root = data / "mtat"
    rng = np.random.default_rng(1)
    paths, rows, k = [], [], 0
    for split, n in per_split.items():
        picks = lists[split][:n]
        write_py2_list(root / "MTAT_split" / f"{split}_list_pub.cP", [p[:-4] + ".npy" for p in picks])
        for p in picks:
            row = y_valid[k % len(y_valid)]
            k += 1
            paths.append(p)
            rows.append(row)
            out = root / p
            out.parent.mkdir(parents=True, exist_ok=True)
            sf.write(out, _tone(rng, 110.0 * (1 + int(np.argmax(row)) % 8), 6.0, 16000), 16000, format="MP3")
    (root / "MTAT_split" / "top50_tags.txt").write_text("\n".join(top50) + "\n")
    clip_ids = [2 + 3 * i for i in range(len(paths))]
    write_mtat_annotations(root / "annotations_final.csv", clip_ids, paths, top50, np.array(rows))
    return root


def write_echonest_root(data: Path, tracks: list[str], n_users: int = 60, seed: int = 2) -> Path:
    """``data/echonest``: users who play 6-10 of ``tracks`` (MSD track ids), one song id per track, one
    mismatched song (dropped) and a few users with < 5 items (filtered out)."""
    rng = np.random.default_rng(seed)
    songs = [f"SOFIX{k:013d}" for k in range(len(tracks))]
    triplets = []
    for u in range(n_users):
        n = 3 if u < 4 else int(rng.integers(6, 11))
        for s in rng.choice(len(tracks), n, replace=False):
            triplets.append((f"{u + 1:040x}", songs[s], int(rng.integers(1, 30))))
    rows = [(t, s, "Artist", "Title") for t, s in zip(tracks, songs)]
    return write_taste_profile(data / "echonest", triplets, rows, [(songs[-1], tracks[-1])])


def write_dimsim_root(data: Path, tracks: list[str]) -> Path:
    """``data/dimsim``: clean and raw CSVs of 4 triplets over ``tracks[:4]`` (the raw one has a tied vote)."""
    a, b, c, d = tracks[:4]
    clean = [dict(anchor_id=a, anchor_start_seconds=1.0, song1_id=b, song1_start_seconds=2.5, song2_id=c,
                  song2_start_seconds=4.0, song1_vote=1, song2_vote=0),
             dict(anchor_id=a, anchor_start_seconds=3.0, song1_id=c, song1_start_seconds=0.0, song2_id=d,
                  song2_start_seconds=2.0, song1_vote=0, song2_vote=1),
             dict(anchor_id=d, anchor_start_seconds=0.5, song1_id=a, song1_start_seconds=1.0, song2_id=b,
                  song2_start_seconds=2.5, song1_vote=1, song2_vote=0)]
    raw = [dict(r, song1_vote=v1, song2_vote=v2) for r, (v1, v2) in zip(clean, [(7, 2), (3, 3), (1, 9)])]
    root = data / "dimsim"
    write_dimsim_csv(root / "clean-dim-sim.csv", clean)
    write_dimsim_csv(root / "raw-dim-sim.csv", raw)
    return root


def write_yt8m_root(data: Path, music: int = 14) -> Path:
    """``data/yt8m``: a vocabulary, frame-level train/validate TFRecords (6 + 8 music videos, one distractor)
    and their extracted features (``features/yt8m``)."""
    from mirbench.data.yt8m_musicvideo import extract

    rng = np.random.default_rng(3)
    root = data / "yt8m"
    root.mkdir(parents=True)
    (root / "vocabulary.csv").write_text("Index,TrainVideoCount,KnowledgeGraphId,Name,WikiUrl\n"
                                         f"0,100,/m/03bt1gh,Game,x\n{music},50,/m/064t9,Music video,y\n")

    def videos(n: int, prefix: str) -> list[dict]:
        return [{"id": f"{prefix}{k:03d}", "labels": [music] if k else [0], "audio": rng.uniform(-1, 1, (4, 128)),
                 "rgb": rng.uniform(-1, 1, (4, 1024))} for k in range(n)]

    write_yt8m(root / "frame" / "train0000.tfrecord", videos(7, "Tr"), level="frame")
    write_yt8m(root / "frame" / "validate0000.tfrecord", videos(9, "Va"), level="frame")
    extract(root, root / "features" / "yt8m", label_index=music, progress=False)
    return root
