"""Names that become paths (evaluate --name, table --add NAME=, table/row/profile ids) are one plain file name:
a separator, '..', an absolute path or a leading '.' is an error (exit 2) and nothing is written."""

from __future__ import annotations

from pathlib import Path

import pytest
from toy import SPEC_YAML, write_toy_table

import mirbench.bench.runner as runner
from mirbench.bench.commands import main
from mirbench.bench.names import UnsafeName, check_name
from mirbench.bench.spec import load_spec

BAD = ["../runs/ci/proxy__seed0", "/tmp/abs", "a/b", "a\\b", "..", ".hidden", "", "x..y", "C:evil"]


@pytest.mark.parametrize("name", BAD)
def test_unsafe_names_are_refused(name):
    with pytest.raises(UnsafeName, match=r"invalid --name .*; it becomes a file name"):
        check_name(name, "--name")


@pytest.mark.parametrize("name", ["my_model", "mfcc-20", "v1.2", "Model_A"])
def test_plain_names_pass(name):
    assert check_name(name, "--name") == name


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")} if root.exists() else set()


@pytest.mark.parametrize("name", ["../escaped", str(Path("/tmp") / "mirbench_abs_name_test")])
def test_evaluate_name_that_is_a_path_writes_nothing(tmp_path, capsys, name):
    from mirbench.cli import main as cli_main

    out = tmp_path / "out"
    before = _files(tmp_path)
    assert cli_main(["evaluate", "--protocol", "lee2020", "--embeddings", str(tmp_path / "none.npz"),
                     "--name", name, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mirbench evaluate: error: invalid --name") and len(err.strip().splitlines()) == 1
    assert _files(tmp_path) == before and not Path("/tmp/mirbench_abs_name_test.json").exists()


def test_table_add_name_that_is_a_path(tmp_path, capsys):
    spec_path = write_toy_table(tmp_path)
    for cmd in ("table", "check"):
        assert main([cmd, str(spec_path), "--results", str(tmp_path / "r"), "--add", f"../x={tmp_path}"]) == 2
        assert "invalid --add NAME '../x': it contains a path separator" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_ids_that_are_paths_are_refused_before_training(tmp_path, capsys, monkeypatch):
    from dataclasses import replace

    spec_path = write_toy_table(tmp_path, SPEC_YAML.replace("profiles:\n  ci:", "profiles:\n  ../ci:"))
    monkeypatch.setattr(runner, "execute_run", lambda *a, **k: pytest.fail("trained"))
    assert main(["run", str(spec_path), "--results", str(tmp_path / "r")]) == 2
    assert "invalid id '../ci'" in capsys.readouterr().err  # the spec loader's own rule
    spec = load_spec(write_toy_table(tmp_path))
    with pytest.raises(UnsafeName, match="invalid table id '../toy'"):  # a spec built in Python, not from YAML
        runner.run_table(replace(spec, id="../toy"), results_root=tmp_path / "r", log=lambda s: None)
    assert not (tmp_path / "r").exists()
