"""What the paper-specific figures read from a table's runs: the profile, the rows a plot names, the ok seeds
of a row and the files its runs left in their work folders (``results/<table>/work/<profile>/<row>__seed<k>/``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd


def records_profile(records_df: pd.DataFrame) -> str:
    """The profile of a table's records frame (``default`` when there are none)."""
    return str(records_df.profile.iloc[0]) if len(records_df) else "default"


def plot_rows(spec, plot) -> list[str]:
    """The row ids a plot names (``plot.rows``), else every row of the spec."""
    return list(plot.rows) if plot is not None and plot.rows else [r.id for r in spec.rows]


def ok_seeds(records_df: pd.DataFrame, row: str) -> list[int]:
    """The seeds of ``row`` that ran to the end, sorted."""
    return sorted(int(s) for s in records_df[(records_df.row == row) & (records_df.status == "ok")].seed.unique())


def find_run_file(out_dir: Path, profile: str, row: str, seeds, name: str) -> Path | None:
    """``name`` written by a run of ``row`` (the first of ``seeds`` that has one; in-process runs keep it in the
    work folder, subprocess runs below it) under ``<out_dir>/work/<profile>/``."""
    for seed in seeds:
        work = Path(out_dir) / "work" / profile / f"{row}__seed{int(seed)}"
        hits = sorted(work.rglob(name)) if work.is_dir() else []
        if hits:
            return hits[0]
    return None


def row_files(records_df: pd.DataFrame, out_dir: Path, rows, name: str) -> Iterator[tuple[str, Path | None]]:
    """``(row, the file name its first ok seed left, or None)`` for each of ``rows``, in order, under the records'
    profile (:func:`find_run_file`)."""
    profile = records_profile(records_df)
    for row in rows:
        yield row, find_run_file(out_dir, profile, row, ok_seeds(records_df, row), name)


def row_label(spec, row: str) -> str:
    """The spec's label of ``row`` (the id itself when the spec has no such row)."""
    return next((r.label for r in spec.rows if r.id == row), row)


# Fixed metadata so that rendering the same records twice gives the same bytes (a no-op `mirbench table` leaves
# git clean): matplotlib stamps a PDF with its creation date unless told not to; the PNG "Software" key is fixed.
PDF_METADATA = {"CreationDate": None}
PNG_METADATA = {"Software": "mirbench (matplotlib)"}


def save_figure(fig, path: Path, dpi: int = 120, pdf: bool = True, **kwargs) -> Path:
    """``fig`` as ``path`` (PNG) and, with ``pdf``, beside it as ``.pdf``, both byte-reproducible; returns ``path``."""
    path = Path(path)
    fig.savefig(path, dpi=dpi, metadata=PNG_METADATA, **kwargs)
    if pdf:
        fig.savefig(path.with_suffix(".pdf"), metadata=PDF_METADATA, **kwargs)
    return path
