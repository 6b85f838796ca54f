"""Checkpoints load with ``torch.load(weights_only=True)``: only tensors, plain containers and the few classes the
suite itself saves (allow-listed here) are rebuilt, so a checkpoint from elsewhere cannot run code while it loads.

:func:`allow_suite_globals` registers the allow-list process-wide (``torch.serialization.add_safe_globals``), so
Lightning's own loads (``trainer.fit/test(ckpt_path=...)``, ``load_from_checkpoint``, whose ``weights_only``
default follows torch's, ``True``) take the suite's checkpoints too. :func:`load_checkpoint` is the one
``torch.load`` of the package: a file that needs anything else is refused with :class:`UntrustedCheckpointError`
unless the caller passes ``trust=True`` (``mirbench evaluate --trust-checkpoint``).
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any

TRUST_FLAG = "--trust-checkpoint"
_registered = False


class UntrustedCheckpointError(ValueError):
    """A checkpoint holds objects outside the suite's allow-list; loading it would run code from the file."""


def suite_globals() -> list[Any]:
    """The classes and functions (besides torch's own) that the suite's checkpoints pickle.

    numpy arrays, dtypes and random states, and the scikit-learn k-means that ``VQCodebookMethod`` keeps to continue
    ``partial_fit``; paths and :class:`~mirbench.data.base.DataInfo` for hyper-parameters. None of them runs
    anything beyond rebuilding its own state when unpickled.
    """
    import numpy as np
    from numpy.random import _pickle as np_random_pickle
    from sklearn.cluster import MiniBatchKMeans

    from mirbench.data.base import DataInfo

    multiarray = getattr(np, "_core", None) or np.core  # numpy 2 moved it; pickles name the module they came from
    out: list[Any] = [np.ndarray, np.dtype, multiarray.multiarray._reconstruct, multiarray.multiarray.scalar,
                      np_random_pickle.__randomstate_ctor, np_random_pickle.__bit_generator_ctor,
                      np.random.MT19937, np.random.PCG64, np.random.Generator, np.random.RandomState,
                      MiniBatchKMeans, Path, type(Path()), DataInfo]
    out += [type(np.dtype(c)) for c in "?bBhHiIlLqQefdgFDGUSO"]  # numpy 2 pickles a dtype by its class
    return out


def allow_suite_globals() -> None:
    """Register :func:`suite_globals` with torch's weights-only unpickler (idempotent)."""
    global _registered
    if _registered:
        return
    import torch

    torch.serialization.add_safe_globals(suite_globals())
    _registered = True


def load_checkpoint(path: str | Path, trust: bool = False, map_location: str = "cpu", mmap: bool = False) -> dict:
    """``torch.load`` with ``weights_only=True`` and the suite's allow-list; ``trust=True`` loads any pickle.

    Raises :class:`UntrustedCheckpointError` (one line, naming the file and the first refused global) for a
    checkpoint that needs anything else, and :class:`ValueError` for a file that is no checkpoint at all.
    """
    import torch

    allow_suite_globals()
    try:
        return torch.load(path, map_location=map_location, weights_only=not trust, mmap=mmap)
    except pickle.UnpicklingError as e:
        glob = re.search(r"GLOBAL (\S+)", str(e))
        if trust or glob is None:  # no refused class: the bytes are no checkpoint (text, truncated, random)
            raise ValueError(f"{path}: not a readable PyTorch checkpoint ({_first_line(e)})") from None
        raise UntrustedCheckpointError(
            f"{path}: refused to load: the checkpoint needs {glob.group(1)}, which mirbench does not save; "
            f"unpickling it could run code from the file. If you trust where it came from, pass {TRUST_FLAG}."
        ) from None
    except (RuntimeError, EOFError, OSError) as e:
        if isinstance(e, FileNotFoundError):
            raise
        raise ValueError(f"{path}: not a readable PyTorch checkpoint ({_first_line(e)})") from None


def _first_line(e: BaseException) -> str:
    """The telling line of torch's several-paragraph message (the one after its boilerplate), else the first."""
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    told = [line for line in lines if "Unsupported" in line or "invalid load key" in line]
    return (told or lines or [type(e).__name__])[0].split(". ")[0].rstrip(".")
