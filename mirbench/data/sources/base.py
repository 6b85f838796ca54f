"""One typed :class:`Source` for every data set: what its real files say, before any sampling or batching.

Card constants each source module defines (literals; :mod:`mirbench.data.registry` reads them with ``ast``):
``DATASET_ID``, ``DATASET_NAME``, ``DATASET_LICENSE``, ``DATASET_URL``, ``DATASET_LAYOUT``, ``DATAMODULE``
(the class path of its datamodule), ``DEFAULT_FEATURE`` and ``NEEDS_AUDIO_ROOT``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

import numpy as np
from scipy import sparse as sp

from mirbench.audio.prepare import AudioItem

if TYPE_CHECKING:
    from mirbench.data.featuredm import Table

SPLITS = ("train", "valid", "test")
CARD = ("DATASET_ID", "DATASET_NAME", "DATASET_LICENSE", "DATASET_URL", "DATASET_LAYOUT", "DATAMODULE",
        "DEFAULT_FEATURE", "NEEDS_AUDIO_ROOT")


@dataclass
class Interactions:
    """Play counts ``matrix`` (users x items, CSR) with the user ids and MSD track ids of its rows/columns."""

    matrix: sp.csr_matrix
    users: list[str]
    items: list[str]


@dataclass(frozen=True, eq=False)
class Source:
    """A parsed data set; row ``i`` of every per-item field is item ``ids[i]`` (a clip, track, note or video).

    Optional fields are None where the data set lacks them:
    ``splits``: split name -> ``(n_split,)`` int64 rows. ``tags``: ``(n, T)`` uint8 multi-hot with
    ``tag_names``, their ``tag_categories`` and the category order ``categories``. ``labels``: ``(n,)`` int64
    indices into ``class_names``. ``tracks`` / ``clip_track``: the tracks the items are cut from and
    ``(n,)`` int64 rows into ``tracks``. ``audio``: one :class:`AudioItem` per row (the path says when a file
    is absent). ``plays``: users x ``ids`` play counts. ``triplets``: ``(m, 3)`` rows (anchor, song1, song2)
    judged by ``votes`` ``(m, 2)``. ``groups``: ``(n,)`` int64 codes into ``group_names`` (videos of one piece).
    ``modalities``: the paired per-item feature caches (audio <-> video). ``features``: ``(n, d)`` float32
    summary features named ``feature_names``.
    """

    dataset: str
    ids: tuple[str, ...]
    splits: Mapping[str, np.ndarray]
    tags: np.ndarray | None = None
    tag_names: tuple[str, ...] | None = None
    tag_categories: tuple[str, ...] | None = None
    categories: tuple[str, ...] | None = None
    labels: np.ndarray | None = None
    class_names: tuple[str, ...] | None = None
    tracks: tuple[str, ...] | None = None
    clip_track: np.ndarray | None = None
    audio: tuple[AudioItem, ...] | None = None
    plays: Interactions | None = None
    triplets: np.ndarray | None = None
    votes: np.ndarray | None = None
    groups: np.ndarray | None = None
    group_names: tuple[str, ...] | None = None
    modalities: tuple[str, ...] | None = None
    features: np.ndarray | None = None
    feature_names: tuple[str, ...] | None = field(default=None)

    def __post_init__(self):
        set_ = object.__setattr__
        set_(self, "ids", tuple(self.ids))
        set_(self, "splits", MappingProxyType({k: np.asarray(v, dtype=np.int64) for k, v in self.splits.items()}))
        if self.audio is not None:
            set_(self, "audio", tuple(self.audio))

    def __len__(self) -> int:
        return len(self.ids)


def concat_splits(lists: Mapping[str, Sequence[str]], order: Sequence[str] = SPLITS) -> tuple[list[str], dict[str, np.ndarray]]:
    """Split lists -> ``(ids, splits)``: the ids of ``order``'s splits one after the other, each split its block
    of rows; splits absent from ``lists`` are left out."""
    ids: list[str] = []
    splits: dict[str, np.ndarray] = {}
    for s in order:
        if s in lists:
            splits[s] = np.arange(len(ids), len(ids) + len(lists[s]))
            ids += list(lists[s])
    return ids, splits


def to_table(source: Source) -> Table:
    """The :class:`~mirbench.data.featuredm.Table` of the feature datamodules (ids, splits, audio, targets)."""
    from mirbench.data.featuredm import Table

    return Table(ids=list(source.ids), splits=dict(source.splits), audio=list(source.audio or ()),
                 tags=source.tags, labels=source.labels)
