"""Lightning + data pipeline overhead of the ISMIR 2020 rows against a bare torch loop on cached features.

The baseline is a plain ``for batch in cached: loss; backward; step`` over batches drawn from the same
datamodule beforehand and held in memory (no data loading, no Lightning). The measured side is what a table
row does: ``Trainer.fit`` on the corpus datamodule (memory-mapped features, triplet sampling, collation,
logging, progress bar off). Same model, same initial weights, same step count, one thread.

Target (issue: Lee et al. tables): < 10 % overhead. The two loops alternate (bare, Lightning, bare, ...)
so a busy machine slows both alike; each line is a median with its spread and the per-round ratio to the
bare loop; the record goes to JSON.

    python -m benchmarks.perf.ismir2020_overhead [--steps 30 --repeats 5 --out FILE]
"""

from __future__ import annotations

import argparse
import itertools
import logging
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from lightning.pytorch import LightningModule, Trainer

from benchmarks.perf._timing import headline, interleaved, report, write

from mirbench.backbones.inception import InceptionBackbone
from mirbench.data.corpus.datamodule import CorpusDataModule
from mirbench.methods.tagging import ClassificationMethod
from mirbench.methods.triplet import TripletMethod

QUICK_ARGS = ["--steps", "8", "--repeats", "3", "--n-pieces", "30"]
SMALL = dict(stem_channels=16, channels=(16, 32, 32, 64, 64, 64))  # as benchmarks/configs/ismir2020/cpu_scale.yaml


def make(kind: str, dm: CorpusDataModule) -> LightningModule:
    torch.manual_seed(0)
    backbone = InceptionBackbone(**SMALL, channels_last=True)
    if kind == "classification":
        return ClassificationMethod(backbone, normalize=True, data_info=dm.data_info)
    return TripletMethod(backbone, margin=0.1, disentangle=True, data_info=dm.data_info)


def bare_loss(kind: str, model: LightningModule, batch: dict) -> torch.Tensor:
    """The row's training loss, written out without Lightning (mirrors ``training_step``)."""
    if kind == "classification":
        return F.binary_cross_entropy_with_logits(model.tag_logits(batch["x"]), batch["tags"])
    n = len(batch["anchor"])
    emb = model.embed(torch.cat([batch["anchor"], batch["positive"], batch["negative"]]))
    return model.loss(emb[:n], emb[n:2 * n], emb[2 * n:], mask=model.masks[batch["category"]])


def cached_batches(dm: CorpusDataModule, steps: int) -> list[dict]:
    return [{k: v.clone() if torch.is_tensor(v) else v for k, v in b.items()}
            for b in itertools.islice(itertools.cycle(dm.train_dataloader()), steps)]


def bare_loop(kind: str, dm: CorpusDataModule, batches: list[dict]) -> float:
    model = make(kind, dm)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    model.train()
    t0 = time.perf_counter()
    for batch in batches:
        loss = bare_loss(kind, model, batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return time.perf_counter() - t0


def lightning_loop(kind: str, dm: CorpusDataModule, steps: int) -> float:
    model = make(kind, dm)
    trainer = Trainer(max_steps=steps, limit_val_batches=0, logger=False, enable_checkpointing=False,
                      enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                      accelerator="cpu", devices=1)
    t0 = time.perf_counter()
    trainer.fit(model, datamodule=dm)
    return time.perf_counter() - t0


def backbone_step(channels_last: bool):
    """One forward + backward of the small backbone on a triplet batch (96 x 1 x 129 x 128), as a callable."""
    torch.manual_seed(0)
    model = InceptionBackbone(**SMALL, channels_last=channels_last)
    x = torch.randn(96, 1, 129, 128)
    return lambda: model(x).sum().backward()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--n-pieces", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=5, help="interleaved rounds of each side")
    parser.add_argument("--rows", default="classification,triplet", help="row kinds: classification, triplet")
    parser.add_argument("--memory-format", action="store_true", help="only the NCHW vs channels-last backbone step")
    parser.add_argument("--out", type=Path, default=None, help="JSON record (default results/perf/ismir2020_overhead.json)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    for name in ("lightning.pytorch", "lightning.fabric"):  # the trainer's start-up notes, once per fit
        logging.getLogger(name).setLevel(logging.ERROR)
    record: dict = {"config": {k: str(v) for k, v in vars(args).items()}, "rows": {}}
    steps = interleaved({"nchw": backbone_step(False), "channels_last": backbone_step(True)}, args.repeats)
    record["backbone_step"] = report("Inception backbone step (96 x 1 x 129 x 128, fwd + bwd)", steps, "nchw")
    if not args.memory_format:
        for kind in args.rows.split(","):
            sampling = "clips" if kind == "classification" else "triplets"
            dm = CorpusDataModule(n_pieces=args.n_pieces, clips_per_piece=4, batch_size=32, sampling=sampling)
            dm.setup("fit")
            batches = cached_batches(dm, args.steps)
            times = interleaved({"bare_loop": lambda: bare_loop(kind, dm, batches),
                                 "lightning": lambda: lightning_loop(kind, dm, args.steps)}, args.repeats,
                                self_timed=True)
            rec = report(f"{kind} {args.steps} steps (target: lightning <= 1.10x bare_loop)", times, "bare_loop",
                         unit_work=args.steps, unit="steps")
            rec["overhead_pct_median"] = 100 * (rec["ratio_to_baseline"]["lightning"]["median"] - 1)
            record["rows"][kind] = rec
            ratio = rec["ratio_to_baseline"]["lightning"]["median"]
            record.setdefault("headline", []).append(headline(
                f"ISMIR 2020 {kind} row, {args.steps} steps: Lightning + data vs bare loop",
                rec["summary"]["lightning"]["median"], "bare torch loop", rec["summary"]["bare_loop"]["median"],
                "<= 1.10x bare loop", ratio <= 1.10, note=f"median per-round ratio {ratio:.2f}x"))
    write(record, "ismir2020_overhead", args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
