"""``mirbench download <id>``: fetch a data set's public files, resumable (HTTP Range) and verified.

Each file has a URL and, where one is known, its size and sha256. A partial download is kept as
``<name>.part`` and continued with ``Range: bytes=<n>-``; a server that ignores the range restarts
it. The finished file is verified before it takes its final name; a mismatch deletes it and fails.
Where no checksum is published the sha256 is recorded in ``<root>/checksums.json`` (marked
unverified) so later copies can be compared.
"""

from __future__ import annotations

import json
import os
import shutil
import tarfile
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from mirbench.data.checksums import sha256_file
from mirbench.io import write_json
from mirbench.paths import dataset_dir


@dataclass(frozen=True)
class Remote:
    name: str
    url: str
    sha256: str | None = None
    size: int | None = None
    note: str = ""  # where the checksum comes from
    extract: bool = False


class DownloadError(RuntimeError):
    pass


_MTAT = "https://mirg.city.ac.uk/datasets/magnatagatune"
_MSD = "http://millionsongdataset.com/sites/default/files"
_THIRD = "sha256 from a third-party script that verified its download, not from the publisher"

SOURCES: dict[str, list[Remote]] = {
    "gtzan": [
        Remote("genres.tar.gz", "http://opihi.cs.uvic.ca/sound/genres.tar.gz",
               "24347e0223d2ba798e0a558c4c172d9d4a19c00bb7963fe055d183dadb4ef2c6",
               note="sha256 pinned by torchaudio.datasets.GTZAN", extract=True),
    ],
    "mtat": [
        Remote("annotations_final.csv", f"{_MTAT}/annotations_final.csv", size=21_517_373,
               note="size from a third-party download script"),
        Remote("clip_info_final.csv", f"{_MTAT}/clip_info_final.csv",
               "cb6108a10d3a91f0bfd7d2fbec2382559d15f20c8d28093f14e12162a47a3e78", note=_THIRD),
        Remote("mp3.zip.001", f"{_MTAT}/mp3.zip.001", "f857fe185968773058cc71662c2ef5d8f2d4b7338e3c122cfd52f82dcb9760b9", note=_THIRD),
        Remote("mp3.zip.002", f"{_MTAT}/mp3.zip.002", "fc2e1ec441755556ed1398b1808f1b08b6034372f8bc27394510c0c58cdb52ce", note=_THIRD),
        Remote("mp3.zip.003", f"{_MTAT}/mp3.zip.003", "83a689824c17e82f6eb81cdbc4e4ca239a4cfc1fb41f1a5c80b861caec90450f", note=_THIRD),
    ],
    "dimsim": [
        Remote("clean-dim-sim.csv", "https://zenodo.org/record/3889149/files/clean-dim-sim.csv?download=1"),
        Remote("raw-dim-sim.csv", "https://zenodo.org/record/3889149/files/raw-dim-sim.csv?download=1"),
    ],
    "echonest": [
        Remote("train_triplets.txt.zip", f"{_MSD}/challenge/train_triplets.txt.zip", extract=True),
        Remote("unique_tracks.txt", f"{_MSD}/AdditionalFiles/unique_tracks.txt"),
        Remote("sid_mismatches.txt", f"{_MSD}/tasteprofile/sid_mismatches.txt"),
    ],
}


def sources() -> dict[str, list[Remote]]:
    return SOURCES


def fetch(url: str, dest: str | os.PathLike, sha256: str | None = None, size: int | None = None,
          progress: bool = True, chunk: int = 1 << 20, timeout: float = 60.0, retries: int = 3, note: str = "") -> Path:
    """Download ``url`` to ``dest`` (resuming ``dest.part``), verify size/sha256, move into place."""
    dest = Path(dest)
    if dest.is_file() and _matches(dest, sha256, size):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    for attempt in range(1, retries + 1):
        try:
            _transfer(url, part, progress, chunk, timeout, dest.name)
            break
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as e:
            if isinstance(e, urllib.error.HTTPError) and e.code not in (408, 429, 500, 502, 503, 504):
                raise DownloadError(f"{url}: HTTP {e.code} {e.reason}") from e
            if attempt == retries:
                raise DownloadError(f"{url}: {type(e).__name__}: {e} (partial data kept in {part}; run again to resume)") from e
            time.sleep(min(2**attempt, 30))
    if not _matches(part, sha256, size):
        got = f"{part.stat().st_size} bytes, sha256 {sha256_file(part)}"
        part.unlink()
        raise DownloadError(
            f"{dest.name} failed verification: expected {size or '?'} bytes, sha256 {sha256 or '?'} ({note or 'no source'}); "
            f"got {got}. The partial file was deleted; run again, or use --base-url for another mirror."
        )
    os.replace(part, dest)
    return dest


def _transfer(url: str, part: Path, progress: bool, chunk: int, timeout: float, label: str) -> None:
    have = part.stat().st_size if part.is_file() else 0
    req = urllib.request.Request(url, headers={"User-Agent": "mirbench", **({"Range": f"bytes={have}-"} if have else {})})
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:  # nothing left to fetch: the part is complete
            return
        raise
    with resp:
        if have and resp.status != 206:  # the server ignored the range: start again
            have = 0
        total = resp.headers.get("Content-Length")
        total = int(total) + have if total is not None else None
        with open(part, "ab" if have else "wb") as f, tqdm(total=total, initial=have, unit="B", unit_scale=True,
                                                          desc=label, disable=not progress) as bar:
            got = have
            while block := resp.read(chunk):
                f.write(block)
                got += len(block)
                bar.update(len(block))
    if total is not None and got < total:  # http.client returns short reads silently on a dropped connection
        raise ConnectionError(f"connection closed after {got} of {total} bytes")


def _matches(path: Path, sha256: str | None, size: int | None) -> bool:
    if size is not None and path.stat().st_size != size:
        return False
    return sha256 is None or sha256_file(path) == sha256


def download_dataset(dataset_id: str, root: str | os.PathLike | None = None, only: list[str] | None = None,
                     base_url: str | None = None, progress: bool = True, extract: bool = True) -> list[Path]:
    """Fetch (and unpack) the public files of ``dataset_id`` into ``root`` (default ``$MIRBENCH_DATA/<id>``)."""
    if dataset_id not in SOURCES:
        raise DownloadError(f"no public download for {dataset_id!r}; downloadable: {', '.join(SOURCES)}")
    root = dataset_dir(dataset_id, root)
    wanted = [r for r in SOURCES[dataset_id] if not only or r.name in only]
    if only and len(wanted) != len(set(only)):
        raise DownloadError(f"unknown file(s) {sorted(set(only) - {r.name for r in wanted})} for {dataset_id}")
    record_path = root / "checksums.json"
    record = json.loads(record_path.read_text()) if record_path.is_file() else {}
    out = []
    for r in wanted:
        url = f"{base_url.rstrip('/')}/{r.name}" if base_url else r.url
        path = fetch(url, root / r.name, r.sha256, r.size, progress=progress, note=r.note)
        if r.sha256 is None:
            record[r.name] = {"sha256": sha256_file(path), "size": path.stat().st_size, "url": url, "verified": False}
            write_json(record_path, record)
        if extract and r.extract:
            unpack(path, root)
        out.append(path)
    if extract and dataset_id == "mtat" and all((root / f"mp3.zip.00{i}").is_file() for i in (1, 2, 3)):
        _join_and_unpack([root / f"mp3.zip.00{i}" for i in (1, 2, 3)], root)
    return out


def unpack(archive: Path, root: Path) -> None:
    """Unpack a ``.tar.gz`` or ``.zip`` into ``root`` once (a marker file records it)."""
    marker = root / f".{archive.name}.unpacked"
    if marker.is_file():
        return
    if archive.name.endswith((".tar.gz", ".tgz", ".tar")):
        with tarfile.open(archive) as t:
            t.extractall(root, filter="data")
    elif archive.suffix == ".zip":
        with zipfile.ZipFile(archive) as z:
            z.extractall(root)
    marker.write_text("ok\n")


def _join_and_unpack(parts: list[Path], root: Path) -> None:
    """MTAT's ``mp3.zip.001-003`` are byte-wise pieces of one zip: join, then unpack."""
    joined = root / "mp3.zip"
    if not joined.is_file():
        with open(joined.with_suffix(".zip.tmp"), "wb") as out:
            for p in parts:
                with open(p, "rb") as f:
                    shutil.copyfileobj(f, out)
        os.replace(joined.with_suffix(".zip.tmp"), joined)
    try:
        unpack(joined, root)
    except zipfile.BadZipFile as e:
        raise DownloadError(f"{joined} does not unzip ({e}); try `zip -FF {joined} --out fixed.zip && unzip fixed.zip`") from e
