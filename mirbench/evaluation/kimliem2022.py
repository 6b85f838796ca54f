"""The downstream protocol of Kim & Liem (ISMIR 2022; docs/protocols.md#kim-probes) on frozen song representations,
run at the end of ``Trainer.test`` by :class:`KimLiem2022Evaluation`.

Contract:

- the LightningModule implements ``embed(songs) -> (J, d)`` numpy (:mod:`mirbench.evaluation.contracts`; songs as
  the datamodule's view gives them) and a ``test_step`` (a no-op is fine); optionally
  ``responsibilities(songs) -> (J, K)`` (HDPGMM: the song-component matrix, saved for the interpretability table);
- the datamodule provides ``downstream_inputs()`` (:class:`mirbench.data.base.DownstreamInputs`): its view,
  ``song_from_audio(y)`` (that view of a mono 22,050-Hz waveform) and the songs of the three probes with their
  targets (:class:`mirbench.data.corpus.songs.CorpusSongsDataModule`: one set of songs plays all three roles);
- with ``real`` (the `real` profile) only the view and ``song_from_audio`` are read (e.g.
  :class:`mirbench.data.msd_songs.MSDSongsDataModule`): the three columns read the real GTZAN, MTAT and
  Echonest in that view (:mod:`mirbench.evaluation.downstream`).

Columns (metric keys logged as ``test/<name>``):

- ``gtzan_macro_f1``: genre probe (:func:`.genre_probe.genre_probe`, 64 draws of C) on the songs'
  single-label genre, predefined train/valid/test split (GTZAN's role);
- ``mtat_macro_auroc``: tagging probe (:func:`.tagging_probe.tagging_probe`, 32 draws) on the song tags
  (MTAT's role);
- ``echonest_ndcg500``: item-kNN nDCG@500 (:func:`.itemknn.itemknn_ndcg`, 5 user splits) on the
  datamodule's listening log (Echonest's role; on the corpus a *simulated* log);
- ``gtzan_mini_macro_f1`` (``gtzan_mini=True``; a missing folder is an error): the 100 real GTZAN excerpts
  (10 per genre, 30 s) decoded, put in the method's view, embedded, and the genre probe run on a
  deterministic per-genre split (:func:`mirbench.data.gtzan.stratified_split`, seed 0: 5 train / 2 valid /
  3 test excerpts per genre, 50 / 20 / 30 in all). 30 test excerpts: one excerpt moves macro-F1 by
  about 0.03; read it as a sanity check on real audio, not as a GTZAN result.

Also logged: ``valid/...`` scores of the probes' model selection, and ``test/embed_time_s`` and
``test/eval_time_s`` (seconds spent embedding and in the whole protocol).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from lightning.pytorch import LightningModule

from mirbench.data.base import DownstreamInputs, DownstreamSet, protocol_inputs
from mirbench.evaluation.contracts import Responsibilities
from mirbench.evaluation.ddp import ProtocolEvaluation
from mirbench.evaluation.downstream import RealDownstream
from mirbench.evaluation.genre_probe import genre_probe, macro_f1_replicates
from mirbench.evaluation.itemknn import itemknn_ndcg
from mirbench.evaluation.tagging_probe import tagging_probe
from mirbench.metrics.bootstrap import macro_auc_replicates
from mirbench.paths import shared_data_dir
from mirbench.threads import kept_threads

RESPONSIBILITIES_FILE = "song_components.npz"  # HDPGMM song-component matrix + tags (interpretability)
GTZAN_MINI_SPLIT_SEED = 0
# GTZAN-mini (TempoBeatDownbeat/gtzan_mini): excerpts 0-9 of each genre (key None), but jazz skips 3, 9 and 10
GTZAN_MINI_NUMBERS = {None: tuple(range(10)), "jazz": (0, 1, 2, 4, 5, 6, 7, 8, 11, 12)}
GTZAN_PER_GENRE = 100  # the whole collection: 1,000 excerpts


def gtzan_mini_root(root: str | Path | None = None) -> Path | None:
    """The gtzan_mini folder (``<shared data>/gtzan_mini`` by default) when it holds excerpts, else None."""
    from mirbench.data.gtzan import find_tracks

    path = Path(root) if root is not None else shared_data_dir() / "gtzan_mini"
    return path if path.is_dir() and find_tracks(path) else None


def gtzan_mini_songs(root: Path, view: str, to_view: Callable[[np.ndarray], np.ndarray],
                     per_genre: int | None = None) -> tuple[list, np.ndarray, np.ndarray, list]:
    """``(songs in the view, labels (N,), split (N,), track ids)`` of the excerpts under ``root``
    (``per_genre``: only the first excerpts of each genre, by id; CI uses 4).

    Audio is decoded at 22,050 Hz mono (:func:`mirbench.audio.decode.load_audio`) and put in the view by
    ``to_view``. The songs of a feature view are kept on disk (:func:`gtzan_mini_cache`, one cache per view and
    transform), so the rows of a table, later runs and subprocess runs featurise once; the ``audio`` view (the
    waveform itself, 265 MB for the 100 excerpts) is decoded on each call.
    """
    from mirbench.audio.decode import SAMPLE_RATE, load_audio
    from mirbench.data.gtzan import find_tracks

    tracks = find_tracks(root)
    ids, labels, split = gtzan_mini_ids(root, per_genre)
    if view == "audio":
        return [to_view(load_audio(tracks[t], sr=SAMPLE_RATE)) for t in ids], labels, split, ids
    cache = gtzan_mini_cache(root, view, to_view)
    todo = [t for t in ids if not (t in cache and cache.has_file(t))]
    for t in todo:
        cache.put(t, to_view(load_audio(tracks[t], sr=SAMPLE_RATE)))
    if todo:
        cache.flush()
    return [np.asarray(cache.load(t, mmap=False)) for t in ids], labels, split, ids


def gtzan_mini_cache(root: Path, view: str, to_view: Callable[[np.ndarray], np.ndarray]):
    """The on-disk songs of one view of the excerpts under ``root``:
    ``$MIRBENCH_DATA/gtzan_mini/features/<view>-<digest>``. The digest covers the excerpts' folder, the source of
    :mod:`mirbench.audio.features` and what ``to_view`` makes of one second of fixed noise, so another folder, a
    change of the feature code or another transform under the same view name gets a fresh cache."""
    import hashlib
    import inspect

    from mirbench.audio import features
    from mirbench.audio.cache import FeatureCache
    from mirbench.audio.decode import SAMPLE_RATE
    from mirbench.paths import dataset_dir

    probe = np.asarray(to_view(0.1 * np.random.default_rng(0).standard_normal(SAMPLE_RATE).astype(np.float32)))
    h = hashlib.sha1(f"{Path(root).resolve()}\n{inspect.getsource(features)}\n{probe.dtype}{probe.shape}".encode())
    h.update(np.ascontiguousarray(probe).tobytes())
    return FeatureCache(dataset_dir("gtzan_mini") / "features" / f"{view}-{h.hexdigest()[:12]}",
                        meta={"view": view, "root": str(Path(root).resolve())})


def gtzan_mini_ids(root: Path, per_genre: int | None = None) -> tuple[list[str], np.ndarray, np.ndarray]:
    """``(track ids, labels (N,), split (N,))`` of the excerpts under ``root`` in the order of
    :func:`gtzan_mini_songs` (genre by genre, ids sorted; the split of :func:`mirbench.data.gtzan.stratified_split`,
    seed :data:`GTZAN_MINI_SPLIT_SEED`)."""
    from mirbench.data.gtzan import GENRES, find_tracks, genre_of, stratified_split

    tracks = find_tracks(root)
    check_gtzan_excerpts(root, tracks, per_genre)
    ids = [t for g in GENRES for t in sorted(t for t in tracks if genre_of(t) == g)[:per_genre]]
    parts = stratified_split(ids, seed=GTZAN_MINI_SPLIT_SEED)
    split_of = {t: s for s, ts in parts.items() for t in ts}
    labels = np.array([GENRES.index(genre_of(t)) for t in ids], dtype=np.int64)
    split = np.array([split_of[t] for t in ids])
    return ids, labels, split


def expected_gtzan_excerpts(n_found: int, per_genre: int | None = None) -> list[str]:
    """The excerpt ids a GTZAN folder must hold, genre by genre: GTZAN-mini's 100 (:data:`GTZAN_MINI_NUMBERS`)
    or, for a folder of more than 100 excerpts (the whole collection), all 1,000; ``per_genre``: the first of
    each genre."""
    from mirbench.data.gtzan import GENRES

    mini = n_found <= sum(len(GTZAN_MINI_NUMBERS.get(g, GTZAN_MINI_NUMBERS[None])) for g in GENRES)
    numbers = {g: GTZAN_MINI_NUMBERS.get(g, GTZAN_MINI_NUMBERS[None]) if mini else range(GTZAN_PER_GENRE)
               for g in GENRES}
    return [f"{g}.{n:05d}" for g in GENRES for n in list(numbers[g])[:per_genre]]


def check_gtzan_excerpts(root: Path, tracks: dict, per_genre: int | None = None) -> None:
    """A FileNotFoundError naming the excerpts of :func:`expected_gtzan_excerpts` that ``tracks`` (the folder's
    excerpts) lacks: a genre probe on fewer excerpts gives another, incomparable score (and another split)."""
    expected = expected_gtzan_excerpts(len(tracks), per_genre)
    missing = [t for t in expected if t not in tracks]
    if missing:
        more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        raise FileNotFoundError(f"{root}: {len(missing)} of the {len(expected)} GTZAN excerpts the genre probe "
                                f"scores are missing ({', '.join(missing[:10])}{more}); restore them "
                                f"(genres/<genre>/<id>.au|wav|flac): a score on fewer is not comparable")


def gtzan_genre_items(model, songs, labels: np.ndarray, split: np.ndarray, genre_n_iter: int = 64,
                      seed: int = 2022, n_jobs: int | None = None) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """The GTZAN-mini column alone: ``model.embed(songs)`` and the genre probe on the predefined ``split``;
    ``({"test/gtzan_mini_macro_f1", "valid/gtzan_mini_macro_f1"}, {"test/gtzan_mini_macro_f1": replicates})``."""
    g_emb = _embed(model, songs)
    pred = {}
    with single_threaded():
        gm = genre_probe(g_emb, labels, split, n_iter=genre_n_iter, seed=seed, n_jobs=n_jobs, predictions=pred)
    return ({"test/gtzan_mini_macro_f1": gm["test/macro_f1"], "valid/gtzan_mini_macro_f1": gm["valid/macro_f1"]},
            {"test/gtzan_mini_macro_f1": macro_f1_replicates(pred["true"], pred["pred"])})


@contextmanager
def single_threaded():
    """BLAS/OpenMP and torch on one thread: the probes' many tiny solves only wait on a second thread
    (on 2 cores, the 64-draw genre probe ran 6x slower with two)."""
    from threadpoolctl import threadpool_limits

    with kept_threads(1), threadpool_limits(limits=1):  # both restore the caller's counts on exit
        yield


def _embed(model, songs) -> np.ndarray:
    emb = np.asarray(model.embed(songs), dtype=np.float64)
    if emb.ndim != 2 or len(emb) != len(songs):
        raise ValueError(f"embed() returned shape {emb.shape} for {len(songs)} songs; expected (J, d)")
    if not np.isfinite(emb).all():
        raise FloatingPointError(f"embed() returned {int((~np.isfinite(emb)).sum())} non-finite values")
    return emb


def save_song_components(path: str | Path, song_comp: np.ndarray, data: DownstreamSet) -> Path:
    """Write the song-component matrix ``(J, K)`` with the songs' tags (and split) to an ``.npz``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, song_comp=np.asarray(song_comp, dtype=np.float32), tags=np.asarray(data.tags, dtype=np.uint8),
             tag_names=np.asarray(data.tag_names, dtype=str), tag_categories=np.asarray(data.tag_categories, dtype=str),
             split=np.asarray(data.split, dtype=str))
    tmp.replace(path)
    return path


def evaluate(model, datamodule, **kwargs) -> dict[str, float]:
    """The whole protocol (:func:`evaluate_items`); the metrics only."""
    return evaluate_items(model, datamodule, **kwargs)[0]


def evaluate_items(
    model,
    datamodule,
    genre_n_iter: int = 64,
    tag_n_iter: int = 32,
    itemknn_splits: int = 5,
    gtzan_mini: bool = True,
    gtzan_mini_dir: str | Path | None = None,
    gtzan_mini_per_genre: int | None = None,
    seed: int = 2022,
    n_jobs: int | None = None,
    save_dir: str | Path | None = None,
    real: RealDownstream | None = None,
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """The whole protocol: ``(metrics, bootstrap replicates)``, keys ``"<stage>/<metric>"`` (see the module
    docstring); the replicates resample the test songs of the probes and the test users of the item-kNN splits.
    ``real``: the genre, tag and recommendation columns on the real GTZAN, MTAT and Echonest (in the
    datamodule's ``view``) instead of the datamodule's own songs."""
    t0 = time.perf_counter()
    inputs: DownstreamInputs = protocol_inputs(
        datamodule, "downstream", hint="a songs datamodule (CorpusSongsDataModule; MSDSongsDataModule with `real`); "
        "for the genre probe on GTZAN excerpts run "
        "`mirbench evaluate --protocol kimliem2022 --data gtzan --checkpoint CKPT`")
    if real is not None:
        parts = real.load(inputs.view)
        genre, tags, rec = parts["genre"], parts["tags"], parts["recommendation"]
    else:
        genre, tags, rec = inputs.genre, inputs.tags, inputs.recommendation
        if genre is None or tags is None or rec is None:
            raise ValueError(f"{type(datamodule).__name__}'s songs carry no genre, tag or listening targets: give "
                             "real=RealDownstream(...) (the `real` profile) for the probes on GTZAN, MTAT and Echonest")
    mini_root = gtzan_mini_root(gtzan_mini_dir) if gtzan_mini else None
    if gtzan_mini and mini_root is None:  # before any work: the column is asked for and cannot be computed
        where = gtzan_mini_dir or shared_data_dir() / "gtzan_mini"
        raise FileNotFoundError(f"gtzan_mini: no GTZAN excerpts under {where}; give gtzan_mini_dir, or set "
                                "gtzan_mini: false to leave the column out")
    if mini_root is not None:  # missing excerpts are an error before the model embeds anything
        gtzan_mini_ids(mini_root, gtzan_mini_per_genre)
    embedded: dict[int, np.ndarray] = {}

    def emb(data: DownstreamSet) -> np.ndarray:  # each data set embedded once
        if id(data) not in embedded:
            embedded[id(data)] = _embed(model, data.songs)
        return embedded[id(data)]

    for data in (genre, tags, rec):
        emb(data)
    out = {"test/embed_time_s": time.perf_counter() - t0}
    g_pred, t_pred = {}, {}
    with single_threaded():
        g = genre_probe(emb(genre), genre.labels, genre.split, n_iter=genre_n_iter, seed=seed, n_jobs=n_jobs,
                        predictions=g_pred)
        t = tagging_probe(emb(tags), tags.tags, tags.split, n_iter=tag_n_iter, seed=seed, n_jobs=n_jobs,
                          predictions=t_pred)
        r = itemknn_ndcg(emb(rec), rec.plays, n_splits=itemknn_splits, seed=seed)
    reps = {"test/gtzan_macro_f1": macro_f1_replicates(g_pred["true"], g_pred["pred"]),
            "test/mtat_macro_auroc": macro_auc_replicates(t_pred["scores"], t_pred["true"]),
            "test/echonest_ndcg500": r.replicates()}
    out["test/gtzan_macro_f1"], out["valid/gtzan_macro_f1"] = g["test/macro_f1"], g["valid/macro_f1"]
    out["test/mtat_macro_auroc"], out["valid/mtat_macro_auroc"] = t["test/macro_auroc"], t["valid/macro_auroc"]
    out["test/echonest_ndcg500"] = r.ndcg
    out["valid/echonest_ndcg500"] = float(np.mean([v[k] for v, k in zip(r.valid, r.best_k)]))

    if mini_root is not None:
        g_songs, g_labels, g_split, _ = gtzan_mini_songs(mini_root, inputs.view, inputs.song_from_audio,
                                                         gtzan_mini_per_genre)
        gm, gm_reps = gtzan_genre_items(model, g_songs, g_labels, g_split, genre_n_iter, seed, n_jobs)
        out.update(gm)
        reps.update(gm_reps)

    if save_dir is not None and isinstance(model, Responsibilities):
        save_song_components(Path(save_dir) / RESPONSIBILITIES_FILE, model.responsibilities(tags.songs), tags)
    out["test/eval_time_s"] = time.perf_counter() - t0
    return out, reps


class KimLiem2022Evaluation(ProtocolEvaluation):
    """Runs :func:`evaluate` at the end of ``Trainer.test`` and logs its metrics.

    The callback reads ``trainer.datamodule`` itself (``test_step`` may do nothing). Under DDP global rank 0
    evaluates and broadcasts the metrics; every rank logs them. Args as :func:`evaluate`; the defaults are the
    paper's (64 draws of C for the genre probe, 32 draws for the tagging probe, 5 item-kNN user splits, seed
    2022). ``gtzan_mini``: add the real GTZAN-mini column (``gtzan_mini_dir``, default ``<shared data>/gtzan_mini``;
    no excerpts there is an error; ``gtzan_mini_per_genre`` keeps the first excerpts of each genre). ``n_jobs``:
    parallel probe fits (joblib; the same numbers).
    ``save_song_components``: write ``<trainer.log_dir>/song_components.npz`` for models with
    ``responsibilities`` (HDPGMM; the songs of the tag column). ``real``: read the genre, tag and
    recommendation columns from the real GTZAN, MTAT and Echonest (:class:`~.downstream.RealDownstream`).
    """

    def __init__(
        self,
        genre_n_iter: int = 64,
        tag_n_iter: int = 32,
        itemknn_splits: int = 5,
        gtzan_mini: bool = True,
        gtzan_mini_dir: str | None = None,
        gtzan_mini_per_genre: int | None = None,
        seed: int = 2022,
        n_jobs: int | None = None,
        save_song_components: bool = True,
        real: RealDownstream | None = None,
    ) -> None:
        self.kwargs = dict(genre_n_iter=int(genre_n_iter), tag_n_iter=int(tag_n_iter), itemknn_splits=int(itemknn_splits),
                           gtzan_mini=bool(gtzan_mini), gtzan_mini_dir=gtzan_mini_dir,
                           gtzan_mini_per_genre=gtzan_mini_per_genre, seed=int(seed), n_jobs=n_jobs, real=real)
        self.save_song_components = bool(save_song_components)

    def evaluate(self, pl_module: LightningModule, datamodule, log_dir: Path
                 ) -> tuple[dict[str, float], dict[str, np.ndarray]]:
        # the test loop runs under inference mode; the tagging probe trains with autograd
        with torch.inference_mode(False), torch.enable_grad():
            return evaluate_items(pl_module, datamodule, save_dir=log_dir if self.save_song_components else None,
                                  **self.kwargs)
