"""Throughput of the HDPGMM online VI (one ``partial_fit`` = one OVI iteration) on synthetic 52-d
songs, against the machine's matmul peak measured in the same interleaved rounds, on 1 and 2 threads.

FLOPs per batch of N frames (K corpus atoms, T song atoms, D = 52, P = D(D+1)/2 + D + 1): the products
the algorithm cannot do without, each counted once (2 per multiply-add), whatever form the code uses:
  likelihood        2 N P K          (the quadratic form c_k + h_k.x - x'A_k x / 2 with A_k symmetric:
                                      D(D+1)/2 + D + 1 products per frame and atom; the quadratic-feature
                                      GEMM does exactly these, the centred form with a triangular solve
                                      D^2 + 3D, slightly more)
  E-step, per sweep 4 N T K          (zeta' E[ln p] and E[ln p] varphi', per song)
  responsibilities  2 N T K          (zeta varphi)
  statistics        2 N K P          (sum_n r_nk [x x' upper triangle, x, 1])
Element-wise work (soft-max, exp, digamma, the feature map) is not counted, so the fraction of peak is a
lower bound of the arithmetic efficiency. The E-step sweep count is the iteration's mean over song chunks.

Each round times, in rotating order (``_timing.interleaved``): the square-GEMM peak and one OVI iteration
on every thread count, and the likelihood, E-step sweeps and statistics kernels on the first; the model
state is restored before every iteration, so every timed iteration does the same work.

The 2-thread figure depends on OpenMP's wait policy, read once at start-up (``OMP_WAIT_POLICY``; the row names
the one in effect). The E-step's song chunks run on parallel threads, one intra-op thread each
(:mod:`mirbench.threads`): 1.77x on 2 threads with ``PASSIVE`` (what the Makefile exports; the same code
split by OpenMP, every element-wise pass a parallel region waking a sleeping thread, gave 0.97-1.03x), 1.65x with
libgomp's default short spin, 1.32x with ``ACTIVE`` (the caller's idle OpenMP thread spins beside the chunk
threads). Two such benchmarks side by side: 2.0 s per 2-thread iteration each under ``PASSIVE``, 3.1-3.5 s under
``ACTIVE``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.perf._timing import headline, interleaved, report, summary, write  # noqa: E402
from mirbench.hdpgmm.estep import e_step  # noqa: E402
from mirbench.hdpgmm.likelihood import expected_loglik  # noqa: E402
from mirbench.hdpgmm.linalg import n_quad_features  # noqa: E402
from mirbench.hdpgmm.mstep import accumulate_stats  # noqa: E402
from mirbench.hdpgmm.ovi import OnlineHDPGMM  # noqa: E402

DTYPES = {"float32": torch.float32, "float64": torch.float64}


PEAK_N = 2048  # square GEMM of the peak: large enough to run at the BLAS's best on any thread count


def timed(fn, threads: int):
    """A self-timed case for :func:`interleaved`: ``fn`` on ``threads`` intra-op threads, its seconds."""
    def case() -> float:
        torch.set_num_threads(threads)
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0
    return case


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


def run(songs: int, frames: int, rounds: int, dtype: str, threads: list[int], K: int = 256, T: int = 32,
        dim: int = 52, tol: float = 1e-6, max_iter: int = 1000, song_chunk: int = 64, sweeps: int = 20) -> dict:
    """``rounds`` interleaved rounds (see the module docstring); a fraction of peak is the median over the
    rounds of each round's fraction (its iteration against its peak GEMM on the same thread count)."""
    torch.manual_seed(0)
    dt = DTYPES[dtype]
    x, mask = synthetic_batch(songs, frames, dim)
    n_frames = int(mask.sum())
    model = OnlineHDPGMM(dim=dim, n_components=K, n_song_components=T, compute_dtype=dtype,
                         e_step_tol=tol, e_step_max_iter=max_iter, song_chunk=song_chunk)
    model.initialise([(x, mask)], n_songs=songs * 100, init="kmeans++")
    model.partial_fit(x, mask)  # a state past the initialisation
    state = {k: v.clone() for k, v in model.state_dict().items()}
    P = n_quad_features(dim)
    xv = x[mask].to(dt)
    xc, mc = next(model._chunks(x, mask))
    n_chunk = int(mc.sum())
    r = torch.rand(n_chunk, K, dtype=dt)
    theta, elog_beta = model.theta(), model.elog_beta().to(dt)
    eq = model.expected_loglik(xc, mc, theta)
    stats = torch.zeros(P, K, dtype=dt)
    a, b = torch.randn(PEAK_N, PEAK_N, dtype=dt), torch.randn(PEAK_N, PEAK_N, dtype=dt)
    e_sweeps: list[float] = []

    def iteration() -> None:
        model.load_state_dict(state)
        e_sweeps.append(model.partial_fit(x, mask)["e_step_iters"])

    cases = {}
    for n in threads:
        cases[f"peak_{n}t"] = timed(lambda: torch.mm(a, b), n)
        cases[f"iteration_{n}t"] = timed(iteration, n)
    cases["likelihood"] = timed(lambda: expected_loglik(xv, theta, model.frame_chunk), threads[0])
    cases["sweeps"] = timed(lambda: e_step(eq, mc, elog_beta, T, tol=0.0, max_iter=sweeps), threads[0])
    cases["statistics"] = timed(lambda: accumulate_stats(stats, xc[mc], r, model.frame_chunk), threads[0])
    times = interleaved(cases, rounds, warmup=1, self_timed=True)
    rec = report(f"HDPGMM OVI K={K} T={T} {songs} songs", times, f"iteration_{threads[0]}t")
    s_mean = statistics.mean(e_sweeps)
    flops = {
        "likelihood": 2.0 * n_frames * P * K,
        "e_step_per_sweep": 4.0 * n_frames * T * K,
        "responsibilities": 2.0 * n_frames * T * K,
        "statistics": 2.0 * n_frames * K * P,
    }
    flops["iteration"] = flops["likelihood"] + flops["statistics"] + flops["responsibilities"] + s_mean * flops["e_step_per_sweep"]
    med = {k: v["median"] for k, v in rec["summary"].items()}
    peak = {n: 2.0 * PEAK_N**3 / med[f"peak_{n}t"] for n in threads}
    # the kernels ran on one song chunk (and `sweeps` sweeps): scaled to the whole batch's work
    kernel_work = {"likelihood": flops["likelihood"], "sweeps": sweeps * 4.0 * n_chunk * T * K,
                   "statistics": 2.0 * n_chunk * K * P}
    # fractions of peak round by round (the work and the peak GEMM timed in the same round, so a neighbour's
    # load that slows one round slows both), then their median: ``per_round`` keeps the summaries
    per_round = {f"iteration_{n}t": summary([flops["iteration"] * p / (2.0 * PEAK_N**3 * t) for t, p in
                                             zip(times[f"iteration_{n}t"], times[f"peak_{n}t"])]) for n in threads}
    per_round.update({k: summary([w * p / (2.0 * PEAK_N**3 * t) for t, p in zip(times[k], times[f"peak_{threads[0]}t"])])
                      for k, w in kernel_work.items()})
    fraction = {k: v["median"] for k, v in per_round.items()}
    return {
        **rec,
        "config": {"songs": songs, "max_frames": frames, "frames": n_frames, "K": K, "T": T, "D": dim, "dtype": dtype,
                   "e_step_tol": tol, "e_step_max_iter": max_iter, "song_chunk": song_chunk, "rounds": rounds,
                   "threads": threads, "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "")},
        "matmul_peak_gflops": {f"{n}t": peak[n] / 1e9 for n in threads},
        "flops_per_batch_gflop": {k: v / 1e9 for k, v in flops.items()},
        "e_step_sweeps_mean": s_mean,
        "iteration_seconds": {f"{n}t": med[f"iteration_{n}t"] for n in threads},
        "frames_per_s": {f"{n}t": n_frames / med[f"iteration_{n}t"] for n in threads},
        "fraction_of_peak": fraction,
        "fraction_of_peak_per_round": per_round,
        "thread_speedup": {f"{n}t": summary([t1 / tn for t1, tn in zip(times[f"iteration_{threads[0]}t"],
                                                                         times[f"iteration_{n}t"])])
                           for n in threads[1:]},
    }


def headlines(rec: dict) -> list[dict]:
    """The summary rows: the 1-thread iteration against the time its FLOPs take at the matmul peak (the
    median of the per-round fractions), and the iteration on each further thread count against the first."""
    c, threads = rec["config"], rec["config"]["threads"]
    t1 = rec["iteration_seconds"][f"{threads[0]}t"]
    frac = rec["fraction_of_peak"][f"iteration_{threads[0]}t"]
    work = f"HDPGMM OVI iteration, {c['songs']} songs, K {c['K']}, T {c['T']}"
    spread = rec["fraction_of_peak_per_round"][f"iteration_{threads[0]}t"]
    rows = [headline(f"{work}: % of matmul peak ({threads[0]} thread{'s' if threads[0] > 1 else ''})", t1,
                     "matmul peak", t1 * frac, ">= 50 % of peak", frac >= 0.5,
                     note=f"{100 * frac:.0f} % of {rec['matmul_peak_gflops'][f'{threads[0]}t']:.0f} GFLOP/s, "
                          f"median per-round fraction, rounds {100 * spread['min']:.0f}-{100 * spread['max']:.0f} %")]
    for n in threads[1:]:
        up = rec["thread_speedup"][f"{n}t"]["median"]
        rows.append(headline(f"{work}: {n} threads vs {threads[0]}", rec["iteration_seconds"][f"{n}t"],
                             f"{threads[0]} thread", t1, ">= 1.6x", up >= 1.6,
                             note=f"{up:.2f}x faster (median per-round ratio); matmul peak "
                                  f"{rec['matmul_peak_gflops'][f'{n}t'] / rec['matmul_peak_gflops'][f'{threads[0]}t']:.2f}x; "
                                  f"OMP_WAIT_POLICY={c.get('omp_wait_policy') or 'unset'}"))
    return rows


# make bench: the size of issue 16's table, 5 rounds (about 45 s on 2 cores)
QUICK_ARGS = ["--songs", "256", "--frames", "1300", "--K", "64", "--T", "16", "--rounds", "5", "--threads", "1,2"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--songs", type=int, default=128)
    p.add_argument("--frames", type=int, default=1300, help="max frames per song (lengths drawn in [frames/2, frames])")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds (each: peak and one OVI iteration per thread count, kernels)")
    p.add_argument("--threads", default="1,2", help="comma-separated torch intra-op thread counts, the first the baseline")
    p.add_argument("--dtype", choices=sorted(DTYPES), default="float32")
    p.add_argument("--K", type=int, default=256)
    p.add_argument("--T", type=int, default=32)
    p.add_argument("--tol", type=float, default=1e-6)
    p.add_argument("--max-iter", type=int, default=1000)
    p.add_argument("--out", type=Path, default=None, help="JSON record (default results/perf/hdpgmm_throughput.json)")
    a = p.parse_args(argv)
    threads = [int(t) for t in a.threads.split(",")]
    before = torch.get_num_threads()
    try:
        rec = run(a.songs, a.frames, a.rounds, a.dtype, threads, a.K, a.T, tol=a.tol, max_iter=a.max_iter)
    finally:
        torch.set_num_threads(before)
    for k, f in rec["fraction_of_peak"].items():
        print(f"HDPGMM OVI K={a.K} T={a.T} | {k}: {100 * f:.0f} % of matmul peak")
    rec["headline"] = headlines(rec)
    for h in rec["headline"]:
        print(f"HDPGMM OVI | {h['work']}: {h['ours_s']:.3f} s vs {h['peer']} {h['peer_s']:.3f} s ({h['note']}); "
              f"target {h['target']}: {'met' if h['met'] else 'NOT met'}")
    write(rec, "hdpgmm_throughput", a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
