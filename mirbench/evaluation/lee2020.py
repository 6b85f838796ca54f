"""The test protocol of Lee et al. (ISMIR 2020, Sec. 4.3; docs/protocols.md#lee): similarity retrieval R@K (Eq. 12),
auto-tagging macro ROC-AUC, tag-triplet accuracy (Table 3: complete space and sub-space), track-triplet and
human-labelled (Dim-Sim) triplet accuracy (Table 4), on full-song embeddings (mean of 3-s clip embeddings).

Contract (any method, any datamodule):

- the LightningModule implements ``embed(x) -> (B, D)`` (:mod:`mirbench.evaluation.contracts`); optionally
  ``tag_logits(x) -> (B, T)`` (classification / proxy models: AUC from the track-mean logits), and
  ``subspaces() -> {category: slice}`` (disentangled models: the masked block of each category). It needs a
  ``test_step`` (which may do nothing) for ``Trainer.test`` to run;
- the datamodule provides ``data_info`` (:class:`mirbench.data.base.DataInfo` with ``tag_categories`` and
  ``categories``) and ``retrieval_inputs()`` (:class:`mirbench.data.base.RetrievalInputs`: the test clips, dict
  batches ``x``, ``tags`` ``(B, T)``, ``track`` ``(B,)`` in a fixed order; the reference clips (the training
  split, Sec. 4.3.3) whose tag prototypes score tags for models without ``tag_logits``; and the Dim-Sim
  triplets, positions in the test clips or in clips of their own, or ``None``).

Stated by the paper: R@K per Eq. 12 for K = 1, 2, 4, 8; prototypes = mean training embedding of a tag
(Sec. 4.3.3); 40,000 triplets per notion (Sec. 4.1); a triplet is right when d(a, p) < d(a, n) (Sec. 4.3.4).
Our choices where it is silent (docs/protocols.md#lee-eval), behind arguments: Euclidean distance on the
model's embedding (unit length for the normalised models); cosine in a sub-space (the masked distance of
Eq. 2); track-level embeddings; AUC over the tags with both a positive and a negative test track; ties wrong.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from lightning.pytorch import LightningModule
from torchmetrics.functional.classification import multilabel_auroc

from mirbench.data.base import RetrievalInputs, protocol_inputs
from mirbench.evaluation.contracts import Subspaces, TagScorer
from mirbench.evaluation.ddp import ProtocolEvaluation
from mirbench.evaluation.embeddings import EMBEDDINGS_FILE, collect, mean_by_track
from mirbench.metrics.bootstrap import macro_auc_replicates, mean_replicates
from mirbench.metrics.retrieval import as_tensor, label_recall, prepare_gallery, ranking_distances, recall_hits
from mirbench.metrics.triplet_accuracy import (sample_category_triplets, sample_track_triplets, triplet_correct,
                                               vote_correct)

RECALLS = ("label_coverage", "hit_rate")  # Eq. 12 (logged as recall_at_K) | DML hit rate (logged as hit_rate_at_K)


def macro_auc(scores, tags) -> tuple[float, np.ndarray]:
    """Macro ROC-AUC of ``scores`` ``(N, T)`` (any monotone scale) against multi-hot ``tags`` ``(N, T)``.

    Tags without a positive or without a negative item, or with non-finite scores, are skipped (their
    AUC is undefined). Scores are min-max scaled per tag in float64 before torchmetrics'
    ``multilabel_auroc(average="macro")``, which would otherwise squash values outside [0, 1] through a
    float32 sigmoid and create ties. Returns ``(auc, used)`` with ``used`` the bool mask of scored tags;
    NaN if none is.
    """
    s = as_tensor(scores).cpu().double()
    y = as_tensor(tags).cpu() > 0
    if s.shape != y.shape or s.ndim != 2:
        raise ValueError(f"scores and tags must both be (N, T), got {tuple(s.shape)} and {tuple(y.shape)}")
    pos = y.sum(0)
    used = (pos > 0) & (pos < y.shape[0]) & torch.isfinite(s).all(0)
    if not used.any():
        return float("nan"), used.numpy()
    s, y = s[:, used], y[:, used]
    lo, hi = s.min(0).values, s.max(0).values
    span = torch.where(hi > lo, hi - lo, torch.ones_like(hi))
    s = torch.where(hi > lo, (s - lo) / span, torch.full_like(s, 0.5))
    auc = multilabel_auroc(s, y.long(), num_labels=s.shape[1], average="macro")
    return float(auc), used.numpy()


def centroid_scores(emb, ref_emb, ref_tags, distance: str = "euclidean") -> torch.Tensor:
    """Tag scores ``(N, T)`` = minus the distance of each embedding to each tag's centroid.

    The centroid of tag t is the mean of the ``ref_emb`` rows whose ``ref_tags[:, t]`` is set; tags
    absent from the reference get NaN columns. Euclidean scores are the true (not squared) distances.
    """
    e, r = as_tensor(emb).cpu().double(), as_tensor(ref_emb).cpu().double()
    t = (as_tensor(ref_tags).cpu() > 0).double()
    counts = t.sum(0)
    centroids = (t.T @ r) / counts.clamp_min(1)[:, None]
    d = ranking_distances(prepare_gallery(e, distance), prepare_gallery(centroids, distance), distance)
    scores = -(d.sqrt() if distance == "euclidean" else d)
    scores[:, counts == 0] = float("nan")
    return scores


def save_embeddings(path: str | Path, emb, tags, info, subspaces: dict[str, slice] | None = None) -> Path:
    """Write ``embeddings`` ``(N, D)``, ``tags`` ``(N, T)``, ``tag_names``, ``tag_categories`` and
    ``subspaces`` (``category -> [start, stop]`` as JSON) to an ``.npz`` (atomically)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    blocks = {c: [s.start or 0, s.stop] for c, s in (subspaces or {}).items()}
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, embeddings=as_tensor(emb).cpu().float().numpy(), tags=as_tensor(tags).cpu().numpy() > 0,
             tag_names=np.asarray(info.tag_names, dtype=str), tag_categories=np.asarray(info.tag_categories, dtype=str),
             subspaces=np.asarray(json.dumps(blocks)))
    tmp.replace(path)
    return path


def _to_items(clips: dict, track_level: bool) -> dict:
    if track_level and "track" in clips:
        return mean_by_track(clips["emb"], clips["track"], **{k: v for k, v in clips.items() if k not in ("emb", "track")})
    return clips


def evaluate(model: torch.nn.Module, datamodule, **kwargs) -> dict[str, float]:
    """The whole protocol (:func:`evaluate_items`); the metrics only."""
    return evaluate_items(model, datamodule, **kwargs)[0]


def evaluate_items(
    model: torch.nn.Module,
    datamodule,
    ks: Sequence[int] = (1, 2, 4, 8),
    recall: str = "label_coverage",
    relevance: str = "share_any",
    relevance_category: str | None = None,
    distance: str = "euclidean",
    subspace_distance: str = "cosine",
    n_triplets_per_category: int = 40000,
    n_track_triplets: int = 40000,
    seed: int = 0,
    dimsim: bool = True,
    track_level: bool = True,
    chunk_size: int = 1024,
    device=None,
    save_to: str | Path | None = None,
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """The whole protocol: ``(metrics, bootstrap replicates)``, names without the ``test/`` prefix (see
    :class:`Lee2020Evaluation`). Replicates resample the test items of each metric (queries for R@K, tracks
    for AUC, triplets for the triplet and Dim-Sim accuracies; :mod:`mirbench.metrics.bootstrap`).

    ``save_to``: also write the test items' embeddings there (:func:`save_embeddings`) for the projection plot.
    """
    for name, d in (("distance", distance), ("subspace_distance", subspace_distance)):
        if d not in ("euclidean", "cosine"):
            raise ValueError(f"{name} must be 'euclidean' or 'cosine', got {d!r}")
    if recall not in RECALLS:
        raise ValueError(f"recall must be one of {RECALLS}, got {recall!r}")
    info = datamodule.data_info
    inputs: RetrievalInputs = protocol_inputs(datamodule, "retrieval")
    has_logits = isinstance(model, TagScorer)
    outputs = {"emb": "embed", **({"logits": "tag_logits"} if has_logits else {})}
    clips = collect(model, inputs.test, outputs, device)
    if "tags" not in clips:
        raise ValueError("Lee2020 evaluation needs 'tags' in the test batches")
    items = _to_items(clips, track_level)
    emb, tags = items["emb"], items["tags"]
    subspaces = model.subspaces() if isinstance(model, Subspaces) else None
    if save_to is not None:
        save_embeddings(save_to, emb, tags, info, subspaces)
    out: dict[str, float] = {}
    reps: dict[str, np.ndarray] = {}

    if recall == "label_coverage":
        per_query, scored = label_recall(emb, tags, ks, distance, chunk_size, device)
    else:
        per_query, scored = recall_hits(emb, tags, ks, distance, chunk_size, relevance, info.tag_categories,
                                        relevance_category, device)
    key = "recall_at" if recall == "label_coverage" else "hit_rate_at"
    n_scored = int(scored.sum())
    for k, v in per_query.items():
        out[f"{key}_{k}"] = float(np.where(scored, v, 0).sum()) / n_scored if n_scored else float("nan")
        reps[f"{key}_{k}"] = mean_replicates(v, scored)

    if has_logits:
        scores = items["logits"]  # AUC is rank-based: sigmoid(track-mean logits) ranks like the logits
    else:
        ref = _to_items(collect(model, inputs.reference, {"emb": "embed"}, device), track_level)
        scores = centroid_scores(emb, ref["emb"], ref["tags"], distance)
    out["auc"], _ = macro_auc(scores, tags)
    reps["auc"] = macro_auc_replicates(as_tensor(scores).cpu().double().numpy(), as_tensor(tags).cpu().numpy())

    full, sub = {}, {}
    for i, cat in enumerate(info.categories):
        a, p, n = sample_category_triplets(tags, info.tag_categories, cat, n_triplets_per_category,
                                           np.random.default_rng([seed, i]))
        if len(a) == 0:
            warnings.warn(f"no {cat!r} triplet can be drawn from the test set; the category is skipped", stacklevel=2)
            continue
        full[cat] = triplet_correct(emb, a, p, n, None, distance)
        if subspaces and cat in subspaces:
            sub[cat] = triplet_correct(emb, a, p, n, subspaces[cat], subspace_distance)
    for prefix, right in (("triplet_acc", full), ("subspace_triplet_acc", sub)):
        out.update({f"{prefix}_{c}": float(r.mean()) for c, r in right.items()})
        reps.update({f"{prefix}_{c}": mean_replicates(r) for c, r in right.items()})
        if right:
            out[f"{prefix}_overall"] = float(np.mean([r.mean() for r in right.values()]))
            reps[f"{prefix}_overall"] = np.mean([reps[f"{prefix}_{c}"] for c in right], axis=0)

    if n_track_triplets > 0 and "track" in clips:
        a, p, n = sample_track_triplets(as_tensor(clips["track"]).cpu().numpy(), n_track_triplets,
                                        np.random.default_rng([seed, len(info.categories)]))
        if len(a):
            right = triplet_correct(clips["emb"], a, p, n, None, distance)
            out["track_triplet_acc"] = float(right.mean())
            reps["track_triplet_acc"] = mean_replicates(right)
        else:
            warnings.warn("no track triplet can be drawn: no test track has two clips", stacklevel=2)

    if dimsim and inputs.dimsim is not None:
        d = inputs.dimsim
        ce = clips["emb"] if d.clips is None else collect(model, d.clips, {"emb": "embed"}, device)["emb"]
        idx = [torch.as_tensor(np.asarray(v), dtype=torch.long) for v in (d.anchor, d.song1, d.song2)]
        right, scored = vote_correct(ce[idx[0]], ce[idx[1]], ce[idx[2]], d.song1_vote, d.song2_vote,
                                     distance=distance)
        out["dimsim_acc"] = float(right[scored].mean()) if scored.any() else float("nan")
        reps["dimsim_acc"] = mean_replicates(right, scored)
    return out, reps


class Lee2020Evaluation(ProtocolEvaluation):
    """Runs :func:`evaluate` at the end of ``Trainer.test`` and logs ``test/<metric>``.

    Logged: ``test/recall_at_{k}`` (Eq. 12; ``test/hit_rate_at_{k}`` with ``recall="hit_rate"``), ``test/auc``,
    ``test/triplet_acc_{category}``, ``test/triplet_acc_overall`` (mean over categories, complete space),
    ``test/track_triplet_acc`` (Table 4 "Track", clip level), and when available
    ``test/subspace_triplet_acc_{category}`` / ``_overall`` and ``test/dimsim_acc`` (Table 4 "Human-labelled").

    The callback iterates ``trainer.datamodule.test_dataloader()`` itself (whatever ``test_step``
    does; ``limit_test_batches`` does not apply). Under DDP global rank 0 evaluates the whole test set
    and broadcasts the metrics; every rank logs them (the numbers of a 1-process run).

    Args:
        ks: the K of R@K (Lee et al.: 1, 2, 4, 8).
        recall: ``label_coverage`` (Eq. 12, the paper's R@K) or ``hit_rate`` (the DML rule "a relevant item
            among the K nearest", a different metric, logged as ``hit_rate_at_{k}``).
        relevance: for ``hit_rate`` only: ``share_any`` | ``same_set`` | ``share_in_category`` (with
            ``relevance_category``).
        distance: ``euclidean`` (on whatever the model's ``embed`` returns) or ``cosine``.
        subspace_distance: the distance within a category's block (Eq. 2: cosine of the masked embeddings).
        n_triplets_per_category: triplets sampled from the test tracks per category (Sec. 4.1: 40,000).
        n_track_triplets: track triplets sampled from the test clips (Sec. 4.1: 40,000; 0 = none).
        seed: triplet sampling seed (category i uses ``default_rng([seed, i])``).
        dimsim: score the Dim-Sim triplets of the datamodule's ``retrieval_inputs()`` when it has them.
        track_level: average clip embeddings per track (False: every clip is an item).
        chunk_size: query rows per block of the distance matrix.
        save_embeddings: write the test items' embeddings to ``<trainer.log_dir>/embeddings_test.npz``
            (:func:`save_embeddings`; read by the table's projection plot).
    """

    def __init__(
        self,
        ks: Sequence[int] = (1, 2, 4, 8),
        recall: str = "label_coverage",
        relevance: str = "share_any",
        distance: str = "euclidean",
        subspace_distance: str = "cosine",
        n_triplets_per_category: int = 40000,
        n_track_triplets: int = 40000,
        seed: int = 0,
        dimsim: bool = True,
        track_level: bool = True,
        relevance_category: str | None = None,
        chunk_size: int = 1024,
        save_embeddings: bool = True,
    ) -> None:
        if recall not in RECALLS:
            raise ValueError(f"recall must be one of {RECALLS}, got {recall!r}")
        self.kwargs = dict(ks=tuple(int(k) for k in ks), recall=recall, relevance=relevance,
                           relevance_category=relevance_category, distance=distance,
                           subspace_distance=subspace_distance, n_triplets_per_category=int(n_triplets_per_category),
                           n_track_triplets=int(n_track_triplets), seed=int(seed), dimsim=bool(dimsim),
                           track_level=bool(track_level), chunk_size=int(chunk_size))
        self.save_embeddings = bool(save_embeddings)

    def evaluate(self, pl_module: LightningModule, datamodule, log_dir: Path
                 ) -> tuple[dict[str, float], dict[str, np.ndarray]]:
        save_to = log_dir / EMBEDDINGS_FILE if self.save_embeddings else None
        metrics, replicates = evaluate_items(pl_module, datamodule, device=pl_module.device, save_to=save_to,
                                             **self.kwargs)
        return self.as_test(metrics, replicates)
