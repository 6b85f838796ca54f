"""DML Recall@K (K = 1, 2, 4, 8; share-a-tag relevance) on N synthetic multi-label items: mirbench's
chunked top-K (:func:`mirbench.metrics.retrieval.recall_at_k`) vs torchmetrics ``RetrievalHitRate``
fed the full query x gallery score list (the query itself removed), chunk by chunk.

torchmetrics keeps all N (N - 1) scores, targets and query indexes as state and groups them per query
at ``compute``; one metric per K, sharing their state through a ``MetricCollection`` compute group.
Both give identical values on tie-free data (checked).

    python benchmarks/perf/retrieval_speed.py [--n 10000 --dim 128 --tags 50 --chunk 1024 --threads N --out FILE]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from mirbench.metrics.retrieval import recall_at_k  # noqa: E402

KS = (1, 2, 4, 8)


def synthetic(n: int, dim: int, n_tags: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Embeddings with a tag signal; 1-4 tags per item from a skewed (Zipf-like) vocabulary, as MSD top-50."""
    g = torch.Generator().manual_seed(seed)
    popularity = 1.0 / torch.arange(1, n_tags + 1, dtype=torch.float64)
    n_per = torch.randint(1, 5, (n,), generator=g)
    tags = torch.zeros(n, n_tags)
    for i in range(n):
        tags[i, torch.multinomial(popularity, int(n_per[i]), generator=g)] = 1.0
    protos = torch.randn(n_tags, dim, generator=g)
    emb = tags @ protos / n_per[:, None] + 1.5 * torch.randn(n, dim, generator=g)
    return emb, tags


def torchmetrics_recall(emb: torch.Tensor, tags: torch.Tensor, chunk: int) -> dict[int, float]:
    from torchmetrics import MetricCollection
    from torchmetrics.retrieval import RetrievalHitRate

    metrics = MetricCollection({f"r{k}": RetrievalHitRate(top_k=k) for k in KS}, compute_groups=True)
    n = emb.shape[0]
    sq = emb.pow(2).sum(1)
    t = tags > 0
    answerable = (t & (t.sum(0) >= 2)).any(1)  # the same "skip queries with no relevant item" convention
    for s in range(0, n, chunk):
        e = min(s + chunk, n)
        q = torch.arange(s, e)
        score = -(sq[q, None] + sq[None, :] - 2.0 * emb[q] @ emb.T)
        target = (t[q].float() @ t.float().T) > 0
        keep = torch.ones(e - s, n, dtype=torch.bool)
        keep[torch.arange(e - s), q] = False
        keep &= answerable[q, None]
        idx = q[:, None].expand(e - s, n)
        metrics.update(score[keep], target[keep], indexes=idx[keep])
    out = metrics.compute()
    return {k: float(out[f"r{k}"]) for k in KS}


def timed(fn, *args):
    t = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=10000)
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--tags", type=int, default=50)
    p.add_argument("--chunk", type=int, default=1024)
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    p.add_argument("--out", type=Path, default=None, help="write the JSON record here")
    a = p.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    emb, tags = synthetic(a.n, a.dim, a.tags)
    recall_at_k(emb[:256], tags[:256], KS)  # warm-up
    ours, t_ours = timed(recall_at_k, emb, tags, KS, "euclidean", a.chunk)
    ref, t_ref = timed(torchmetrics_recall, emb, tags, a.chunk)
    rec = {
        "n": a.n, "dim": a.dim, "tags": a.tags, "chunk": a.chunk,
        "mirbench_s": round(t_ours, 3), "torchmetrics_s": round(t_ref, 3), "speedup": round(t_ref / t_ours, 2),
        "recall_mirbench": ours, "recall_torchmetrics": ref,
        "max_abs_diff": max(abs(ours[k] - ref[k]) for k in KS),
        "machine": {"platform": platform.platform(), "threads": torch.get_num_threads(), "torch": torch.__version__},
    }
    text = json.dumps(rec, indent=2)
    print(text)
    print(f"\nR@{{1,2,4,8}} at N={a.n}: mirbench {t_ours:.2f} s vs torchmetrics RetrievalHitRate {t_ref:.2f} s "
          f"-> {t_ref / t_ours:.1f}x faster (max |diff| {rec['max_abs_diff']:.2g})")
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
