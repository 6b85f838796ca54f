"""Every command the README shows works as written.

Default tier (fast, nothing trains): each ``mirbench <sub> ...`` in a README code block parses (the
training commands through LightningCLI's own parser, the table commands through theirs, with their spec and
profile), each ``make <target>`` exists in the Makefile, and every repository path named exists. Smoke tier
(``-m smoke``): the README's ``fit`` then ``test ... --ckpt_path best`` at CI scale, as two commands.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from mirbench.paths import PROJECT_ROOT

README = PROJECT_ROOT / "README.md"
TRAINING = ("fit", "validate", "test", "predict")
# a path in the repository, as the README names it in a code span (placeholders such as <id> are skipped)
REPO_PATH = re.compile(r"^(benchmarks|datasets|docs|mirbench|tests|results|requirements|CITATION)[\w./-]*$")


@dataclass(frozen=True)
class Command:
    line: int
    argv: tuple[str, ...]

    def __str__(self) -> str:
        return f"README.md:{self.line}: {shlex.join(self.argv)}"


def code_blocks(text: str) -> list[tuple[int, str]]:
    """(line number of the first line, body) of each fenced ``bash``/``sh``/``shell`` block."""
    blocks, body, lang, start = [], [], None, 0
    for n, line in enumerate(text.splitlines(), 1):
        if line.startswith("```"):
            if lang is None:
                lang, body, start = line[3:].strip() or "text", [], n + 1
            else:
                if lang in ("bash", "sh", "shell"):
                    blocks.append((start, "\n".join(body)))
                lang = None
        elif lang is not None:
            body.append(line)
    return blocks


def commands(text: str) -> list[Command]:
    """Commands of the README's code blocks: continuation lines joined, comments dropped, ``&&`` split,
    ``...same configs...`` / ``fit ...`` expanded to the configs of the fit shown before."""
    out: list[Command] = []
    last_fit: tuple[str, ...] = ()
    for start, body in code_blocks(text):
        logical, first = "", start
        for n, raw in enumerate(body.splitlines(), start):
            logical, first = (logical + " " + raw.rstrip("\\"), first) if logical else (raw.rstrip("\\"), n)
            if raw.rstrip().endswith("\\"):
                continue
            tokens = shlex.split(logical, comments=True)
            logical = ""
            for part in _split_and(tokens):
                if not part:
                    continue
                if part[0].endswith("mirbench"):
                    part = ["mirbench", *part[1:]]
                    if "...same" in " ".join(part) or (len(part) > 2 and part[2] == "..."):
                        part = [t for t in part if not t.startswith("...") and not t.endswith("...")]
                        part[2:2] = last_fit
                    if part[1] == "fit" and "--config" in part:
                        last_fit = tuple(a for a in part[2:] if a != "--print_config")
                out.append(Command(first, tuple(part)))
    return out


def _split_and(tokens: list[str]) -> list[list[str]]:
    parts: list[list[str]] = [[]]
    for t in tokens:
        if t in ("&&", ";", "||"):
            parts.append([])
        else:
            parts[-1].append(t)
    return parts


def makefile_targets() -> tuple[set[str], list[str]]:
    """(explicit targets, pattern targets such as ``table-%``) of the Makefile."""
    explicit, patterns = set(), []
    for line in (PROJECT_ROOT / "Makefile").read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.%-]+)\s*:(?!=)", line)
        if m and not line.startswith((".PHONY", "export")):
            (patterns.append if "%" in m.group(1) else explicit.add)(m.group(1))
    return explicit, patterns


def _make_target_ok(target: str, explicit: set[str], patterns: list[str]) -> bool:
    if target in explicit:
        return True
    for p in patterns:
        prefix, _, suffix = p.partition("%")
        if target.startswith(prefix) and target.endswith(suffix):
            stem = target[len(prefix):len(target) - len(suffix)]
            # table-% / check-% take a table id
            return (PROJECT_ROOT / "benchmarks" / "tables" / f"{stem}.yaml").is_file()
    return False


TEXT = README.read_text()
COMMANDS = commands(TEXT)
MIRBENCH = [c for c in COMMANDS if c.argv[0] == "mirbench"]
MAKE = [c for c in COMMANDS if c.argv[0] == "make"]


def test_the_readme_shows_commands():
    assert len(MIRBENCH) >= 4 and MAKE
    assert any(c.argv[1:2] == ("test",) and "best" in c.argv for c in MIRBENCH)  # expanded from "...same configs..."


@pytest.mark.parametrize("cmd", MAKE, ids=str)
def test_make_targets_exist(cmd):
    explicit, patterns = makefile_targets()
    targets = [t for t in cmd.argv[1:] if "=" not in t and not t.startswith("-")]
    assert targets
    for t in targets:
        assert _make_target_ok(t, explicit, patterns), f"{cmd}: no Makefile target {t!r}"


@pytest.mark.parametrize("cmd", MIRBENCH, ids=str)
def test_mirbench_commands_parse(cmd, monkeypatch):
    monkeypatch.chdir(PROJECT_ROOT)
    monkeypatch.setattr(sys, "argv", sys.argv[:1])  # LightningCLI warns when pytest's own arguments are there
    sub, args = cmd.argv[1], list(cmd.argv[2:])
    for a in args:  # every config or spec path it names exists
        if a.endswith((".yaml", ".yml")) and not a.startswith("-"):
            assert (PROJECT_ROOT / a).is_file(), f"{cmd}: {a} does not exist"
    if sub in TRAINING:
        _parse_training(cmd, sub, args)
    elif sub in ("run", "table", "check", "golden"):
        _parse_table(cmd, sub, args)
    else:
        from mirbench.cli import COMMANDS as SUITE

        assert sub in SUITE, f"{cmd}: unknown subcommand {sub!r}"
        with pytest.raises(SystemExit) as e, contextlib.redirect_stdout(io.StringIO()):
            __import__("mirbench.cli", fromlist=["main"]).main([sub, *args, "--help"])
        assert e.value.code == 0, f"{cmd}: does not parse"


def _parse_training(cmd: Command, sub: str, args: list[str]) -> None:
    """LightningCLI's parser and checks (class paths, init args, links), without instantiating anything."""
    from mirbench.lightning_cli import MirbenchCLI

    class ParseOnly(MirbenchCLI):
        def _set_seed(self) -> None: ...

        def instantiate_classes(self) -> None: ...

        def _run_subcommand(self, subcommand: str) -> None: ...

    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            ParseOnly(args=[sub, *args], parser_kwargs={"exit_on_error": False, "default_env": False})
    except SystemExit as e:  # --print_config prints and exits 0
        assert e.code == 0 and "--print_config" in args, f"{cmd}: exit {e.code}"
        assert "class_path" in out.getvalue()


def _parse_table(cmd: Command, sub: str, args: list[str]) -> None:
    from mirbench.bench.commands import _passthrough, build_parser
    from mirbench.bench.spec import load_spec

    parser = build_parser()
    ns, extra = parser.parse_known_args([sub, *args])
    _passthrough(parser, sub, extra)
    load_spec(ns.spec).profile(ns.profile)


def test_paths_named_in_the_readme_exist():
    spans = set(re.findall(r"`([^`\s]+)`", TEXT))
    paths = sorted(s.rstrip("/.,") for s in spans if REPO_PATH.match(s) and "<" not in s)
    assert paths
    missing = [p for p in paths if not (PROJECT_ROOT / p).exists()]
    assert not missing, f"README names paths that do not exist: {missing}"


def test_inline_mirbench_commands_name_real_subcommands():
    from mirbench.cli import commands as known

    subs = set(re.findall(r"`(?:\.venv/bin/)?mirbench ([a-z]+)", TEXT))
    assert subs and not subs - set(known()), f"README shows unknown subcommands: {subs - set(known())}"
    targets = set(re.findall(r"`make ([a-z0-9_%-]+)(?=[\s`])", TEXT))  # not `make table-<id>`
    explicit, patterns = makefile_targets()
    assert not {t for t in targets if not _make_target_ok(t, explicit, patterns)}


@pytest.mark.smoke
def test_fit_then_test_best_at_ci_scale(tmp_path, monkeypatch):
    """The README's ``mirbench fit`` and ``mirbench test ... --ckpt_path best``, as two CLIs, at CI scale."""
    from mirbench.bench.spec import load_spec
    from mirbench.cli import main

    monkeypatch.chdir(PROJECT_ROOT)
    fit = next(c for c in MIRBENCH if c.argv[1] == "fit" and "--print_config" not in c.argv)
    test = next(c for c in MIRBENCH if c.argv[1] == "test")
    ci = list(load_spec("ismir2020").profile("ci").overrides)
    extra = [*ci, f"--trainer.default_root_dir={tmp_path}", "--trainer.enable_progress_bar=false"]
    assert main([*fit.argv[1:], *extra]) == 0
    assert main([*test.argv[1:], *extra]) == 0
    assert list(tmp_path.glob("lightning_logs/*/checkpoints/last.ckpt"))


def _anchors(markdown: Path) -> set[str]:
    text = markdown.read_text()
    ids = set(re.findall(r'<a id="([\w-]+)"></a>', text))
    # GitHub's heading anchors too: lower case, punctuation dropped, spaces -> '-'
    ids |= {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-")
            for h in re.findall(r"^#+ (.+)$", text, flags=re.M)}
    return ids


def test_citations_of_the_docs_resolve():
    """Every ``docs/<page>.md#anchor`` cited in the code, configs, tests and docs names a page and an anchor."""
    anchors = {p.name: _anchors(p) for p in (PROJECT_ROOT / "docs").glob("*.md")}
    files = [PROJECT_ROOT / "README.md", *(PROJECT_ROOT / "docs").glob("*.md")]
    for folder in ("mirbench", "benchmarks", "tests"):
        files += [p for p in (PROJECT_ROOT / folder).rglob("*") if p.suffix in (".py", ".yaml", ".md", ".csv")]
    bad = []
    for path in files:
        for page, anchor in re.findall(r"(?:docs/)?(\w+\.md)#([\w-]+)", path.read_text(errors="replace")):
            if page in anchors and anchor not in anchors[page]:
                bad.append(f"{path.relative_to(PROJECT_ROOT)}: {page}#{anchor}")
            elif page not in anchors and "docs/" + page in path.read_text(errors="replace"):
                bad.append(f"{path.relative_to(PROJECT_ROOT)}: no docs/{page}")
    assert not bad, "citations of docs/ that do not resolve:\n" + "\n".join(bad)


def test_links_between_the_docs_exist():
    for page in (PROJECT_ROOT / "docs").glob("*.md"):
        for target in re.findall(r"\]\(([^)#:]+)(?:#[\w-]*)?\)", page.read_text()):
            assert (page.parent / target).exists(), f"{page.name} links to a missing {target}"


def test_citation_cff_has_what_cff_1_2_requires():
    import yaml

    cff = yaml.safe_load((PROJECT_ROOT / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0" and cff["message"] and cff["title"]
    assert cff["authors"] and all("name" in a or "family-names" in a for a in cff["authors"])
    from mirbench import __version__

    assert str(cff["version"]) == __version__


EVALUATE = [c for c in MIRBENCH if c.argv[1] == "evaluate"]


def test_the_readme_shows_evaluate_and_table_add():
    assert {("--protocol", "lee2020"), ("--data", "gtzan")} <= {p for c in EVALUATE for p in zip(c.argv, c.argv[1:])}
    assert any(c.argv[1] == "table" and "--add" in c.argv for c in MIRBENCH)


@pytest.mark.smoke
def test_evaluate_examples_at_ci_scale(tmp_path, capsys):
    """The README's ``mirbench evaluate`` commands and their ``table --add`` lines, run at ci scale (the tables'
    ci corpus, 4 GTZAN excerpts per genre, 2 probe draws) into a temporary folder."""
    from mirbench.cli import main

    for cmd in EVALUATE:
        args = list(cmd.argv[1:])
        out = args[args.index("--out") + 1]
        args[args.index("--out") + 1] = str(tmp_path / out)
        args += ["--profile", "ci"] if "gtzan" not in args else ["--protocol-arg", "gtzan_mini_per_genre=4",
                                                                   "--protocol-arg", "genre_n_iter=2"]
        assert main(args) == 0, f"{cmd}"
    for cmd in (c for c in MIRBENCH if c.argv[1] == "table" and "--add" in c.argv):
        args = list(cmd.argv[1:])
        i = args.index("--add") + 1
        name, _, path = args[i].partition("=")
        args[i] = f"{name}={tmp_path / path}"
        capsys.readouterr()
        assert main(args) == 0, f"{cmd}"
        out = capsys.readouterr().out
        assert "| *Added* |" in out and f"| `{name}` |" in out  # the group header, then the added row
