"""Per-step cost of each Nakatsuka 2024 row's loss relative to the InfoNCE baseline step.

One training step = both towers forward (the default :class:`~mirbench.methods.hypersphere.HypersphereMethod`
towers), the row's loss (built from ``benchmarks/configs/nakatsuka2024/<row>.yaml``, so the sizes are
the table's: S vMF draws, P projections), backward and an Adam step, on a batch of ``--batch`` items of
``--frames`` seconds (128-d audio, 1024-d rgb). Every row gets its own copy of the same initial model.

The rows are interleaved: each round times one step of every row, the order rotated by one row per
round, so drifts of a shared machine hit every row alike; a row's ratio is computed per round
(its step / the baseline's step of the same round) and reported as the median and the quartiles
over rounds. The loss alone (forward + backward on fixed embeddings) is timed in the same rounds.

Target (issue 11, "Speed"): the proposed loss (MCInfoNCE + SSW) at most 3x the baseline step.

    python benchmarks/perf/hypersphere_losses.py [--batch 256 --frames 10 --rounds 8 --threads 1 --out FILE]
"""

from __future__ import annotations

import argparse
import copy
import importlib
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks.perf._timing import DEFAULT_OUT as PERF_OUT  # noqa: E402
from benchmarks.perf._timing import headline  # noqa: E402
from mirbench.methods.hypersphere import AUDIO_DIM, RGB_DIM, HypersphereMethod  # noqa: E402

CONFIGS = ROOT / "benchmarks" / "configs" / "nakatsuka2024"
ROWS = ("baseline", "mcinfonce", "ssw", "mcinfonce_ssw", "pcmepp", "hib")
PROPOSED = "mcinfonce_ssw"
TARGET = 3.0
DEFAULT_OUT = PERF_OUT / "hypersphere_losses.json"


def loss_of_row(row: str) -> torch.nn.Module:
    """The row's loss exactly as its YAML configures it (class_path + init_args)."""
    spec = yaml.safe_load((CONFIGS / f"{row}.yaml").read_text())["model"]["init_args"]["loss"]
    module, _, name = spec["class_path"].rpartition(".")
    return getattr(importlib.import_module(module), name)(**spec.get("init_args", {}))


def make_batch(b: int, t: int, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    return {"audio": torch.randn(b, t, AUDIO_DIM, generator=g), "rgb": torch.randn(b, t, RGB_DIM, generator=g),
            "mask": torch.zeros(b, t, dtype=torch.bool), "item": torch.arange(b)}


def timed_step(model: HypersphereMethod, opt: torch.optim.Optimizer, batch: dict) -> float:
    t0 = time.perf_counter()
    opt.zero_grad(set_to_none=True)
    out = model(batch)
    model.loss(out["music_mu"], out["music_kappa"], out["video_mu"], out["video_kappa"]).backward()
    opt.step()
    return time.perf_counter() - t0


def timed_loss(loss: torch.nn.Module, emb: tuple[torch.Tensor, ...]) -> float:
    leaves = [e.detach().clone().requires_grad_(True) for e in emb]
    t0 = time.perf_counter()
    loss(*leaves).backward()
    return time.perf_counter() - t0


def quartiles(x: list[float]) -> tuple[float, float, float]:
    q = statistics.quantiles(x, n=4, method="inclusive") if len(x) > 1 else [x[0]] * 3
    return q[0], statistics.median(x), q[2]


def run(rows: tuple[str, ...], batch: int, frames: int, rounds: int, warmup: int, seed: int = 0) -> dict:
    torch.manual_seed(seed)
    base = HypersphereMethod(loss_of_row("baseline"))
    models, opts = {}, {}
    for row in rows:
        m = copy.deepcopy(base)
        m.loss = loss_of_row(row)
        models[row], opts[row] = m, torch.optim.Adam(m.parameters(), lr=1e-3)
    data = make_batch(batch, frames, seed)
    with torch.no_grad():
        out = base(data)
    emb = (out["music_mu"], out["music_kappa"], out["video_mu"], out["video_kappa"])
    step = {r: [] for r in rows}
    alone = {r: [] for r in rows}
    for k in range(warmup + rounds):
        order = rows[k % len(rows):] + rows[: k % len(rows)]
        for row in order:
            s, a = timed_step(models[row], opts[row], data), timed_loss(models[row].loss, emb)
            if k >= warmup:
                step[row].append(s)
                alone[row].append(a)
    results = {}
    for row in rows:
        ratios = [s / b for s, b in zip(step[row], step["baseline"])]
        results[row] = {"loss": type(models[row].loss).__name__, "step_s": step[row], "loss_alone_s": alone[row],
                        "step_quartiles_s": quartiles(step[row]), "loss_alone_quartiles_s": quartiles(alone[row]),
                        "ratio_quartiles": quartiles(ratios)}
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--frames", type=int, default=10, help="seconds per item")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rows", default=",".join(ROWS), help=f"comma-separated, from {', '.join(ROWS)}")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = tuple(r for r in args.rows.split(",") if r)
    if "baseline" not in rows:
        rows = ("baseline",) + rows
    t0 = time.perf_counter()
    results = run(rows, args.batch, args.frames, args.rounds, args.warmup)
    wall = time.perf_counter() - t0
    print(f"hypersphere losses: batch {args.batch} x {args.frames} s, {args.rounds} interleaved rounds, "
          f"{args.threads} thread(s), {wall:.0f} s; step = towers + loss + backward + Adam")
    for row, r in results.items():
        lo, med, hi = r["ratio_quartiles"]
        tag = f"; target <= {TARGET:g}x: {'met' if med <= TARGET else 'MISSED'}" if row == PROPOSED else ""
        print(f"  {row:14s} {r['loss']:14s} step {1e3 * r['step_quartiles_s'][1]:7.1f} ms, "
              f"{med:5.2f}x baseline [IQR {lo:.2f}-{hi:.2f}]; "
              f"loss alone {1e3 * r['loss_alone_quartiles_s'][1]:6.1f} ms{tag}")
    report = {"benchmark": "hypersphere_losses", "batch": args.batch, "frames": args.frames, "rounds": args.rounds,
              "warmup": args.warmup, "threads": args.threads, "wall_s": wall, "target_ratio": TARGET,
              "proposed": PROPOSED, "torch": torch.__version__, "machine": platform.platform(),
              "processor": platform.processor(), "rows": results}
    if PROPOSED in results:
        prop, base = results[PROPOSED], results["baseline"]
        ratio = prop["ratio_quartiles"][1]
        report["headline"] = [headline(f"Nakatsuka 2024 training step, {PROPOSED} loss, batch {args.batch}",
                                       prop["step_quartiles_s"][1], "InfoNCE baseline step",
                                       base["step_quartiles_s"][1], f"<= {TARGET:g}x baseline", ratio <= TARGET,
                                       note=f"median per-round ratio {ratio:.2f}x")]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    print(f"  -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
