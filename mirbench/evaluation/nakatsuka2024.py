"""The test protocol of the Nakatsuka, Hamasaki, Goto (ISMIR 2024) table: paired music <-> video retrieval with
probabilistic (vMF) embeddings, and what their concentrations say about uncertainty.

Contract (any two-tower method, any paired datamodule):

- the LightningModule implements ``embed_music(batch)`` and ``embed_video(batch)``, each returning
  ``(mu (B, D), kappa (B,))`` (:class:`mirbench.methods.hypersphere.HypersphereMethod`); a ``test_step``
  (which may only log the loss) for ``Trainer.test`` to run;
- the datamodule provides ``paired_inputs()`` (:class:`mirbench.data.base.PairedInputs`): the test batches
  (dicts with ``item`` ``(B,)``, the index of the pair within the split, as
  :class:`mirbench.data.yt8m_musicvideo.YT8MMusicVideoDataModule` gives), optionally a group code per item
  (renderings of one piece share one; the relaxed metrics count any item of the query's group as a hit) and
  per-item ambiguity (the item has sibling renderings; an unambiguous control otherwise: the score-video set).

Metrics, per direction ``{music_to_video, video_to_music}`` (the query's modality first):

- ``mrr``, ``recall_at_{k}``, ``mean_rank``, ``median_rank``: 1-based rank of the paired item among all
  test items of the other modality, ties counted against it (:mod:`mirbench.metrics.paired_retrieval`);
- ``relaxed_mrr``, ``relaxed_recall_at_{k}``: the rank of the best-scored item of the query's group;
- ``kappa_rank_spearman``: Spearman correlation between the query's kappa and its (strict) rank (the
  claim of probabilistic embeddings: confident items are retrieved well, i.e. a negative value); NaN
  when kappa is constant (a deterministic model);
- ``kappa_hit``, ``kappa_miss``: mean query kappa of the queries whose pair is ranked first / not;

and per modality ``{music, video}_kappa_ambiguous`` / ``_unambiguous``: mean kappa of the test items
with / without sibling renderings (NaN when the datamodule has no such information or no item of a kind).

Test score: the cosine of the vMF means (default), or ``score="mc"``: a Monte-Carlo estimate of the
expected inner product of draws, ``E<z, z'>`` (``n_samples`` vMF draws per item; for independent draws
it is the inner product of the draw means, which converges to ``A_D(k) A_D(k') cos(mu, mu')``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from lightning.fabric.utilities.apply_func import move_data_to_device
from lightning.pytorch import LightningModule
from scipy.stats import rankdata

from mirbench.data.base import PairedInputs, protocol_inputs
from mirbench.evaluation.ddp import ProtocolEvaluation
from mirbench.metrics.bootstrap import N_BOOT, mean_replicates, resample_indices, stat_replicates
from mirbench.metrics.paired_retrieval import paired_ranks
from mirbench.metrics.retrieval import ranking_distances, prepare_gallery

PAIRED_EMBEDDINGS_FILE = "paired_embeddings_test.npz"  # test mu / kappa a run writes for the figure
DIRECTIONS = (("music", "video"), ("video", "music"))
SCORES = ("mean_cosine", "mc")


@torch.no_grad()
def collect_pairs(model: torch.nn.Module, dataloader: Iterable[Mapping], device=None) -> dict[str, torch.Tensor]:
    """``{music_mu (N, D), music_kappa (N,), video_mu, video_kappa, item (N,)}`` on CPU, sorted by ``item``."""
    if device is None:
        device = next(iter(model.parameters()), torch.empty(0)).device
    was_training = model.training
    model.eval()
    parts: dict[str, list[torch.Tensor]] = {k: [] for k in ("music_mu", "music_kappa", "video_mu", "video_kappa",
                                                             "item")}
    try:
        for batch in dataloader:
            b = move_data_to_device(dict(batch), device)
            for name, fn in (("music", model.embed_music), ("video", model.embed_video)):
                mu, kappa = fn(b)
                parts[f"{name}_mu"].append(mu.detach().double().cpu())
                parts[f"{name}_kappa"].append(kappa.detach().double().reshape(-1).cpu())
            n = parts["music_mu"][-1].shape[0]
            item = batch.get("item")
            start = sum(len(p) for p in parts["item"])
            parts["item"].append(torch.as_tensor(item).long().cpu() if item is not None
                                 else torch.arange(start, start + n))
    finally:
        model.train(was_training)
    if not parts["item"]:
        raise ValueError("the test dataloader yielded no batches")
    out = {k: torch.cat(v) for k, v in parts.items()}
    order = torch.argsort(out["item"])
    return {k: v[order] for k, v in out.items()}


def draw_means(mu: torch.Tensor, kappa: torch.Tensor, n_samples: int, seed: int = 0) -> torch.Tensor:
    """Mean of ``n_samples`` vMF draws per item ``(N, D)``: the Monte-Carlo expected similarity of two items is
    the inner product of their draw means (independent draws)."""
    from mirbench.losses.vmf import sample_vmf

    g = torch.Generator().manual_seed(int(seed))
    return sample_vmf(mu.double(), kappa.double(), int(n_samples), generator=g).mean(0)


@torch.no_grad()
def relaxed_ranks(query, gallery, groups, distance: str = "cosine", chunk_size: int = 1024) -> torch.Tensor:
    """1-based rank ``(N,)`` of the first gallery item of query i's group: ``1 + #{j not in G(i): d_ij <= min_{k in
    G(i)} d_ik}`` (ties against the query, as the strict ranks); equals the strict rank for a singleton group."""
    q = prepare_gallery(torch.as_tensor(query).double(), distance)
    g = prepare_gallery(torch.as_tensor(gallery).double(), distance)
    grp = torch.as_tensor(np.asarray(groups)).long().reshape(-1)
    if q.shape != g.shape or len(grp) != len(q):
        raise ValueError(f"query {tuple(q.shape)}, gallery {tuple(g.shape)} and {len(grp)} groups do not match")
    g_sq = g.pow(2).sum(1) if distance == "euclidean" else None
    out = []
    for s in range(0, len(q), chunk_size):
        d = ranking_distances(q[s:s + chunk_size], g, distance, g_sq)
        same = grp[s:s + chunk_size, None] == grp[None, :]
        best = torch.where(same, d, torch.full_like(d, math.inf)).amin(1, keepdim=True)
        out.append(((d <= best) & ~same).sum(1) + 1)
    return torch.cat(out).long()


def spearman(x, y) -> float:
    """Spearman's rho of two ``(N,)`` vectors (average ranks for ties); NaN when either is constant."""
    return float(_spearman_rows(np.asarray(x, dtype=np.float64)[None], np.asarray(y, dtype=np.float64)[None])[0])


def _spearman_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Row-wise Spearman of ``(B, N)`` blocks: the Pearson correlation of the average ranks."""
    rx, ry = rankdata(x, axis=1), rankdata(y, axis=1)
    rx, ry = rx - rx.mean(1, keepdims=True), ry - ry.mean(1, keepdims=True)
    den = np.sqrt((rx * rx).sum(1) * (ry * ry).sum(1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (rx * ry).sum(1) / np.where(den > 0, den, 1.0), np.nan)


def spearman_replicates(x, y, block: int = 100) -> np.ndarray:
    """Bootstrap replicates of :func:`spearman` over the items (the resamples of :mod:`mirbench.metrics.bootstrap`)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    idx = resample_indices(len(x))
    return np.concatenate([_spearman_rows(x[i], y[i]) for i in np.array_split(idx, max(1, len(idx) // block))]
                          ).astype(np.float32)


def rank_items(ranks: np.ndarray, prefix: str, ks: Sequence[int]) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """MRR and R@k (plus mean / median rank for strict ranks) and their replicates from 1-based ``ranks``."""
    r = np.asarray(ranks, dtype=np.float64)
    per = {f"{prefix}mrr": 1.0 / r, **{f"{prefix}recall_at_{int(k)}": (r <= k).astype(np.float64) for k in ks}}
    if not prefix:
        per["mean_rank"] = r
    out = {k: float(v.mean()) for k, v in per.items()}
    reps = {k: mean_replicates(v) for k, v in per.items()}
    if not prefix:
        out["median_rank"] = float(np.median(r))
        reps["median_rank"] = stat_replicates(np.median, r)
    return out, reps


def _masked_mean(x: np.ndarray, mask: np.ndarray) -> tuple[float, np.ndarray]:
    return (float(x[mask].mean()) if mask.any() else math.nan), mean_replicates(x, mask)


def _per_item(x: np.ndarray | None, n: int, what: str) -> np.ndarray | None:
    if x is not None and len(x) != n:
        raise ValueError(f"paired_inputs().{what} has {len(x)} entries for {n} test items")
    return x


def save_paired_embeddings(path: str | Path, pairs: Mapping[str, torch.Tensor], groups: np.ndarray,
                           ambiguous: np.ndarray | None, ranks: Mapping[str, np.ndarray]) -> Path:
    """Write the test items' means, kappas, groups, ambiguity and ranks to an ``.npz`` (for the figure)."""
    from mirbench.io import atomic_path

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {k: v.float().numpy() for k, v in pairs.items() if k != "item"}
    arrays.update(item=pairs["item"].numpy(), group=np.asarray(groups),
                  ambiguous=np.asarray(ambiguous if ambiguous is not None else np.zeros(0, bool)),
                  **{f"{d}_rank": np.asarray(r) for d, r in ranks.items()})
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez(tmp, **arrays)
    return path


def evaluate(model: torch.nn.Module, datamodule, **kwargs) -> dict[str, float]:
    """The whole protocol (:func:`evaluate_items`); the metrics only."""
    return evaluate_items(model, datamodule, **kwargs)[0]


def evaluate_items(
    model: torch.nn.Module,
    datamodule,
    ks: Sequence[int] = (1, 5, 10),
    score: str = "mean_cosine",
    n_samples: int = 64,
    seed: int = 0,
    chunk_size: int = 1024,
    device=None,
    save_to: str | Path | None = None,
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """The whole protocol (module docstring): ``(metrics, bootstrap replicates)``, names without ``test/``.

    Replicates resample the test items (queries; the same resamples for every metric and every model, so
    claims are judged on paired differences). ``save_to``: also write :func:`save_paired_embeddings` there.
    """
    if score not in SCORES:
        raise ValueError(f"score must be one of {SCORES}, got {score!r}")
    if not ks or min(int(k) for k in ks) < 1:
        raise ValueError(f"ks must be positive integers, got {list(ks)}")
    inputs: PairedInputs = protocol_inputs(datamodule, "paired")
    pairs = collect_pairs(model, inputs.test, device)
    n = len(pairs["item"])
    if not torch.equal(pairs["item"], torch.arange(n)):
        raise ValueError("the test batches' `item` codes must cover 0..N-1 once each (one pair per test item)")
    groups = _per_item(inputs.groups, n, "groups")
    groups = np.arange(n) if groups is None else np.asarray(groups).reshape(-1)
    ambiguous = _per_item(inputs.ambiguous, n, "ambiguous")
    if score == "mc":
        emb = {m: draw_means(pairs[f"{m}_mu"], pairs[f"{m}_kappa"], n_samples, seed + i)
               for i, m in enumerate(("music", "video"))}
        distance = "dot"
    else:
        emb, distance = {m: pairs[f"{m}_mu"] for m in ("music", "video")}, "cosine"
    out: dict[str, float] = {}
    reps: dict[str, np.ndarray] = {}
    saved_ranks = {}
    for a, b in DIRECTIONS:
        pre = f"{a}_to_{b}_"
        strict = paired_ranks(emb[a], emb[b], distance, chunk_size).numpy()
        relaxed = relaxed_ranks(emb[a], emb[b], groups, distance, chunk_size).numpy()
        saved_ranks[f"{a}_to_{b}"] = strict
        for ranks, prefix in ((strict, ""), (relaxed, "relaxed_")):
            m, r = rank_items(ranks, prefix, ks)
            out.update({pre + k: v for k, v in m.items()})
            reps.update({pre + k: v for k, v in r.items()})
        kappa = pairs[f"{a}_kappa"].numpy()
        out[pre + "kappa_rank_spearman"] = spearman(kappa, strict)
        reps[pre + "kappa_rank_spearman"] = spearman_replicates(kappa, strict)
        for name, mask in (("kappa_hit", strict == 1), ("kappa_miss", strict > 1)):
            out[pre + name], reps[pre + name] = _masked_mean(kappa, mask)
    for m in ("music", "video"):
        kappa = pairs[f"{m}_kappa"].numpy()
        for name, mask in (("ambiguous", ambiguous), ("unambiguous", None if ambiguous is None else ~ambiguous)):
            if mask is None:
                out[f"{m}_kappa_{name}"], reps[f"{m}_kappa_{name}"] = math.nan, np.full(N_BOOT, np.nan, np.float32)
            else:
                out[f"{m}_kappa_{name}"], reps[f"{m}_kappa_{name}"] = _masked_mean(kappa, mask)
    if save_to is not None:
        save_paired_embeddings(save_to, pairs, groups, ambiguous, saved_ranks)
    return out, reps


class Nakatsuka2024Evaluation(ProtocolEvaluation):
    """Runs :func:`evaluate_items` at the end of ``Trainer.test`` and logs ``test/<metric>`` (module docstring).

    The callback iterates ``trainer.datamodule.test_dataloader()`` itself. Under DDP global rank 0
    evaluates the whole test set and broadcasts the metrics (:func:`mirbench.evaluation.ddp.on_rank_zero`);
    the bootstrap replicates go to ``<log_dir>/bootstrap_test.npz`` when the trainer has a logger.

    Args:
        ks: the k of R@k (the poster: Recall@k; MVPt and most cross-modal work: 1, 5, 10).
        score: ``mean_cosine`` (cosine of the vMF means) or ``mc`` (Monte-Carlo expected inner product).
        n_samples: vMF draws per item for ``score="mc"``.
        seed: of those draws.
        chunk_size: query rows per block of the score matrix.
        save_embeddings: write the test means / kappas to ``<log_dir>/paired_embeddings_test.npz`` (the figure).
    """

    def __init__(self, ks: Sequence[int] = (1, 5, 10), score: str = "mean_cosine", n_samples: int = 64,
                 seed: int = 0, chunk_size: int = 1024, save_embeddings: bool = True) -> None:
        if score not in SCORES:
            raise ValueError(f"score must be one of {SCORES}, got {score!r}")
        self.kwargs = dict(ks=tuple(int(k) for k in ks), score=score, n_samples=int(n_samples), seed=int(seed),
                           chunk_size=int(chunk_size))
        self.save_embeddings = bool(save_embeddings)

    def evaluate(self, pl_module: LightningModule, datamodule, log_dir: Path
                 ) -> tuple[dict[str, float], dict[str, np.ndarray]]:
        save_to = log_dir / PAIRED_EMBEDDINGS_FILE if self.save_embeddings else None
        metrics, replicates = evaluate_items(pl_module, datamodule, device=pl_module.device, save_to=save_to,
                                             **self.kwargs)
        return self.as_test(metrics, replicates)
