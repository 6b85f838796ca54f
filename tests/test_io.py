"""Atomic writes: a folder or file appears whole or not at all."""

import os

import pytest

from mirbench.io import atomic_dir, dir_mode


def test_atomic_dir_replaces_the_folder_only_when_the_block_succeeds(tmp_path):
    out = tmp_path / "build"
    with atomic_dir(out) as tmp:
        (tmp / "a.txt").write_text("one")
        assert not out.exists()  # nothing under the final name while the block runs
    assert (out / "a.txt").read_text() == "one" and oct(os.stat(out).st_mode & 0o777) == oct(dir_mode())
    with pytest.raises(RuntimeError, match="killed"):
        with atomic_dir(out) as tmp:
            (tmp / "b.txt").write_text("two")
            raise RuntimeError("killed half way")
    assert sorted(p.name for p in out.iterdir()) == ["a.txt"]  # the old build is untouched
    assert [p.name for p in tmp_path.iterdir()] == ["build"]  # no temporary folder left behind
    with atomic_dir(out) as tmp:
        (tmp / "c.txt").write_text("three")
    assert sorted(p.name for p in out.iterdir()) == ["c.txt"]  # a finished block replaces the old build
