"""Throughput of the HDPGMM online VI (one ``partial_fit`` = one OVI iteration) on synthetic 52-d
songs, reported against the machine's matmul peak measured in the same run.

FLOPs per batch of N frames (K corpus atoms, T song atoms, P = D(D+1)/2 + D + 1 quadratic features):
  likelihood        2 N P K          (one GEMM: quadratic features x coefficients)
  E-step, per sweep 4 N T K          (zeta' E[ln p] and E[ln p] varphi', batched over songs)
  responsibilities  2 N T K          (zeta varphi)
  statistics        2 N K P          (one GEMM: responsibilities' x quadratic features)
Elementwise work (soft-max, exp, digamma) is not counted, so the whole-iteration fraction of peak is
a lower bound of the arithmetic efficiency.

    python -m benchmarks.perf.hdpgmm_throughput [--songs 128 --frames 1300 --rounds 3 --dtype float32 --threads 1,2 --out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.perf._timing import write  # noqa: E402
from mirbench.hdpgmm.estep import e_step  # noqa: E402
from mirbench.hdpgmm.likelihood import expected_loglik  # noqa: E402
from mirbench.hdpgmm.linalg import n_quad_features  # noqa: E402
from mirbench.hdpgmm.mstep import accumulate_stats  # noqa: E402
from mirbench.hdpgmm.ovi import OnlineHDPGMM  # noqa: E402

DTYPES = {"float32": torch.float32, "float64": torch.float64}


def matmul_peak(dtype: torch.dtype, sizes=(1024, 2048)) -> float:
    """One measurement of square ``torch.mm`` FLOP/s (the machine's practical GEMM peak); the
    benchmark keeps the best over its rounds, interleaved with the kernels it compares against."""
    best = 0.0
    for n in sizes:
        a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
        torch.mm(a, b)
        t = time.perf_counter()
        torch.mm(a, b)
        best = max(best, 2.0 * n**3 / (time.perf_counter() - t))
    return best


def synthetic_batch(songs: int, frames: int, dim: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Whitened-scale frames: each song mixes 4 of 64 Gaussian clusters; lengths in [frames/2, frames]."""
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(64, dim, generator=g) * 1.5
    x = torch.zeros(songs, frames, dim)
    mask = torch.zeros(songs, frames, dtype=torch.bool)
    for j in range(songs):
        n = int(torch.randint(frames // 2, frames + 1, (), generator=g))
        z = torch.randint(64, (4,), generator=g)[torch.randint(4, (n,), generator=g)]
        x[j, :n] = centers[z] + 0.5 * torch.randn(n, dim, generator=g)
        mask[j, :n] = True
    return x, mask


def run(songs: int, frames: int, rounds: int, dtype: str, K: int = 256, T: int = 32, dim: int = 52,
        tol: float = 1e-6, max_iter: int = 1000, song_chunk: int = 64, sweeps: int = 20) -> dict:
    """``rounds`` interleaved rounds (matmul peak, likelihood, E-step sweeps, statistics, one OVI iteration,
    peak again); every rate is divided by the peak of its own round, so a busy machine lowers both sides
    of a fraction alike. Medians and ranges over the rounds."""
    torch.manual_seed(0)
    dt = DTYPES[dtype]
    x, mask = synthetic_batch(songs, frames, dim)
    n_frames = int(mask.sum())
    model = OnlineHDPGMM(dim=dim, n_components=K, n_song_components=T, compute_dtype=dtype,
                         e_step_tol=tol, e_step_max_iter=max_iter, song_chunk=song_chunk)
    model.initialise([(x, mask)], n_songs=songs * 100, init="kmeans++")
    model.partial_fit(x, mask)  # warm-up, and a state past the initialisation
    P = n_quad_features(dim)
    xv = x[mask].to(dt)
    xc, mc = next(model._chunks(x, mask))
    n_chunk = int(mc.sum())
    r = torch.rand(n_chunk, K, dtype=dt)
    keys = ("likelihood", "sweeps", "statistics", "iteration")
    t = {k: [] for k in ("peak",) + keys}
    e_sweeps = []

    def clock(key, fn):
        t0 = time.perf_counter()
        out = fn()
        t[key].append(time.perf_counter() - t0)
        return out

    for _ in range(rounds):
        peak = matmul_peak(dt)
        theta = model.theta()
        clock("likelihood", lambda: expected_loglik(xv, theta, model.frame_chunk))
        eq = model.expected_loglik(xc, mc, theta)
        elog_beta = model.elog_beta().to(dt)
        clock("sweeps", lambda: e_step(eq, mc, elog_beta, T, tol=0.0, max_iter=sweeps))
        stats = torch.zeros(K, P, dtype=dt)
        clock("statistics", lambda: accumulate_stats(stats, xc[mc], r, model.frame_chunk))
        out = clock("iteration", lambda: model.partial_fit(x, mask))
        e_sweeps.append(out["e_step_iters"])
        t["peak"].append(max(peak, matmul_peak(dt)))
    s_mean = sum(e_sweeps) / len(e_sweeps)
    flops = {
        "likelihood": 2.0 * n_frames * P * K,
        "e_step_per_sweep": 4.0 * n_frames * T * K,
        "responsibilities": 2.0 * n_frames * T * K,
        "statistics": 2.0 * n_frames * K * P,
    }
    flops["iteration"] = flops["likelihood"] + flops["statistics"] + flops["responsibilities"] + s_mean * flops["e_step_per_sweep"]
    scale = {"likelihood": 1.0, "sweeps": n_frames / n_chunk / sweeps, "statistics": n_frames / n_chunk, "iteration": 1.0}
    work = {"likelihood": flops["likelihood"], "sweeps": flops["e_step_per_sweep"], "statistics": flops["statistics"],
            "iteration": flops["iteration"]}
    rates = {k: [work[k] / (v * scale[k]) for v in t[k]] for k in keys}  # FLOP/s, the whole batch
    fractions = {k: [rt / pk for rt, pk in zip(rates[k], t["peak"])] for k in keys}
    med = statistics.median
    t_iter = med(t["iteration"])
    return {
        "machine": {"cpu": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
                    "torch": torch.__version__, "load_avg_1min": os.getloadavg()[0]},
        "config": {"songs": songs, "max_frames": frames, "frames": n_frames, "K": K, "T": T, "D": dim, "dtype": dtype,
                   "e_step_tol": tol, "e_step_max_iter": max_iter, "song_chunk": song_chunk, "rounds": rounds},
        "matmul_peak_gflops": med(t["peak"]) / 1e9,
        "matmul_peak_gflops_per_round": [v / 1e9 for v in t["peak"]],
        "flops_per_batch_gflop": {k: v / 1e9 for k, v in flops.items()},
        "e_step_sweeps_mean": s_mean,
        "seconds_per_round": t,
        "iteration_seconds": t_iter,
        "frames_per_s": n_frames / t_iter,
        "songs_per_s": songs / t_iter,
        "gflops": {k: med(v) / 1e9 for k, v in rates.items()},
        "fraction_of_peak": {k: med(v) for k, v in fractions.items()},
        "fraction_of_peak_range": {k: [min(v), max(v)] for k, v in fractions.items()},
        "time_share": {
            "likelihood": med(t["likelihood"]) / t_iter,
            "e_step": s_mean * med(t["sweeps"]) * scale["sweeps"] / t_iter,
            "statistics": med(t["statistics"]) * scale["statistics"] / t_iter,
        },
    }


QUICK_ARGS = ["--songs", "64", "--frames", "650", "--K", "64", "--T", "16", "--rounds", "3", "--threads", "1,2"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--songs", type=int, default=128)
    p.add_argument("--frames", type=int, default=1300, help="max frames per song (lengths drawn in [frames/2, frames])")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds (each: peak, kernels, one OVI iteration)")
    p.add_argument("--threads", default=None, help="comma-separated torch intra-op thread counts (default: torch's)")
    p.add_argument("--dtype", choices=sorted(DTYPES), default="float32")
    p.add_argument("--K", type=int, default=256)
    p.add_argument("--T", type=int, default=32)
    p.add_argument("--tol", type=float, default=1e-6)
    p.add_argument("--max-iter", type=int, default=1000)
    p.add_argument("--out", type=Path, default=None, help="JSON record (default results/perf/hdpgmm_throughput.json)")
    a = p.parse_args(argv)
    records = {}
    for threads in (a.threads.split(",") if a.threads else [None]):
        if threads:
            torch.set_num_threads(int(threads))
        rec = run(a.songs, a.frames, a.rounds, a.dtype, a.K, a.T, tol=a.tol, max_iter=a.max_iter)
        n = rec["machine"]["threads"]
        records[f"threads_{n}"] = rec
        lo_hi = rec["fraction_of_peak_range"]
        print(f"HDPGMM OVI K={a.K} T={a.T} {a.songs} songs, {n} thread(s) | matmul peak {rec['matmul_peak_gflops']:.1f} GFLOP/s "
              f"(per round {', '.join(f'{v:.0f}' for v in rec['matmul_peak_gflops_per_round'])}); iteration "
              f"{rec['iteration_seconds']:.3f} s, {rec['e_step_sweeps_mean']:.0f} E-step sweeps")
        for k in ("likelihood", "sweeps", "statistics", "iteration"):
            print(f"HDPGMM OVI K={a.K} T={a.T} {n} thread(s) | {k}: {rec['gflops'][k]:.1f} GFLOP/s -> "
                  f"{rec['fraction_of_peak'][k]:.2f}x matmul peak [{lo_hi[k][0]:.2f}-{lo_hi[k][1]:.2f}]")
    if len(records) > 1:
        first, *rest = records.values()
        for rec in rest:
            # the peak's own scaling says how much of the extra cores this machine gave the run
            print(f"HDPGMM OVI | {rec['machine']['threads']} threads vs {first['machine']['threads']}: iteration "
                  f"{first['iteration_seconds'] / rec['iteration_seconds']:.2f}x faster; matmul peak "
                  f"{rec['matmul_peak_gflops'] / first['matmul_peak_gflops']:.2f}x (load avg "
                  f"{rec['machine']['load_avg_1min']:.1f})")
    write({"runs": records}, "hdpgmm_throughput", a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
