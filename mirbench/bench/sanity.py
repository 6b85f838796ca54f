"""Values that only a constant predictor gives: a model that collapsed (diverged into a bounded loss, all
embeddings equal) scores exactly these, and a finite, in-range number must not pass for a result."""

from __future__ import annotations

import math

CHANCE_AUC = 0.5
_EXACT = 1e-9  # a real model's AUC over many items and tags is not 0.5 to nine digits; ties of equal scores are


def is_auc(metric: str) -> bool:
    """Whether a metric key is a ROC AUC (``test/tag_auc``, ``test/auroc``, ``test/roc_auc_...``)."""
    name = metric.rsplit("/", 1)[-1].lower()
    return ("auc" in name or "auroc" in name) and "pr_auc" not in name and "auprc" not in name


def constant_predictor_metrics(metrics: dict[str, float]) -> list[str]:
    """The keys of ``metrics`` whose value is a constant predictor's: a ROC AUC of exactly 0.5 (every score tied)."""
    return [k for k, v in metrics.items()
            if is_auc(k) and isinstance(v, (int, float)) and math.isfinite(v) and abs(v - CHANCE_AUC) < _EXACT]


def constant_predictor_note(records) -> str:
    """One Markdown paragraph naming the ok records that score as a constant predictor, or ``""``."""
    hits = [f"`{r.row}` seed {r.seed} ({', '.join(ks)})" for r in records if r.ok
            for ks in [constant_predictor_metrics(r.metrics)] if ks]
    if not hits:
        return ""
    return (f"**{len(hits)} record(s) score exactly as a constant predictor** (ROC AUC 0.5: every score tied, "
            f"a collapsed or diverged model?): " + ", ".join(hits) + ". Their other numbers are not a result either.")
