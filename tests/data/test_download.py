"""Resumable, checksum-verified downloads against an HTTP server on 127.0.0.1 (Range supported)."""

import hashlib
import io
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mirbench.data import commands, download
from mirbench.data.download import DownloadError, Remote, download_dataset, fetch

BLOB = bytes(range(256)) * 4000  # 1 MB


class Server:
    """Serves ``files``; honours ``Range: bytes=N-`` unless ``ranges`` is False; ``cut`` drops the
    connection after that many body bytes of the next response (an interrupted transfer)."""

    def __init__(self, files):
        self.files, self.ranges, self.cut, self.log = files, True, None, []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                name = self.path.lstrip("/").split("?")[0]
                server.log.append((name, self.headers.get("Range")))
                if name not in server.files:
                    self.send_error(404)
                    return
                data, start = server.files[name], 0
                rng = self.headers.get("Range")
                if rng and server.ranges:
                    start = int(rng.split("=")[1].split("-")[0])
                    if start >= len(data):
                        self.send_response(416)
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if server.cut is not None:
                    body, server.cut = body[: server.cut], None
                    self.wfile.write(body)
                    self.wfile.flush()
                    self.connection.shutdown(2)
                    return
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def _targz(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.fixture()
def server():
    s = Server({"blob.bin": BLOB, "genres.tar.gz": _targz({"genres/blues/blues.00000.au": b".snd" + bytes(60)})})
    yield s
    s.close()


def sha(b):
    return hashlib.sha256(b).hexdigest()


def test_fetch_verifies_and_skips_when_present(server, tmp_path):
    dest = fetch(f"{server.url}/blob.bin", tmp_path / "blob.bin", sha(BLOB), len(BLOB), progress=False)
    assert dest.read_bytes() == BLOB and not (tmp_path / "blob.bin.part").exists()
    n = len(server.log)
    fetch(f"{server.url}/blob.bin", dest, sha(BLOB), progress=False)
    assert len(server.log) == n  # already there and verified: no request


def test_interrupted_download_resumes_with_range(server, tmp_path):
    server.cut = 300_000
    with pytest.raises(DownloadError, match="run again to resume"):
        fetch(f"{server.url}/blob.bin", tmp_path / "blob.bin", sha(BLOB), retries=1, progress=False)
    part = tmp_path / "blob.bin.part"
    assert part.stat().st_size == 300_000
    fetch(f"{server.url}/blob.bin", tmp_path / "blob.bin", sha(BLOB), progress=False)
    assert server.log[-1] == ("blob.bin", "bytes=300000-")
    assert (tmp_path / "blob.bin").read_bytes() == BLOB


def test_retry_within_one_call_resumes(server, tmp_path, monkeypatch):
    monkeypatch.setattr(download.time, "sleep", lambda s: None)
    server.cut = 123_456
    fetch(f"{server.url}/blob.bin", tmp_path / "blob.bin", sha(BLOB), retries=3, progress=False)
    assert [r for _, r in server.log] == [None, "bytes=123456-"]


def test_server_ignoring_range_restarts(server, tmp_path):
    (tmp_path / "blob.bin.part").write_bytes(BLOB[:1000])
    server.ranges = False
    fetch(f"{server.url}/blob.bin", tmp_path / "blob.bin", sha(BLOB), progress=False)
    assert (tmp_path / "blob.bin").read_bytes() == BLOB


def test_checksum_mismatch_fails_and_leaves_nothing(server, tmp_path):
    with pytest.raises(DownloadError, match="failed verification"):
        fetch(f"{server.url}/blob.bin", tmp_path / "blob.bin", "0" * 64, progress=False, note="test")
    assert not (tmp_path / "blob.bin").exists() and not (tmp_path / "blob.bin.part").exists()
    with pytest.raises(DownloadError, match="HTTP 404"):
        fetch(f"{server.url}/missing.bin", tmp_path / "m.bin", progress=False)


def test_download_command_unpacks_and_records_unverified(server, tmp_path, monkeypatch):
    arc = server.files["genres.tar.gz"]
    monkeypatch.setitem(download.SOURCES, "gtzan", [Remote("genres.tar.gz", "http://unused/", sha(arc), extract=True)])
    monkeypatch.setitem(download.SOURCES, "dimsim", [Remote("blob.bin", "http://unused/")])
    root = tmp_path / "gtzan"
    assert commands.main(["download", "gtzan", "--root", str(root), "--base-url", server.url, "--no-progress"]) == 0
    assert (root / "genres" / "blues" / "blues.00000.au").read_bytes()[:4] == b".snd"
    paths = download_dataset("dimsim", tmp_path / "dimsim", base_url=server.url, progress=False)
    record = (tmp_path / "dimsim" / "checksums.json").read_text()
    assert paths[0].read_bytes() == BLOB and sha(BLOB) in record and '"verified": false' in record
    with pytest.raises(DownloadError, match="unknown file"):
        download_dataset("dimsim", tmp_path / "dimsim", only=["nope"], base_url=server.url)


def test_published_sources_are_declared():
    src = download.sources()
    assert set(src) == {"gtzan", "mtat", "dimsim", "echonest"}
    assert src["gtzan"][0].sha256 and all(r.url.startswith("http") for rs in src.values() for r in rs)
