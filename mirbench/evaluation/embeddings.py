"""Frozen embeddings out of a model: :func:`collect` runs ``model.embed`` over a dataloader,
:func:`mean_by_track` turns clip embeddings into full-song embeddings (the mean of the song's
non-overlapping 3-s clip embeddings, Lee et al. ICASSP 2020 sec. 4; docs/protocols.md#lee-eval).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import torch
from lightning.fabric.utilities.apply_func import move_data_to_device

TARGET_KEYS = ("tags", "track", "label")
EMBEDDINGS_FILE = "embeddings_test.npz"  # test embeddings a run writes for the tables' projection plots


@torch.no_grad()
def collect(
    model: torch.nn.Module,
    dataloader: Iterable[Mapping],
    outputs: Mapping[str, str] | None = None,
    device: torch.device | str | None = None,
) -> dict[str, torch.Tensor]:
    """Run the model over dict batches ``{"x", "tags"?, "track"?, "label"?}`` in eval mode, without gradients.

    ``outputs`` maps output keys to model methods called on ``batch["x"]`` (default
    ``{"emb": "embed"}``; e.g. add ``"logits": "tag_logits"``). Returns CPU tensors in loader order:
    each output as float32 ``(N, ...)``, plus ``tags`` ``(N, T)`` float32, ``track`` / ``label`` ``(N,)``
    int64 when the batches have them. The model's train/eval mode is restored afterwards.
    """
    outputs = dict(outputs or {"emb": "embed"})
    fns = {k: getattr(model, name) for k, name in outputs.items()}
    if device is None:
        device = getattr(model, "device", None) or next(iter(model.parameters()), torch.empty(0)).device
    was_training = model.training
    model.eval()
    parts: dict[str, list[torch.Tensor]] = {k: [] for k in (*fns, *TARGET_KEYS)}
    try:
        for batch in dataloader:
            x = move_data_to_device(batch["x"], device)
            for k, fn in fns.items():
                parts[k].append(fn(x).detach().float().cpu())
            for k in TARGET_KEYS:
                if k in batch:
                    parts[k].append(torch.as_tensor(batch[k]).detach().cpu())
    finally:
        model.train(was_training)
    if not parts[next(iter(fns))]:
        raise ValueError("the dataloader yielded no batches")
    out = {k: torch.cat(v) for k, v in parts.items() if v}
    if "tags" in out:
        out["tags"] = out["tags"].float()
    for k in ("track", "label"):
        if k in out:
            out[k] = out[k].long()
    return out


def mean_by_track(emb, track, **per_clip) -> dict[str, torch.Tensor]:
    """Average clip rows ``(N, D)`` per track id ``(N,)``; returns ``{"track": (M,) sorted ids, "emb": (M, D)}``.

    Further per-clip arrays passed by keyword (``tags=``, ``label=``, ``logits=`` ...) come back per
    track: floating ones averaged unless they are ``tags``/``label``, which are taken from the
    track's first clip (they are track properties).
    """
    emb = torch.as_tensor(np.asarray(emb) if not isinstance(emb, torch.Tensor) else emb)
    track = torch.as_tensor(np.asarray(track) if not isinstance(track, torch.Tensor) else track).long().reshape(-1)
    if len(track) != len(emb):
        raise ValueError(f"{len(emb)} embeddings but {len(track)} track ids")
    ids, inverse = torch.unique(track, sorted=True, return_inverse=True)
    counts = torch.bincount(inverse, minlength=len(ids)).to(torch.float64)
    # first clip of each track: the smallest row index mapping to it
    first = torch.full((len(ids),), len(track), dtype=torch.long).scatter_reduce(
        0, inverse, torch.arange(len(track)), reduce="amin")

    def mean(v: torch.Tensor) -> torch.Tensor:
        s = torch.zeros((len(ids), *v.shape[1:]), dtype=torch.float64).index_add_(0, inverse, v.double())
        return (s / counts.view(-1, *([1] * (v.dim() - 1)))).to(v.dtype if v.is_floating_point() else torch.float32)

    out = {"track": ids, "emb": mean(emb)}
    for k, v in per_clip.items():
        if v is None:
            continue
        v = torch.as_tensor(np.asarray(v) if not isinstance(v, torch.Tensor) else v)
        if len(v) != len(track):
            raise ValueError(f"{k}: {len(v)} rows for {len(track)} clips")
        out[k] = v[first] if k in ("tags", "label", "track") or not v.is_floating_point() else mean(v)
    return out
