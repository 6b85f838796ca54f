"""Adapters that put a model the suite did not train through its protocols, unchanged.

A protocol asks a model for ``embed``: Lee 2020 on a batch ``x`` (:func:`.lee2020.evaluate_items`), Kim & Liem on a
sequence of songs (:func:`.kimliem2022.evaluate_items`). The adapters here answer it from

- precomputed embeddings (:class:`EmbeddingTable`: an ``.npz`` with ``ids`` and ``emb``, or a ``.parquet`` with an
  ``id`` column and one list column or one column per dimension), looked up by the data set's item ids: the
  batches and songs then carry ids instead of features (:class:`ClipIds`, :class:`SongIds`);
- a function of audio (``(n,)`` float32 mono at :data:`SAMPLE_RATE` Hz in [-1, 1] -> ``(d,)``) or an
  ``nn.Module`` whose ``forward`` (or ``embed``) takes ``(B, n)`` such waveforms (:class:`AudioEmbedder`).

Item ids: corpus tracks/songs ``T00012`` (a clip of it ``T00012/0``, its clips numbered in order), GTZAN excerpts
``blues.00000``. An id the protocol needs and the file lacks is an error naming how many and which.
"""

from __future__ import annotations

import codecs
import zipfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from mirbench.audio.decode import SAMPLE_RATE  # every audio input here: mono, float32 in [-1, 1]
from mirbench.data.base import DownstreamInputs, RetrievalInputs


class EmbeddingError(ValueError):
    """Precomputed embeddings that cannot serve a protocol (ids missing, wrong dimensions, non-finite values)."""


SAVE_HINT = "np.savez(PATH.npz, ids=ids, emb=emb), ids (N,) strings, emb (N, D) float"


def _magic(path: Path, n: int) -> bytes:
    """The first ``n`` bytes of ``path`` (what a format is told by)."""
    with open(path, "rb") as f:
        return f.read(n)


def _not_what(path: Path, what: str) -> str:
    """``"not <what> (an empty file | text | other bytes)"``: what the file looks like instead."""
    head = _magic(path, 512)
    if not head:
        return f"an empty file (0 bytes), not {what}"
    try:  # final=False: a character cut at byte 512 is no reason to call the file binary
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        looks = "a text file"
    except UnicodeDecodeError:
        looks = "other bytes"
    return f"not {what} ({looks})"


def check_finite(emb: np.ndarray, what: str) -> np.ndarray:
    """``emb`` as a ``(N, D)`` float32 array; raises :class:`EmbeddingError` on other shapes or NaN/inf."""
    emb = np.asarray(emb, dtype=np.float32)
    if emb.ndim != 2 or emb.shape[1] == 0:
        raise EmbeddingError(f"{what}: embeddings must be (N, D) with D >= 1, got shape {emb.shape}")
    bad = ~np.isfinite(emb).all(axis=1)
    if bad.any():
        raise EmbeddingError(f"{what}: {int(bad.sum())} of {len(emb)} embeddings have NaN or inf values "
                             f"(first rows: {np.flatnonzero(bad)[:5].tolist()})")
    return emb


class EmbeddingTable:
    """Embeddings ``(N, D)`` keyed by item id."""

    def __init__(self, ids: Sequence, emb: np.ndarray, source: str = "embeddings") -> None:
        self.ids = [str(i) for i in ids]
        self.source = source
        self.emb = check_finite(emb, source)
        if len(self.ids) != len(self.emb):
            raise EmbeddingError(f"{source}: {len(self.ids)} ids but {len(self.emb)} embeddings")
        self.index = {i: r for r, i in enumerate(self.ids)}
        if len(self.index) != len(self.ids):
            dup = sorted({i for i in self.ids if self.ids.count(i) > 1})[:5]
            raise EmbeddingError(f"{source}: duplicate ids, e.g. {dup}")

    @classmethod
    def _load_npz(cls, path: Path) -> EmbeddingTable:
        """The arrays ``ids`` and ``emb`` of an ``.npz``; every way the file can be wrong is one
        :class:`EmbeddingError` naming it (np.load would call a text file "pickled data")."""
        if _magic(path, 2) != b"PK":  # a zip archive, as np.savez writes; np.load tries to unpickle anything else
            raise EmbeddingError(f"{path}: {_not_what(path, 'an .npz archive')}; save the embeddings with {SAVE_HINT}")
        try:
            with np.load(path, allow_pickle=False) as z:
                missing = [k for k in ("ids", "emb") if k not in z.files]
                if missing:
                    found = f"it has {z.files}" if z.files else "it has no arrays"
                    raise EmbeddingError(f"{path}: no array(s) {missing} ({found}); save with {SAVE_HINT}")
                try:
                    ids, emb = z["ids"], z["emb"]
                except ValueError:  # an object array: loading it would unpickle
                    raise EmbeddingError(f"{path}: 'ids' or 'emb' is an object array; save the ids as strings "
                                         "(np.asarray(ids, dtype=str)) and emb as float (N, D)") from None
        except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as e:
            raise EmbeddingError(f"{path}: a truncated or damaged .npz ({type(e).__name__}: {e}); write it "
                                 f"again with {SAVE_HINT}") from None
        if ids.ndim != 1:
            raise EmbeddingError(f"{path}: 'ids' must be (N,), got shape {ids.shape}; save with {SAVE_HINT}")
        if len(ids) == 0:
            raise EmbeddingError(f"{path}: no embeddings in it (0 ids); save every item the protocol scores with "
                                 f"{SAVE_HINT}")
        return cls(ids.tolist(), emb, str(path))

    @property
    def dim(self) -> int:
        return int(self.emb.shape[1])

    @classmethod
    def load(cls, path: str | Path, id_column: str = "id") -> EmbeddingTable:
        """An ``.npz`` (arrays ``ids`` (N,) and ``emb`` (N, D)) or a ``.parquet`` (``id_column`` + one list column
        or numeric columns, one per dimension)."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"embeddings file not found: {path}")
        if path.suffix == ".npz":
            return cls._load_npz(path)
        if path.suffix == ".npy":  # one bare array: the protocol could not tell which item a row is
            raise EmbeddingError(f"{path}: an .npy holds one array and no item ids; save the ids with the "
                                 f"embeddings: {SAVE_HINT}")
        if path.suffix == ".parquet":
            import pandas as pd

            if _magic(path, 4) != b"PAR1":  # pyarrow's own message does not name the file
                raise EmbeddingError(f"{path}: {_not_what(path, 'a Parquet file')}; write it with "
                                     "DataFrame.to_parquet, or give an .npz")
            df = pd.read_parquet(path)  # needs pyarrow or fastparquet
            if id_column not in df.columns:
                raise EmbeddingError(f"{path}: no id column {id_column!r}; columns: {list(df.columns)[:10]}")
            rest = [c for c in df.columns if c != id_column]
            if len(rest) == 1 and df[rest[0]].dtype == object:
                emb = np.stack([np.asarray(v, dtype=np.float32) for v in df[rest[0]]])
            else:
                emb = df[rest].to_numpy(dtype=np.float32)
            return cls(df[id_column].astype(str).tolist(), emb, str(path))
        raise EmbeddingError(f"{path}: unknown embeddings format {path.suffix!r} (.npz or .parquet)")

    def rows(self, ids: Sequence[str], fallback: Sequence[str] | None = None) -> np.ndarray:
        """``(len(ids), D)``: the row of each id, else of its ``fallback`` id (a clip's track); raises
        :class:`EmbeddingError` naming the ids found under neither."""
        idx, missing = [], []
        for k, i in enumerate(ids):
            r = self.index.get(str(i))
            if r is None and fallback is not None:
                r = self.index.get(str(fallback[k]))
            idx.append(-1 if r is None else r)
            if r is None:
                missing.append(str(i) if fallback is None else f"{i} (or {fallback[k]})")
        if missing:
            raise EmbeddingError(f"{self.source}: {len(missing)} of {len(idx)} items the protocol needs have no "
                                 f"embedding, e.g. {missing[:5]} (the file has {len(self.ids)} ids, e.g. "
                                 f"{self.ids[:3]}); items are never dropped: embed them all")
        return self.emb[np.asarray(idx, dtype=np.int64)]


class LookupEmbedder(torch.nn.Module):
    """``embed(index)``: rows of a fixed matrix ``(N, D)``; index ``(B,)`` int tensor (Lee 2020 batches) or a
    sequence of ints (Kim & Liem songs, then numpy ``(J, D)``)."""

    def __init__(self, matrix: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("matrix", torch.from_numpy(np.ascontiguousarray(matrix, dtype=np.float32)))

    def embed(self, x):
        if isinstance(x, torch.Tensor):
            return self.matrix[x.long().to(self.matrix.device)]
        return self.matrix[torch.as_tensor(np.asarray(x, dtype=np.int64))].numpy()

    def test_step(self, *args, **kwargs) -> None:  # the protocols' contract; nothing to do
        return None


class AudioEmbedder(torch.nn.Module):
    """A user's embedding of audio as the protocols' ``embed``: ``fn`` maps ``(n,)`` float32 mono at
    :data:`SAMPLE_RATE` Hz to ``(d,)`` (``batched=False``), or ``(B, n)`` tensors to ``(B, d)`` (an
    ``nn.Module``, ``batched=True``). Lee 2020 batches ``(B, n)`` -> ``(B, d)`` tensor; Kim & Liem songs (a
    sequence of waveforms of any length) -> ``(J, d)`` numpy."""

    def __init__(self, fn: Callable, batched: bool = False) -> None:
        super().__init__()
        self.fn, self.batched = fn, batched
        if isinstance(fn, torch.nn.Module):
            self.module = fn  # parameters and device follow the module

    def _one(self, y: np.ndarray) -> np.ndarray:
        if self.batched:
            with torch.no_grad():
                out = self.fn(torch.as_tensor(np.asarray(y, dtype=np.float32))[None])
            return np.asarray(out.detach().cpu().numpy() if isinstance(out, torch.Tensor) else out)[0]
        return np.asarray(self.fn(np.asarray(y, dtype=np.float32)), dtype=np.float32).reshape(-1)

    def embed(self, x):
        if isinstance(x, torch.Tensor):
            if self.batched:
                with torch.no_grad():
                    return torch.as_tensor(self.fn(x.float())).float()
            return torch.from_numpy(np.stack([self._one(row) for row in x.cpu().numpy()]))
        return np.stack([self._one(y) for y in x]).astype(np.float32)

    def test_step(self, *args, **kwargs) -> None:
        return None


def as_audio_embedder(obj) -> AudioEmbedder:
    """An :class:`AudioEmbedder` of a function or an ``nn.Module`` (its ``embed`` when it has one, else ``forward``)."""
    if isinstance(obj, AudioEmbedder):
        return obj
    if isinstance(obj, torch.nn.Module):
        obj.eval()
        emb = AudioEmbedder(obj.embed if callable(getattr(obj, "embed", None)) else obj, batched=True)
        emb.module = obj
        return emb
    if callable(obj):
        return AudioEmbedder(obj, batched=False)
    raise TypeError(f"expected a function of audio or an nn.Module, got {type(obj).__name__}")


class ClipIds:
    """A clip datamodule (:class:`mirbench.data.corpus.datamodule.CorpusDataModule`) for Lee 2020 whose batches
    carry each clip's index as ``x`` (so a :class:`LookupEmbedder` answers ``embed``); the rest as the datamodule."""

    def __init__(self, dm) -> None:
        self.dm = dm

    @property
    def data_info(self):
        return self.dm.data_info

    def _ids(self, loader):
        for batch in loader:
            yield {**batch, "x": torch.as_tensor(batch["clip"])}

    def retrieval_inputs(self) -> RetrievalInputs:
        inputs = self.dm.retrieval_inputs()
        return replace(inputs, test=self._ids(inputs.test), reference=self._ids(inputs.reference))


def corpus_clip_ids(dm) -> tuple[list[str], list[str]]:
    """``(clip ids, track ids)`` of every clip of a corpus datamodule, in clip-index order (``T00012/0``)."""
    from mirbench.data.corpus.dimsim import track_id

    dm.setup()
    track = dm.clip_track
    k = dm.clips.groupby("track").cumcount().to_numpy()
    tracks = [track_id(int(t)) for t in track]
    return [f"{t}/{int(i)}" for t, i in zip(tracks, k)], tracks


class SongIds:
    """A songs datamodule (:class:`mirbench.data.corpus.songs.CorpusSongsDataModule`) for Kim & Liem whose
    ``songs()`` are song indices (so a :class:`LookupEmbedder` answers ``embed``); the targets as the datamodule."""

    def __init__(self, dm) -> None:
        self.dm = dm

    @property
    def data_info(self):
        return self.dm.data_info

    def downstream_inputs(self) -> DownstreamInputs:
        inputs = self.dm.downstream_inputs()
        ids = replace(inputs.genre, songs=[int(j) for j in self.dm.song_indices()])  # the corpus: one set, 3 roles
        return replace(inputs, genre=ids, tags=ids, recommendation=ids)


def corpus_song_ids(dm) -> list[str]:
    """Ids of every song of a corpus songs datamodule, in song order (``T00012``: the track of the clip corpus)."""
    from mirbench.data.corpus.dimsim import track_id

    return [track_id(int(j)) for j in dm.song_indices()]


def mfcc_stats(y: np.ndarray, sr: int = SAMPLE_RATE, n_mfcc: int = 20) -> np.ndarray:
    """An example embedding of audio: mean and standard deviation of 20 MFCCs (librosa defaults), ``(40,)``.

    ``y``: ``(n,)`` float32 mono at ``sr`` Hz. The README's worked example of ``mirbench evaluate``.
    """
    import librosa

    m = librosa.feature.mfcc(y=np.asarray(y, dtype=np.float32), sr=sr, n_mfcc=n_mfcc)
    return np.concatenate([m.mean(axis=1), m.std(axis=1)]).astype(np.float32)
