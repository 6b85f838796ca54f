"""Classification with normalisation (NormSoftmax, Zhai & Wu 2019; docs/protocols.md#tutorial-losses).

The backbone's embedding is classified against one learned vector per instrument family with
cosine logits / temperature (:class:`~mirbench.losses.normsoftmax.NormalizedSoftmaxLoss`); the class
vectors are dropped at test time and the 1-NN protocol runs on the normalised embedding.
"""

from __future__ import annotations

import torch
from lightning.pytorch.cli import OptimizerCallable
from torch import nn

from mirbench.data.base import DataInfo
from mirbench.losses.normsoftmax import NormalizedSoftmaxLoss
from mirbench.methods.embedding import DeepEmbeddingMethod


class NormSoftmaxMethod(DeepEmbeddingMethod):
    """``backbone`` + normalised softmax over ``data_info.num_classes`` classes (or ``num_classes``)."""

    def __init__(self, backbone: nn.Module, loss: NormalizedSoftmaxLoss | None = None, temperature: float = 0.05,
                 normalize_weights: bool = True, num_classes: int | None = None,
                 optimizer: OptimizerCallable = torch.optim.Adam, normalize_embeddings: bool = True,
                 standardize: bool = True, knn_k: int = 1, save_embeddings: bool = True,
                 data_info: DataInfo | None = None) -> None:
        """``temperature``, ``normalize_weights`` and ``num_classes`` build the default loss (its class vectors
        sized by the data); an injected ``loss`` carries its own."""
        super().__init__(backbone, optimizer, normalize_embeddings, standardize, knn_k, save_embeddings, data_info)
        if loss is None:
            n = num_classes or (data_info.num_classes if data_info is not None else 0)
            if not n:
                raise ValueError("NormSoftmaxMethod needs num_classes (or data_info with class_names)")
            loss = NormalizedSoftmaxLoss(n, backbone.out_dim, temperature, normalize_weights)
        self.loss = loss

    def training_loss(self, batch: dict) -> torch.Tensor:
        return self.loss(self.features(batch["x"]), batch["label"])
