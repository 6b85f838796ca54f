"""Audio: decoding (:mod:`.decode`), frame features (:mod:`.features`), a torch front end
(:mod:`.frontend`), the on-disk feature cache (:mod:`.cache`) and parallel preparation (:mod:`.prepare`).

The names below load on first use, so ``mirbench.audio.decode`` (and its ``SAMPLE_RATE``) does not
import torch."""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {"SAMPLE_RATE": "decode", "AudioDecodeError": "decode", "load_audio": "decode", "FEATURES": "features",
         "frames_kim2022": "features", "logmel_lee2020": "features", "normalize_lee2020": "features"}
__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'mirbench.audio' has no attribute {name!r}")
    return getattr(importlib.import_module(f"mirbench.audio.{_LAZY[name]}"), name)
