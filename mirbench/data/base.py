"""What a mirbench datamodule tells the model (:class:`DataInfo`, linked by the CLI) and the protocols (the typed
inputs :class:`RetrievalInputs`, :class:`DownstreamInputs`, :class:`PairedInputs`).

The CLI links ``data.data_info`` into ``model.init_args.data_info`` when both are instantiated, so facts such as
the tag vocabulary are written once, by the data. A protocol calls its datamodule's ``retrieval_inputs()``,
``downstream_inputs()`` or ``paired_inputs()`` and reads nothing else from it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
from scipy import sparse as sp

from mirbench.audio.decode import SAMPLE_RATE

# The tag categories of Lee et al. 2020, in the order of their disentangled sub-spaces (the Last.fm top-50 tags
# of MSD grouped as genre / mood / instrument / era; the embedded corpus labels its tags the same way).
LEE2020_CATEGORIES: tuple[str, ...] = ("genre", "mood", "instrument", "era")


@runtime_checkable
class ArrayData(Protocol):
    """A datamodule whose splits are whole arrays (the tutorial's classic methods fit on them at once)."""

    def arrays(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """``(features (N, d), labels (N,))`` of ``split``."""


@dataclass(frozen=True)
class DataInfo:
    """Facts about a data set that a method needs to build its heads.

    ``tag_names``/``tag_categories`` describe a multi-label vocabulary (category of each tag, e.g.
    ``genre``); ``categories`` orders the categories (the disentangled sub-spaces of Lee et al. 2020).
    ``class_names`` describe a single-label task. ``input_shape`` is one example's feature shape.
    """

    tag_names: tuple[str, ...] = ()
    tag_categories: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    class_names: tuple[str, ...] = ()
    input_shape: tuple[int, ...] = ()
    sample_rate: int = SAMPLE_RATE

    @property
    def num_tags(self) -> int:
        return len(self.tag_names)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def tags_of(self, category: str) -> list[int]:
        """Indices of the tags in one category."""
        return [i for i, c in enumerate(self.tag_categories) if c == category]


# -- what the protocols read (DESIGN: a protocol asks its datamodule for one typed input, never probes it) --------

Batches = Iterable[Mapping[str, Any]]
"""A data loader (or any iterable) of dict batches."""


@dataclass(frozen=True)
class DimSimTriplets:
    """Dim-Sim triplets (Lee et al. 2020): which of two clips listeners found closer to an anchor clip.

    ``anchor``, ``song1``, ``song2``: ``(n,)`` positions of the three clips in the order of ``clips`` (batches
    with ``x``, the clips themselves), or of the test clips when ``clips`` is ``None`` (the embedded corpus
    draws its triplets from its test clips). ``song1_vote``, ``song2_vote``: ``(n,)`` the listeners' votes.
    """

    anchor: np.ndarray
    song1: np.ndarray
    song2: np.ndarray
    song1_vote: np.ndarray
    song2_vote: np.ndarray
    clips: Batches | None = None


@dataclass(frozen=True)
class RetrievalInputs:
    """What the Lee et al. 2020 protocol (:mod:`mirbench.evaluation.lee2020`) reads from a clip datamodule.

    ``test``: the test clips in a fixed order, batches with ``x``, ``tags`` ``(B, T)`` and ``track``.
    ``reference``: the clips whose per-tag embedding centroids score the AUC of models without tag logits (the
    training split, in evaluation mode). ``dimsim``: the Dim-Sim triplets, ``None`` when there are none.
    """

    test: Batches
    reference: Batches
    dimsim: DimSimTriplets | None = None


@dataclass
class DownstreamSet:
    """Songs of one data set and the probe targets on them (``None``: the data set has no such targets)."""

    name: str
    songs: Sequence
    split: np.ndarray | None = None  # (J,) train/valid/test: the genre and tagging probes' predefined folds
    labels: np.ndarray | None = None  # (J,) int: one genre per song
    tags: np.ndarray | None = None  # (J, T) {0, 1}
    plays: sp.csr_matrix | None = None  # (U, J) listening log
    tag_names: tuple[str, ...] = ()
    tag_categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class DownstreamInputs:
    """What the Kim & Liem 2022 protocol (:mod:`mirbench.evaluation.kimliem2022`) reads from a song datamodule.

    ``view``: how songs are given to the model (``frames52`` | ``mel`` | ``audio``); ``song_from_audio(y, sr)``
    puts a mono waveform in that view (the real GTZAN excerpts). ``genre`` / ``tags`` / ``recommendation``: the
    sets of the three probes (one set may play all three roles, as the corpus does); ``None`` when the
    datamodule's songs carry no targets (MSD: the probes then read the real GTZAN, MTAT and Echonest).
    """

    view: str
    song_from_audio: Callable[..., Any]
    genre: DownstreamSet | None = None
    tags: DownstreamSet | None = None
    recommendation: DownstreamSet | None = None


@dataclass(frozen=True)
class PairedInputs:
    """What the Nakatsuka et al. 2024 protocol (:mod:`mirbench.evaluation.nakatsuka2024`) reads from a paired
    datamodule.

    ``test``: batches of music/video pairs whose ``item`` codes cover ``0..N-1`` once. ``groups``: ``(N,)`` a code
    per item (renderings of one piece share one; the relaxed R@k counts any item of the query's group), ``None``:
    each item its own group. ``ambiguous``: ``(N,)`` bool, the item has sibling renderings; ``None``: unknown.
    """

    test: Batches
    groups: np.ndarray | None = None
    ambiguous: np.ndarray | None = None


PROTOCOL_INPUTS = {"retrieval": RetrievalInputs, "downstream": DownstreamInputs, "paired": PairedInputs}
"""The typed input of each protocol family; a datamodule provides ``<kind>_inputs()`` returning it."""


def protocol_inputs(datamodule: Any, kind: str, hint: str = "") -> RetrievalInputs | DownstreamInputs | PairedInputs:
    """``datamodule.<kind>_inputs()``, checked to be the family's type; else a ``TypeError`` that says what is
    needed (``hint``: what to run instead)."""
    want = PROTOCOL_INPUTS[kind]
    method = f"{kind}_inputs"
    provide = getattr(type(datamodule), method, None)
    if provide is None:
        raise TypeError(f"{type(datamodule).__name__} has no {method}(): the {kind} protocols read a datamodule whose "
                        f"{method}() returns mirbench.data.base.{want.__name__} (see its docstring for what it holds)"
                        + (f"; {hint}" if hint else ""))
    got = provide(datamodule)
    if not isinstance(got, want):
        raise TypeError(f"{type(datamodule).__name__}.{method}() returned {type(got).__name__}, not {want.__name__}")
    return got
