"""Nearest-neighbour search for DML Recall@K and paired ranks at Lee et al.'s MSD test size: mirbench vs
faiss ``IndexFlatL2`` / ``IndexFlatIP`` (exact flat search; optional) and the previous full-row torch code.

Work: N x D synthetic multi-label embeddings (default quick N = 8,192; ``--n 28435 --dim 256`` is the
MSD test set of Lee et al.), the 8 nearest of every item (R@1/2/4/8), and the 1-based rank of the paired
item for N paired queries (cosine). faiss does the same flat products (k = 9 including the query itself;
k = 1 for the paired work, which has the same multiply). Repetitions interleave A B C, per thread count;
every line is a median and its ratio to the baseline (faiss when installed, else the full-row torch code).
R@K from faiss's lists and from ours are checked equal, and paired ranks against the full-row code.

    python -m benchmarks.perf.retrieval_speed [--n 28435 --dim 256 --threads 1,2 --repeats 3 --out FILE]
"""

from __future__ import annotations

import argparse
import sys

import torch

from benchmarks.perf._timing import interleaved, report, write
from mirbench.metrics.paired_retrieval import paired_ranks
from mirbench.metrics.retrieval import Relevance, nearest_neighbours, prepare_gallery, row_scores

KS = (1, 2, 4, 8)
QUICK_ARGS = ["--n", "8192", "--dim", "256", "--repeats", "3"]


def synthetic(n: int, dim: int, n_tags: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Embeddings with a tag signal; 1-4 tags per item from a skewed (Zipf-like) vocabulary, as MSD top-50."""
    g = torch.Generator().manual_seed(seed)
    popularity = 1.0 / torch.arange(1, n_tags + 1, dtype=torch.float64)
    n_per = torch.randint(1, 5, (n,), generator=g)
    pick = torch.multinomial(popularity.expand(n, -1), 4, generator=g)
    tags = torch.zeros(n, n_tags)
    keep = torch.arange(4)[None, :] < n_per[:, None]
    tags[torch.arange(n)[:, None].expand(-1, 4)[keep], pick[keep]] = 1.0
    protos = torch.randn(n_tags, dim, generator=g)
    emb = tags @ protos / n_per[:, None] + 1.5 * torch.randn(n, dim, generator=g)
    return emb, tags


def full_row_neighbours(emb: torch.Tensor, k: int, chunk: int = 1024) -> torch.Tensor:
    """The previous code: one ``chunk x N`` product per query chunk, then a top-k of the full rows."""
    g_sq = emb.pow(2).sum(1)
    out = []
    for s in range(0, len(emb), chunk):
        d = row_scores(emb[s:s + chunk], emb, "euclidean", g_sq)
        r = torch.arange(d.shape[0])
        d[r, r + s] = float("inf")
        out.append(torch.topk(d, k, dim=1, largest=False, sorted=True).indices)
    return torch.cat(out)


def full_row_ranks(a: torch.Tensor, b: torch.Tensor, chunk: int = 1024) -> torch.Tensor:
    """The previous paired ranks (cosine, pessimistic ties): one full-width product per query chunk."""
    q, g = prepare_gallery(a, "cosine"), prepare_gallery(b, "cosine")
    out = []
    for s in range(0, len(q), chunk):
        d = row_scores(q[s:s + chunk], g, "cosine")
        r = torch.arange(d.shape[0])
        out.append((d <= d[r, r + s][:, None]).sum(1))
    return torch.cat(out)


def recall_from(nn: torch.Tensor, rel: Relevance) -> dict[int, float]:
    first = rel(torch.arange(len(rel)), nn).cummax(dim=1).values
    ok = rel.answerable
    return {k: float((first[:, k - 1] & ok).sum()) / int(ok.sum()) for k in KS}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=28435)
    p.add_argument("--dim", type=int, default=256)
    p.add_argument("--tags", type=int, default=50)
    p.add_argument("--threads", default="1,2", help="comma-separated torch/faiss thread counts")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", default=None, help="JSON record (default results/perf/retrieval_speed.json)")
    a = p.parse_args(argv)
    emb, tags = synthetic(a.n, a.dim, a.tags)
    rel = Relevance(tags)
    paired = emb + torch.randn(emb.shape, generator=torch.Generator().manual_seed(1)) * 3.0
    try:
        import faiss
    except ImportError:
        faiss = None
        print("faiss-cpu not installed: faiss columns skipped (pip install faiss-cpu for the peer figure)")
    x, xn, yn = emb.numpy(), prepare_gallery(emb, "cosine").numpy(), prepare_gallery(paired, "cosine").numpy()
    record: dict = {"config": vars(a), "faiss": getattr(faiss, "__version__", None), "runs": {}}
    for threads in [int(t) for t in a.threads.split(",")]:
        torch.set_num_threads(threads)
        knn = {"mirbench": lambda: nearest_neighbours(emb, max(KS)),
               "torch_full_rows": lambda: full_row_neighbours(emb, max(KS))}
        ranks = {"mirbench": lambda: paired_ranks(emb, paired, "cosine"),
                 "torch_full_rows": lambda: full_row_ranks(emb, paired)}
        if faiss is not None:
            faiss.omp_set_num_threads(threads)
            l2, ip = faiss.IndexFlatL2(a.dim), faiss.IndexFlatIP(a.dim)
            l2.add(x)
            ip.add(yn)
            knn["faiss_flat"] = lambda: l2.search(x, max(KS) + 1)
            ranks["faiss_flat_k1"] = lambda: ip.search(xn, 1)
        base = "faiss_flat" if faiss is not None else "torch_full_rows"
        t_knn = interleaved(knn, a.repeats)
        rec_knn = report(f"R@1/2/4/8 search N={a.n} D={a.dim} {threads} thread(s)", t_knn, base)
        t_rank = interleaved(ranks, a.repeats)
        rec_rank = report(f"paired ranks (cosine) N={a.n} D={a.dim} {threads} thread(s)", t_rank,
                          "faiss_flat_k1" if faiss is not None else "torch_full_rows")
        record["runs"][f"threads_{threads}"] = {"recall_search": rec_knn, "paired_ranks": rec_rank}
    ours = recall_from(nearest_neighbours(emb, max(KS)), rel)
    record["recall_mirbench"] = ours
    same_ranks = torch.equal(paired_ranks(emb, paired, "cosine"), full_row_ranks(emb, paired))
    record["paired_ranks_equal_full_rows"] = same_ranks
    print(f"check: paired ranks equal to the full-row code: {same_ranks}")
    if faiss is not None:
        index = faiss.IndexFlatL2(a.dim)
        index.add(x)
        _, idx = index.search(x, max(KS) + 1)
        idx = torch.from_numpy(idx)
        lists = torch.stack([row[row != i][:max(KS)] for i, row in enumerate(idx)])
        theirs = recall_from(lists, rel)
        record["recall_faiss"] = theirs
        print(f"check: R@K mirbench {ours} vs faiss {theirs}: max |diff| "
              f"{max(abs(ours[k] - theirs[k]) for k in KS):.2g}")
    write(record, "retrieval_speed", a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
