"""Which music21-corpus pieces make up the embedded corpus, with their genre and era.

The music21 wheel ships real scores: Bach chorales, Palestrina masses, Monteverdi madrigals, Trecento
songs, Haydn/Mozart/Beethoven quartet movements, Ryan's Mammoth Collection and O'Neill's 1850
dance tunes (ABC ``R:`` field gives the tune type) and Essen folk songs (file = region).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


def corpus_root() -> Path:
    import music21.corpus

    return Path(music21.corpus.__file__).parent


@dataclass(frozen=True)
class PieceSpec:
    """One piece to render; ``number`` selects a tune inside a multi-tune ABC file."""

    piece_id: str
    source: str
    path: str  # relative to the music21 corpus root
    genre: str
    era: str
    number: int | None = None
    abc_key: str = ""  # the ABC ``K:`` field, when present


@dataclass(frozen=True)
class Source:
    name: str
    weight: float  # share of the corpus
    era: str
    genre: str | None = None  # None: from the ABC ``R:`` field or the file (region)
    globs: tuple[str, ...] = ()
    pattern: str = ""  # regex on the file name a score must match
    files: dict[str, str] = field(default_factory=dict)  # ABC file stem -> genre


TUNE_TYPES = {
    "reel": "reel", "jig": "jig", "double jig": "jig", "slip jig": "jig", "slipjig": "jig",
    "hornpipe": "hornpipe", "clog": "hornpipe", "strathspey": "strathspey",
    "highland fling": "strathspey", "fling": "strathspey", "air": "air",
}

ESSEN_REGIONS = {
    "han1": "chinese folk", "han2": "chinese folk", "lot": "lorraine folk", "lux": "luxembourg folk",
    **{stem: "german folk" for stem in (
        "altdeu10", "altdeu20", "boehme10", "boehme20", "erk10", "erk20", "erk30", "fink0",
        "kinder0", "zuccal0")},
}

SOURCES: tuple[Source, ...] = (
    Source("bach", 0.12, "baroque", "chorale", ("bach/*.mxl",), r"^bwv\d+\.\d+\.mxl$"),
    Source("palestrina", 0.10, "renaissance", "mass", ("palestrina/*.krn",)),
    Source("monteverdi", 0.06, "renaissance", "madrigal", ("monteverdi/*.mxl",)),
    Source("trecento", 0.06, "medieval", "ars nova", ("trecento/*.xml",)),
    Source("quartets", 0.06, "classical", "string quartet",
           ("haydn/*/*.mxl", "mozart/*/*.mxl", "beethoven/*/*.mxl")),
    Source("ryans", 0.20, "19th century", None, ("ryansMammoth/*.abc",)),
    Source("oneills", 0.15, "19th century", None, ("oneills1850/*.abc",)),
    Source("essen", 0.25, "traditional", None, files=ESSEN_REGIONS),
)


def split_abc(text: str) -> list[tuple[int, dict[str, str], str]]:
    """Split an ABC file into tunes: (X number, header fields, tune text)."""
    tunes = []
    for block in re.split(r"\n(?=X:)", "\n" + text):
        block = block.strip()
        if not block.startswith("X:"):
            continue
        header: dict[str, str] = {}
        for line in block.splitlines():
            m = re.match(r"^([A-Za-z]):\s*(.*)$", line)
            if m and m.group(1) not in header:
                header[m.group(1)] = m.group(2).strip()
        try:
            number = int(header.get("X", "0").split()[0])
        except ValueError:
            continue
        tunes.append((number, header, block))
    return tunes


def _abc_candidates(source: Source, root: Path) -> list[PieceSpec]:
    files = (
        [root / "essenFolksong" / f"{stem}.abc" for stem in sorted(source.files)]
        if source.files else sorted(p for g in source.globs for p in root.glob(g))
    )
    out = []
    for path in files:
        region_genre = source.files.get(path.stem)
        for number, header, _ in split_abc(path.read_text(encoding="latin-1")):
            genre = region_genre or TUNE_TYPES.get(header.get("R", "").strip().lower())
            if genre is None:
                continue
            rel = str(path.relative_to(root))
            out.append(PieceSpec(f"{rel}#{number}", source.name, rel, genre, source.era,
                                 number, header.get("K", "")))
    return out


def candidates(source: Source, root: Path | None = None) -> list[PieceSpec]:
    """Every usable piece of one source, in a fixed order."""
    root = root or corpus_root()
    if source.genre is None:
        return _abc_candidates(source, root)
    paths = sorted({p for g in source.globs for p in root.glob(g)})
    if source.pattern:
        paths = [p for p in paths if re.match(source.pattern, p.name)]
    return [PieceSpec(str(p.relative_to(root)), source.name, str(p.relative_to(root)),
                      source.genre, source.era) for p in paths]


def quotas(n_pieces: int, sources: tuple[Source, ...] = SOURCES) -> dict[str, int]:
    """Pieces per source: ``n_pieces`` split by weight (largest remainder)."""
    total = sum(s.weight for s in sources)
    raw = np.array([n_pieces * s.weight / total for s in sources])
    counts = np.floor(raw).astype(int)
    for i in np.argsort(-(raw - counts))[: n_pieces - counts.sum()]:
        counts[i] += 1
    return {s.name: int(c) for s, c in zip(sources, counts)}


def select_pieces(n_pieces: int, seed: int) -> list[PieceSpec]:
    """A deterministic sample of ``n_pieces`` pieces, spread over sources by weight."""
    rng = np.random.default_rng(seed)
    chosen: list[PieceSpec] = []
    for source in SOURCES:
        pool = candidates(source)
        quota = min(quotas(n_pieces)[source.name], len(pool))  # small sources are taken whole
        idx = rng.permutation(len(pool))[:quota]
        chosen.extend(pool[i] for i in sorted(idx))
    return chosen
