"""Write tiny files in each data set's *published* format (for tests and demos, never real data).

Every writer produces bytes a real copy would have: Python-2 protocol-0 pickles as written by
``cPickle.dump`` (``(lp1\\nS'...'\\np2\\na...``), MTAT's tab-separated quoted annotations, Dim-Sim's
CSV columns, the Taste Profile's tab/``<SEP>`` text files, the Last.fm SQLite schema and YouTube-8M
TFRecords (video-level Example / frame-level SequenceExample with uint8-quantised features).
"""

from __future__ import annotations

import csv
import os
import sqlite3
from pathlib import Path

import numpy as np

from mirbench.audio.decode import SAMPLE_RATE


def py2_pickle_list(items: list[str]) -> bytes:
    """A list of ``str`` exactly as Python 2's ``cPickle.dump(list, f)`` (protocol 0) writes it."""
    out = [b"(lp1\n"]
    for k, s in enumerate(items, start=2):
        out.append(b"S" + repr(str(s)).encode("latin-1") + b"\np%d\na" % k)
    out.append(b".")
    return b"".join(out)


def write_py2_list(path: str | os.PathLike, items: list[str]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(py2_pickle_list(items))
    return path


def write_pickle(path: str | os.PathLike, obj, protocol: int = 0) -> Path:
    """A dict (e.g. ``msd_id_to_tag_vector.cP``, ``MSD_id_to_7D_id.pkl``) as a protocol-0 pickle."""
    import pickle

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(obj, protocol=protocol))
    return path


def write_mtat_annotations(path: str | os.PathLike, clip_ids: list[int], mp3_paths: list[str],
                           tags: list[str], matrix: np.ndarray) -> Path:
    """``annotations_final.csv``: tab-separated, every field double-quoted, clip_id, tags..., mp3_path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, delimiter="\t", quotechar='"', quoting=csv.QUOTE_ALL, lineterminator="\n")
        w.writerow(["clip_id", *tags, "mp3_path"])
        for cid, p, row in zip(clip_ids, mp3_paths, matrix):
            w.writerow([cid, *[int(v) for v in row], p])
    return path


def write_dimsim_csv(path: str | os.PathLike, rows: list[dict]) -> Path:
    """A Dim-Sim CSV; each row gives ids, start seconds and votes; samples are derived at 22,050 Hz."""
    from mirbench.data.sources.dimsim import COLUMNS

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(COLUMNS))
        w.writeheader()
        for k, r in enumerate(rows):
            sr, length = r.get("sampling_rate", SAMPLE_RATE), r.get("clip_lengths_seconds", 3.0)
            full = {"triplet_id": r.get("triplet_id", k), "sampling_rate": sr, "clip_lengths_seconds": length,
                    "clip_lengths_samples": int(length * sr), "song1_vote": r["song1_vote"], "song2_vote": r["song2_vote"]}
            for p in ("anchor", "song1", "song2"):
                full[f"{p}_id"] = r[f"{p}_id"]
                full[f"{p}_start_seconds"] = r[f"{p}_start_seconds"]
                full[f"{p}_start_samples"] = int(round(r[f"{p}_start_seconds"] * sr))
            w.writerow(full)
    return path


def write_taste_profile(root: str | os.PathLike, triplets: list[tuple[str, str, int]],
                        tracks: list[tuple[str, str, str, str]], mismatches: list[tuple[str, str]]) -> Path:
    """``train_triplets.txt`` (user\\tsong\\tcount), ``unique_tracks.txt`` (<SEP>), ``sid_mismatches.txt``."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    (root / "train_triplets.txt").write_text("".join(f"{u}\t{s}\t{c}\n" for u, s, c in triplets))
    (root / "unique_tracks.txt").write_text("".join("<SEP>".join(t) + "\n" for t in tracks))
    (root / "sid_mismatches.txt").write_text(
        "".join(f"ERROR: <{s} {t}> Some Artist  -  Some Song  !=  Other Artist  -  Other Song\n" for s, t in mismatches)
    )
    return root


def write_lastfm_db(path: str | os.PathLike, tags_of: dict[str, dict[str, float]]) -> Path:
    """``lastfm_tags.db`` with the Last.fm dataset's schema: tids, tags, tid_tag(tid, tag, val) by ROWID."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path)
    con.executescript("CREATE TABLE tids (tid TEXT); CREATE TABLE tags (tag TEXT); "
                      "CREATE TABLE tid_tag (tid INT, tag INT, val FLOAT);")
    tag_row: dict[str, int] = {}
    for tid, tags in tags_of.items():
        t = con.execute("INSERT INTO tids VALUES (?)", (tid,)).lastrowid
        for tag, val in tags.items():
            if tag not in tag_row:
                tag_row[tag] = con.execute("INSERT INTO tags VALUES (?)", (tag,)).lastrowid
            con.execute("INSERT INTO tid_tag VALUES (?, ?, ?)", (t, tag_row[tag], val))
    con.commit()
    con.close()
    return path


def quantize(x: np.ndarray, max_q: float = 2.0, min_q: float = -2.0) -> np.ndarray:
    """Inverse of YouTube-8M's dequantisation (to uint8)."""
    scaled = (np.clip(x, min_q, max_q) - min_q) * 255.0 / (max_q - min_q)
    return np.clip(np.round(scaled - 0.5), 0, 255).astype(np.uint8)


def write_yt8m(path: str | os.PathLike, videos: list[dict], level: str = "video") -> Path:
    """YouTube-8M TFRecord. ``videos``: dicts with id, labels, audio (T, 128) and rgb (T, 1024) float features."""
    from tfrecord.writer import TFRecordWriter

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    w = TFRecordWriter(str(path))
    for v in videos:
        ctx = {"id": (v["id"].encode(), "byte"), "labels": (list(v["labels"]), "int")}
        if level == "video":
            w.write({**ctx, "mean_rgb": (np.asarray(v["rgb"]).mean(0).tolist(), "float"),
                     "mean_audio": (np.asarray(v["audio"]).mean(0).tolist(), "float")})
        else:
            w.write(ctx, {"rgb": ([quantize(f).tobytes() for f in v["rgb"]], "byte"),
                          "audio": ([quantize(f).tobytes() for f in v["audio"]], "byte")})
    w.close()
    return path
