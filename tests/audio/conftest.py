from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def gtzan_flacs(shared_data) -> list[Path]:
    """The 100 real GTZAN excerpts of ``../shared/data/gtzan_mini`` (FLAC, 22,050 Hz mono)."""
    files = sorted((shared_data / "gtzan_mini" / "genres").glob("*/*.flac"))
    if not files:
        pytest.skip(f"no gtzan_mini FLACs under {shared_data}")
    return files


@pytest.fixture(scope="session")
def one_per_genre(gtzan_flacs) -> list[Path]:
    seen, out = set(), []
    for p in gtzan_flacs:
        if p.parent.name not in seen:
            seen.add(p.parent.name)
            out.append(p)
    return out
