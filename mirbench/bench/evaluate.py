"""``mirbench evaluate`` / :func:`evaluate`: a model of one's own through a suite protocol, as a RunRecord.

The model is precomputed embeddings (``.npz``/``.parquet`` keyed by item id), an embedding of audio (a function or
an ``nn.Module``, by object or ``module:name`` / ``module.Class`` path; ``(n,)`` float32 mono at 22,050 Hz in
[-1, 1]) or a checkpoint of a mirbench method (:mod:`mirbench.evaluation.external`). The data and the protocol's
arguments default to those of the table the protocol feeds (``benchmarks/tables/<table>.yaml``, its base configs
and the chosen profile's), so the numbers sit beside the table's rows: ``mirbench table <table> --add NAME=PATH``.

Protocols: ``lee2020`` (ismir2020; R@K, tag AUC, triplet and Dim-Sim accuracy on the corpus clips),
``kimliem2022`` (hdpgmm2022; genre macro-F1, tag AUROC, item-kNN nDCG@500 on the corpus songs; with
``data="gtzan"`` the genre probe on real GTZAN excerpts, default ``<shared data>/gtzan_mini``), ``tutorial_knn``
(tutorial2020; 1-NN accuracy / macro-F1 on NSynth, precomputed embeddings keyed by the NSynth file name).
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

PROTOCOLS = {"lee2020": "ismir2020", "kimliem2022": "hdpgmm2022", "tutorial_knn": "tutorial2020"}
CALLBACKS = {"lee2020": "mirbench.evaluation.lee2020.Lee2020Evaluation",
             "kimliem2022": "mirbench.evaluation.kimliem2022.KimLiem2022Evaluation"}
DATA = {"lee2020": ("corpus",), "kimliem2022": ("corpus", "gtzan"), "tutorial_knn": ("nsynth",)}


@dataclass
class Evaluation:
    """What :func:`evaluate` returns: ``metrics`` ``{"test/<metric>": value}``, bootstrap ``replicates``, and the
    record written (``path``: ``<out>/<name>.json``, replicates in ``<name>.boot.npz`` beside it)."""

    name: str
    protocol: str
    data: str
    metrics: dict[str, float]
    replicates: dict[str, np.ndarray] = field(repr=False, default_factory=dict)
    path: Path | None = None
    n_items: int | None = None  # the items the protocol embedded and scored (e.g. 100 GTZAN-mini excerpts)


def closest(name: str, known) -> str:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.3)
    return f" Did you mean {close[0]!r}?" if close else ""


def resolve(path: str) -> Any:
    """``package.module:attr`` or ``package.module.Attr`` -> the object."""
    mod, sep, attr = path.partition(":")
    if not sep:
        mod, _, attr = path.rpartition(".")
    if not mod:
        raise ValueError(f"{path!r}: give a dotted path, e.g. mypkg.embed:mfcc or mypkg.models.MyNet")
    return getattr(importlib.import_module(mod), attr)


def _yaml(path: Path) -> dict:
    import yaml

    return yaml.safe_load(path.read_text()) or {}


def table_defaults(table: str, profile: str | None, callback: str | None) -> tuple[dict, dict]:
    """``(data init_args, protocol callback init_args)`` of a table's stack: base configs, the profile's configs,
    then its ``--data.init_args.K=V`` overrides."""
    from mirbench.bench.spec import load_spec
    from mirbench.paths import PROJECT_ROOT

    spec = load_spec(table)
    prof = spec.profile(profile)
    data, cb = {}, {}
    for ref in (*spec.base, *getattr(prof, "configs", ())):
        cfg = _yaml(PROJECT_ROOT / ref)
        data.update(((cfg.get("data") or {}).get("init_args") or {}))
        for c in (cfg.get("trainer") or {}).get("callbacks") or []:
            if isinstance(c, dict) and c.get("class_path") == callback:
                cb.update(c.get("init_args") or {})
    import yaml

    for o in getattr(prof, "overrides", ()):
        key, _, value = str(o).partition("=")
        if key.startswith("--data.init_args."):
            data[key[len("--data.init_args."):]] = yaml.safe_load(value)
    return data, cb


def _model(embeddings, model, checkpoint, init_args: dict | None, trust_checkpoint: bool = False):
    given = [x is not None for x in (embeddings, model, checkpoint)]
    if sum(given) != 1:
        raise ValueError("give exactly one of embeddings (a file), model (a function or nn.Module) or checkpoint")
    if embeddings is not None:
        from mirbench.evaluation.external import EmbeddingTable

        return "embeddings", embeddings if isinstance(embeddings, EmbeddingTable) else EmbeddingTable.load(embeddings)
    if checkpoint is not None:
        return "checkpoint", _load_checkpoint(checkpoint, init_args.pop("config", None) if init_args else None,
                                              init_args.pop("class_path", None) if init_args else None,
                                              trust=trust_checkpoint)
    from mirbench.evaluation.external import as_audio_embedder

    obj = resolve(model) if isinstance(model, str) else model
    if isinstance(obj, type):
        obj = obj(**(init_args or {}))
    return "audio", as_audio_embedder(obj)


def _load_checkpoint(path: str | Path, config: str | None = None, model_class: str | None = None,
                     trust: bool = False):
    """A mirbench method from a Lightning checkpoint. With ``config`` (the run's resolved config: the ``.yaml``
    beside its record, or ``config.yaml`` in its log folder) the model is built as the run built it (injected
    backbone, loss, linked data facts) and the weights loaded; otherwise its class from ``model_class`` or the
    checkpoint's ``hyper_parameters._class_path`` (methods whose parts are all hyper-parameters).

    The file is read weights-only (:func:`mirbench.checkpoints.load_checkpoint`): a checkpoint needing classes the
    suite does not save is refused unless ``trust``; a class named by the file must be a ``mirbench.`` method.
    """
    from lightning.pytorch import LightningModule

    from mirbench.checkpoints import TRUST_FLAG, load_checkpoint

    ckpt = load_checkpoint(path, trust=trust)
    if config is not None:
        from unittest import mock

        from mirbench.lightning_cli import MirbenchCLI

        with mock.patch.object(sys, "argv", sys.argv[:1]):
            cli = MirbenchCLI(args=["--config", str(config), "--trainer.logger=false"], run=False)
        cli.model.load_state_dict(ckpt["state_dict"])
        cli.model.eval()
        return cli.model
    cls_path = model_class or (ckpt.get("hyper_parameters") or {}).get("_class_path")
    hint = ("pass --config RUN.yaml, the run's resolved config (the .yaml beside its record, or config.yaml in its "
            "log folder)")
    if not isinstance(cls_path, str) or not cls_path:
        raise ValueError(f"{path}: the checkpoint does not name its class; {hint}")
    if not (trust or model_class or cls_path.startswith("mirbench.")):  # importing a module the file names runs it
        raise ValueError(f"{path}: the checkpoint names the class {cls_path!r}, not a mirbench method; {hint} "
                         f"(or {TRUST_FLAG} to import it)")
    cls = resolve(cls_path)
    if not (isinstance(cls, type) and issubclass(cls, LightningModule)):
        raise ValueError(f"{path}: {cls_path!r} is not a LightningModule; {hint}")
    model = cls.load_from_checkpoint(path, map_location="cpu", weights_only=not trust)
    model.eval()
    return model


def evaluate(protocol: str, embeddings=None, model=None, checkpoint=None, data: str = "corpus",
             name: str = "my_model", out: str | Path | None = None, table: str | None = None,
             profile: str | None = None, data_args: dict | None = None, protocol_args: dict | None = None,
             init_args: dict | None = None, data_root: str | None = None,
             trust_checkpoint: bool = False) -> Evaluation:
    """Run ``protocol`` (``lee2020`` | ``kimliem2022`` | ``tutorial_knn``) on ``data`` for one model of your own.

    Exactly one of ``embeddings`` (a ``.npz``/``.parquet`` path or :class:`~mirbench.evaluation.external.EmbeddingTable`),
    ``model`` (a function of a ``(n,)`` 22,050-Hz mono waveform -> ``(d,)``, an ``nn.Module`` on ``(B, n)``
    batches, or the dotted path of either; ``init_args`` for a class) or ``checkpoint`` (a mirbench method).
    Data and protocol arguments default to the ``table``'s (the protocol's own table and ``profile``), updated by
    ``data_args`` / ``protocol_args``. ``out``: write the RunRecord ``<out>/<name>.json`` (+ ``.boot.npz``).
    ``trust_checkpoint``: load a checkpoint that needs classes outside the suite's allow-list (runs its pickle).
    """
    from mirbench.bench.names import check_name

    check_name(name, "--name")  # before anything is computed or written: it becomes <out>/<name>.json
    if out is not None:
        _check_out(Path(out))
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; known: {', '.join(PROTOCOLS)}.{closest(protocol, PROTOCOLS)}")
    if data not in DATA[protocol]:
        raise ValueError(f"protocol {protocol!r} runs on data {', '.join(DATA[protocol])}, not {data!r}."
                         f"{closest(data, DATA[protocol])}")
    t0 = time.perf_counter()
    kind, m = _model(embeddings, model, checkpoint, dict(init_args or {}), trust_checkpoint)
    if protocol == "tutorial_knn":
        metrics, reps, n_items = _tutorial_knn(kind, m, data_root)
    else:
        dm_args, cb_args = table_defaults(table or PROTOCOLS[protocol], profile, CALLBACKS[protocol])
        dm_args.update(data_args or {})
        cb_args.update(protocol_args or {})
        if data_root:
            dm_args["root"] = data_root
        run = _lee2020 if protocol == "lee2020" else (_gtzan if data == "gtzan" else _kimliem2022)
        metrics, reps, n_items = run(kind, m, dm_args, cb_args, data_root)
    result = Evaluation(name, protocol, data, metrics, reps, n_items=n_items)
    if out is not None:
        result.path = write_evaluation(result, Path(out), time.perf_counter() - t0, kind)
    return result


def _check_out(out: Path) -> None:
    """A ValueError naming ``out`` when no record can be written there, before anything is computed."""
    import tempfile

    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".mirbench-write-test."):
            pass
    except OSError as e:
        raise ValueError(f"cannot write to --out {out} ({e.strerror or e}); nothing was computed. Make it writable "
                         f"or choose another folder") from None


def _lee2020(kind, model, dm_args: dict, cb_args: dict, data_root) -> tuple[dict, dict, int]:
    from mirbench.data.corpus.datamodule import CorpusDataModule
    from mirbench.evaluation import lee2020
    from mirbench.evaluation.external import ClipIds, LookupEmbedder, corpus_clip_ids

    cb_args.pop("save_embeddings", None)
    if kind == "audio":
        dm_args["features"] = "audio"
    dm = CorpusDataModule(**dm_args)
    if kind == "embeddings":
        clip_ids, tracks = corpus_clip_ids(dm)
        needed = np.concatenate([dm.split_clips["test"], dm.split_clips[dm.hparams.reference_split]])
        matrix = np.zeros((len(clip_ids), model.dim), dtype=np.float32)
        matrix[needed] = model.rows([clip_ids[i] for i in needed], [tracks[i] for i in needed])
        model, dm = LookupEmbedder(matrix), ClipIds(dm)
    corpus = dm.dm if isinstance(dm, ClipIds) else dm
    metrics, reps = lee2020.evaluate_items(model, dm, **cb_args)
    clips = np.union1d(corpus.split_clips["test"], corpus.split_clips[corpus.hparams.reference_split])
    return {f"test/{k}": v for k, v in metrics.items()}, {f"test/{k}": v for k, v in reps.items()}, len(clips)


def _kimliem2022(kind, model, dm_args: dict, cb_args: dict, data_root) -> tuple[dict, dict, int]:
    from mirbench.data.corpus.songs import CorpusSongsDataModule
    from mirbench.evaluation import kimliem2022
    from mirbench.evaluation.external import LookupEmbedder, SongIds, corpus_song_ids

    cb_args.pop("save_song_components", None)
    if kind == "audio":  # crop_length only shapes training crops; nothing trains here
        dm_args.update(view="audio", crop_length=dm_args.get("crop_length") or 59049)
    dm = CorpusSongsDataModule(**dm_args)
    if kind == "embeddings":  # the GTZAN-mini excerpts are not corpus songs: `--data gtzan` scores them
        model, dm = LookupEmbedder(model.rows(corpus_song_ids(dm))), SongIds(dm)
        cb_args["gtzan_mini"] = False
    import torch

    with torch.inference_mode(False), torch.enable_grad():
        metrics, reps = kimliem2022.evaluate_items(model, dm, **cb_args)
    songs = dm.dm if isinstance(dm, SongIds) else dm
    return metrics, reps, len(songs.song_indices())  # the corpus: one set of songs plays all three probes


def _gtzan(kind, model, dm_args: dict, cb_args: dict, data_root) -> tuple[dict, dict, int]:
    """The genre probe on real GTZAN excerpts (``data_root``, default ``<shared data>/gtzan_mini``): per-genre split."""
    from mirbench.evaluation import kimliem2022 as K
    from mirbench.evaluation.external import LookupEmbedder

    root = K.gtzan_mini_root(data_root or cb_args.get("gtzan_mini_dir"))
    if root is None:
        raise FileNotFoundError(f"no GTZAN excerpts (genres/<genre>/<genre>.000NN.au|wav|flac) under "
                                f"{data_root or 'the shared data folder (gtzan_mini)'}")
    per_genre = cb_args.get("gtzan_mini_per_genre")
    kw = dict(genre_n_iter=int(cb_args.get("genre_n_iter", 64)), seed=int(cb_args.get("seed", 2022)),
              n_jobs=cb_args.get("n_jobs"))
    if kind == "embeddings":
        ids, labels, split = K.gtzan_mini_ids(root, per_genre)  # missing excerpts: an error naming them
        return (*K.gtzan_genre_items(LookupEmbedder(model.rows(ids)), list(range(len(ids))), labels, split, **kw),
                len(ids))
    if kind == "audio":
        to_view, view = (lambda y: y), "audio"
    else:  # a mirbench method: the view of its own songs datamodule
        from mirbench.audio.decode import SAMPLE_RATE
        from mirbench.data.song_views import song_view

        view = dm_args.get("view", "frames52")
        to_view = lambda y: song_view(y, view, SAMPLE_RATE)  # noqa: E731
    songs, labels, split, _ = K.gtzan_mini_songs(root, view, to_view, per_genre)
    return (*K.gtzan_genre_items(model, songs, labels, split, **kw), len(songs))


def _tutorial_knn(kind, table, data_root) -> tuple[dict, dict, int]:
    """1-NN of the ISMIR 2020 tutorial on NSynth: gallery = train + valid, queries = test, ids = the CSV index."""
    import pandas as pd

    from mirbench.evaluation.knn import knn_scores
    from mirbench.paths import shared_data_dir

    if kind != "embeddings":
        raise ValueError("tutorial_knn takes precomputed embeddings keyed by the NSynth file name")
    root = Path(data_root) if data_root else shared_data_dir() / "nsynth_tutorial"
    parts = {s: pd.read_csv(root / f"nsynth_{s}.csv", index_col=0) for s in ("train", "valid", "test")}
    gallery = pd.concat([parts["train"], parts["valid"]])
    reps: dict[str, np.ndarray] = {}
    m = knn_scores(table.rows(gallery.index.astype(str)), gallery["instrument"].to_numpy(),
                   table.rows(parts["test"].index.astype(str)), parts["test"]["instrument"].to_numpy(),
                   replicates=reps)
    return ({f"test/{k}": v for k, v in m.items()}, {f"test/{k}": v for k, v in reps.items()},
            len(gallery) + len(parts["test"]))


def write_evaluation(result: Evaluation, out: Path, wall_time_s: float, kind: str = "") -> Path:
    """The RunRecord ``<out>/<name>.json`` (row = name, profile = protocol) and its replicates beside it."""
    from mirbench.bench.records import RunRecord, device_string, git_state, now, write_record_file, versions

    sha, dirty = git_state()
    from mirbench.bench.names import check_name

    check_name(result.name, "--name")
    rec = RunRecord(table_id=f"evaluate:{result.data}", row=result.name, seed=0, profile=result.protocol,
                    metrics={k: float(v) for k, v in result.metrics.items()}, git_sha=sha, git_dirty=dirty,
                    versions=versions(), device=device_string(), mode=f"evaluate:{kind}",
                    command=" ".join(sys.argv) if sys.argv and "mirbench" in sys.argv[0] else "",
                    wall_time_s=float(wall_time_s), finished=now(), n_items=result.n_items)
    return write_record_file(rec, out / f"{result.name}.json", result.replicates)


def _kvs(items: list[str]) -> dict:
    import yaml

    out = {}
    for it in items:
        if "=" not in it:
            raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {it!r}")
        k, v = it.split("=", 1)
        out[k] = yaml.safe_load(v)
    return out


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mirbench evaluate", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run a suite protocol on a model of your own and write a RunRecord that "
                    "`mirbench table <id> --add NAME=PATH` shows beside the paper's rows.",
        epilog="Audio given to a function or module: mono float32 in [-1, 1] at 22050 Hz ((n,) per item for a "
               "function, (B, n) for an nn.Module).\nItem ids: corpus tracks/songs T00012 (clips T00012/0, ...), "
               "GTZAN excerpts blues.00000, NSynth the file name.\n\nExamples:\n"
               "  mirbench evaluate --protocol lee2020 --model mirbench.evaluation.external:mfcc_stats --out runs/\n"
               "  mirbench evaluate --protocol kimliem2022 --data gtzan --embeddings my_gtzan.npz --out runs/")
    p.add_argument("--protocol", required=True, help=f"one of {', '.join(PROTOCOLS)}")
    p.add_argument("--data", default=None, help="corpus (default; nsynth for tutorial_knn) or gtzan (kimliem2022)")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--embeddings", type=Path, help=".npz (ids, emb) or .parquet (id + embedding columns)")
    what.add_argument("--model", help="module:function of audio, or module.Class of an nn.Module")
    what.add_argument("--checkpoint", type=Path, help="a checkpoint of a mirbench method (read weights-only)")
    p.add_argument("--trust-checkpoint", action="store_true",
                   help="load a --checkpoint that needs classes mirbench does not save: unpickling it may run code "
                        "from the file, so only for a file you trust")
    p.add_argument("--init-args", default="{}", help="JSON keyword arguments of --model's class")
    p.add_argument("--config", default=None, help="with --checkpoint: the run's resolved config (the .yaml beside "
                                                  "its record), so the method is built as it was trained")
    p.add_argument("--name", default="my_model", help="the row name of the record (default my_model)")
    p.add_argument("--out", type=Path, default=Path("mirbench_eval"), help="folder of the record (default mirbench_eval/)")
    p.add_argument("--table", default=None, help="the table whose data and protocol settings to use "
                                                 "(default: the protocol's: " +
                   ", ".join(f"{k} -> {v}" for k, v in PROTOCOLS.items()) + ")")
    p.add_argument("--profile", default=None, help="a profile of that table (e.g. ci: its small corpus)")
    p.add_argument("--data-root", default=None, help="the data set folder (gtzan: default <shared data>/gtzan_mini)")
    p.add_argument("--data-arg", action="append", default=[], metavar="KEY=VALUE", help="a datamodule argument")
    p.add_argument("--protocol-arg", action="append", default=[], metavar="KEY=VALUE", help="a protocol argument")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv)[1:])
    from mirbench.evaluation.external import EmbeddingError  # torch: only once the arguments parse

    data = args.data or ("nsynth" if args.protocol == "tutorial_knn" else "corpus")
    try:
        r = evaluate(args.protocol, embeddings=args.embeddings, model=args.model, checkpoint=args.checkpoint,
                     data=data, name=args.name, out=args.out, table=args.table, profile=args.profile,
                     data_args=_kvs(args.data_arg), protocol_args=_kvs(args.protocol_arg),
                     init_args={**json.loads(args.init_args), **({"config": args.config} if args.config else {})},
                     data_root=args.data_root, trust_checkpoint=args.trust_checkpoint)
    except (EmbeddingError, ValueError, FileNotFoundError, ImportError) as e:  # ImportError: parquet without pyarrow
        print(f"mirbench evaluate: error: {e}", file=sys.stderr)
        return 2
    width = max(len(k) for k in r.metrics)
    print(f"{r.name} on {r.protocol} ({r.data}, {r.n_items} items):")
    for k, v in r.metrics.items():
        print(f"  {k:<{width}}  {v:.4f}")
    table = args.table or PROTOCOLS[args.protocol]
    print(f"wrote {r.path}  (mirbench table {table} --add {r.name}={r.path})")
    return 0
