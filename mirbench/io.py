"""Safe files: atomic writes (nothing is ever left half-written under its final name), modes that follow the
umask (group/world readable by default, as ``open()`` would create them), and an inter-process file lock."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import socket
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np


def umask() -> int:
    """The process's umask (read without changing it for good)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """Mode of a new file under the umask (0644 with the usual 022)."""
    return 0o666 & ~umask()


def dir_mode() -> int:
    """Mode of a new folder under the umask (0755 with the usual 022)."""
    return 0o777 & ~umask()


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it into place only if the block succeeds.

    The final file gets the mode a plain ``open()`` would give it (``mkstemp`` alone makes it 0600).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a new folder beside ``path`` (mode :func:`dir_mode`); if the block succeeds it replaces ``path`` (a
    folder already there is removed first), otherwise it is removed: ``path`` is never half-written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    tmp.chmod(dir_mode())  # mkdtemp makes it 0700; a build is for every user of the machine
    try:
        yield tmp
        if path.exists():
            shutil.rmtree(path)
        tmp.rename(path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path: str | os.PathLike, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def save_npy(path: str | os.PathLike, array: np.ndarray) -> None:
    """Save an array atomically (readable later with ``np.load(..., mmap_mode='r')``)."""
    with atomic_path(path, suffix=".npy") as tmp:
        np.save(tmp, array)


class FileLock:
    """An exclusive ``fcntl.flock`` on ``path`` (created if needed), held until :meth:`release` or process exit.

    The kernel drops the lock when its holder dies (SIGKILL included), so a killed process never leaves a
    stale lock. The holder writes ``host pid`` into the file, for messages naming who holds it.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._fd: int | None = None

    def acquire(self, block: bool = True) -> bool:
        """Take the lock; with ``block=False`` return False at once when another process holds it."""
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd, writable = os.open(self.path, os.O_RDWR | os.O_CREAT, file_mode()), True
        except PermissionError:  # another user's lock file: flock works on a read-only descriptor too
            fd, writable = os.open(self.path, os.O_RDONLY), False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if block else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            return False
        if writable:
            os.ftruncate(fd, 0)
            os.write(fd, f"{socket.gethostname()} {os.getpid()}\n".encode())
        self._fd = fd
        return True

    def holder(self) -> str:
        """``host pid`` of the last holder, as it wrote it (best effort)."""
        try:
            text = self.path.read_text().strip()
        except OSError:
            text = ""
        return f"process {text}" if text else "another process"

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
