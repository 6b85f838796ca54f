"""Lightning + data pipeline overhead against a bare torch loop, same model, same cached features.

Target (issue: Lee et al. tables): < 10 % overhead. Prints steps/s of both and their ratio.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from lightning.pytorch import Trainer

from mirbench.backbones.inception import InceptionBackbone
from mirbench.data.corpus.datamodule import CorpusDataModule
from mirbench.methods.tagging import ClassificationMethod


def make(dm: CorpusDataModule) -> ClassificationMethod:
    torch.manual_seed(0)
    backbone = InceptionBackbone(stem_channels=16, channels=(16, 32, 32, 64, 64, 64))
    return ClassificationMethod(backbone, normalize=True, data_info=dm.data_info)


def bare_loop(dm: CorpusDataModule, steps: int) -> float:
    model = make(dm)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    model.train()
    done, t0 = 0, time.perf_counter()
    while done < steps:
        for batch in dm.train_dataloader():
            loss = F.binary_cross_entropy_with_logits(model.tag_logits(batch["x"]), batch["tags"])
            opt.zero_grad()
            loss.backward()
            opt.step()
            done += 1
            if done == steps:
                break
    return time.perf_counter() - t0


def lightning_loop(dm: CorpusDataModule, steps: int) -> float:
    model = make(dm)
    trainer = Trainer(max_steps=steps, limit_val_batches=0, logger=False, enable_checkpointing=False,
                      enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0)
    t0 = time.perf_counter()
    trainer.fit(model, datamodule=dm)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--n-pieces", type=int, default=60)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    dm = CorpusDataModule(n_pieces=args.n_pieces, clips_per_piece=4, batch_size=32)
    dm.setup()
    bare_loop(dm, 3)  # warm-up
    bare = min(bare_loop(dm, args.steps) for _ in range(2))
    light = min(lightning_loop(dm, args.steps) for _ in range(2))
    print(f"bare torch loop: {args.steps / bare:.2f} steps/s; Lightning: {args.steps / light:.2f} steps/s; "
          f"overhead {100 * (light / bare - 1):+.1f} % (target < 10 %)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
