"""Base of the tutorial's methods: standardised features in, an embedding out, tested by 1-NN.

Subclasses implement :meth:`EmbeddingMethod.embed`. The datamodule must offer ``arrays(split)`` ->
``(X, y)`` (e.g. :class:`mirbench.data.nsynth.NSynthTutorialDataModule`): at the start of ``fit`` the
per-feature mean and standard deviation of the training split are stored (scikit-learn's
``StandardScaler``, the first stage of every pipeline of the tutorial); at ``test`` the training split,
embedded, is the gallery of the 1-NN protocol of :mod:`mirbench.evaluation.knn`, which logs
``test/accuracy`` and ``test/macro_f1`` (of the whole test split: under DDP global rank 0 scores it and
broadcasts the scores). The test embeddings are written to
``<trainer.log_dir>/embeddings_test.npz`` (``embeddings``, ``labels``, ``class_names``) for plots.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from lightning.pytorch import LightningModule
from lightning.pytorch.cli import OptimizerCallable
from torch import nn

from mirbench.backbones.mlp import materialize
from mirbench.data.base import ArrayData, DataInfo
from mirbench.evaluation.embeddings import EMBEDDINGS_FILE
from mirbench.evaluation.knn import knn_scores
from mirbench.metrics.bootstrap import BOOTSTRAP_FILE, save_replicates



class EmbeddingMethod(LightningModule):
    """Standardisation + :meth:`embed` + the 1-NN test protocol.

    Args:
        standardize: z-score the features with the training split's statistics before anything else.
        knn_k: neighbours of the k-NN protocol (the tutorial: 1).
        save_embeddings: write the test embeddings next to the run's logs.
        data_info: linked from the datamodule by the CLI (class names, input shape).
    """

    def __init__(self, standardize: bool = True, knn_k: int = 1, save_embeddings: bool = True,
                 data_info: DataInfo | None = None) -> None:
        super().__init__()
        self.standardize, self.knn_k, self.save_embeddings = bool(standardize), int(knn_k), bool(save_embeddings)
        self.data_info = data_info
        dim = int(data_info.input_shape[-1]) if data_info is not None and data_info.input_shape else 0
        self.register_buffer("feat_mean", torch.zeros(dim, dtype=torch.float64))
        self.register_buffer("feat_scale", torch.ones(dim, dtype=torch.float64))
        self.register_buffer("scaler_fitted", torch.zeros((), dtype=torch.bool))

    # ------------------------------------------------------------------ features
    def data_arrays(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        dm = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        if not isinstance(dm, ArrayData):
            raise RuntimeError(f"{type(self).__name__} needs a datamodule with arrays(split) -> (X, y)")
        return dm.arrays(split)

    @torch.no_grad()
    def fit_standardizer(self, x: np.ndarray | torch.Tensor) -> None:
        """Mean and population std per feature (a zero std becomes 1), as ``StandardScaler``."""
        x = torch.as_tensor(np.asarray(x), dtype=torch.float64, device=self.device)
        std = x.std(0, unbiased=False)
        self.feat_mean = x.mean(0)
        self.feat_scale = torch.where(std > 0, std, torch.ones_like(std))
        self.scaler_fitted.fill_(True)

    def preprocess(self, x: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
        """Standardised features (when ``standardize``) in ``dtype`` (default: that of ``x``)."""
        dtype = dtype or x.dtype
        if not self.standardize:
            return x.to(dtype)
        return ((x.to(torch.float64) - self.feat_mean) / self.feat_scale).to(dtype)

    def on_fit_start(self) -> None:
        if self.standardize and not bool(self.scaler_fitted):
            self.fit_standardizer(self.data_arrays("train")[0])

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        # buffers whose size is only known after fitting: take the checkpoint's shapes before loading
        state = checkpoint.get("state_dict", {})
        for name, buf in list(self.named_buffers(recurse=False)):
            if name in state and state[name].shape != buf.shape:
                setattr(self, name, torch.empty_like(state[name], device=buf.device))

    # ------------------------------------------------------------------ embedding
    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Raw features (B, D_in) -> embeddings (B, D_out) (standardisation included)."""
        raise NotImplementedError

    @torch.no_grad()
    def embed_array(self, x: np.ndarray, batch_size: int = 4096) -> np.ndarray:
        was_training = self.training
        self.eval()
        out = [self.embed(torch.as_tensor(x[i : i + batch_size], device=self.device)).cpu()
               for i in range(0, len(x), batch_size)]
        self.train(was_training)
        return torch.cat(out).double().numpy()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.embed(x)

    def predict_step(self, batch: dict, batch_idx: int, dataloader_idx: int = 0) -> torch.Tensor:
        return self.embed(batch["x"])

    # ------------------------------------------------------------------ 1-NN protocol
    def test_step(self, batch: dict, batch_idx: int) -> None:
        """Nothing per batch: the 1-NN protocol embeds the whole test split at the epoch's end (under DDP a
        rank's batches are a shard of it)."""

    def on_test_epoch_end(self) -> None:
        from mirbench.evaluation.ddp import on_rank_zero

        # every rank asks for log_dir (a broadcast); global rank 0 scores the whole test split and broadcasts
        # the scores, so every rank logs the numbers of a 1-process run
        out = Path(self.trainer.log_dir or self.trainer.default_root_dir)
        for name, value in on_rank_zero(self.trainer, lambda: self._one_nn(out)).items():
            self.log(f"test/{name}", value)

    def _one_nn(self, out: Path) -> dict[str, float]:
        """The 1-NN scores of the test split against the embedded training split; replicates and the test
        embeddings written beside the run's logs."""
        x_test, labels = self.data_arrays("test")
        test = self.embed_array(x_test)
        x_train, y_train = self.data_arrays("train")
        replicates: dict[str, np.ndarray] = {}
        scores = knn_scores(self.embed_array(x_train), y_train, test, labels, k=self.knn_k, replicates=replicates)
        if self.trainer.logger is not None:
            save_replicates(out / BOOTSTRAP_FILE, {f"test/{k}": v for k, v in replicates.items()})
        if self.save_embeddings:
            out.mkdir(parents=True, exist_ok=True)
            names = np.array(self.data_info.class_names if self.data_info is not None else (), dtype=str)
            np.savez(out / EMBEDDINGS_FILE, embeddings=test, labels=labels, class_names=names)
        return scores


class DeepEmbeddingMethod(EmbeddingMethod):
    """An embedding method trained by gradient descent: standardised features -> ``backbone`` -> embedding.

    Subclasses implement :meth:`training_loss`. ``normalize_embeddings`` L2-normalises the embedding the
    1-NN protocol sees (for models trained on the sphere).
    """

    def __init__(self, backbone: nn.Module, optimizer: OptimizerCallable = torch.optim.Adam,
                 normalize_embeddings: bool = False, standardize: bool = True, knn_k: int = 1,
                 save_embeddings: bool = True, data_info: DataInfo | None = None) -> None:
        super().__init__(standardize=standardize, knn_k=knn_k, save_embeddings=save_embeddings, data_info=data_info)
        if data_info is not None and data_info.input_shape:
            materialize(backbone, tuple(data_info.input_shape))
        self.backbone = backbone
        self.optimizer = optimizer
        self.normalize_embeddings = bool(normalize_embeddings)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Backbone output (B, D) of raw features (B, D_in), before any normalisation."""
        return self.backbone(self.preprocess(x, torch.float32))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        e = self.features(x)
        return F.normalize(e, dim=-1) if self.normalize_embeddings else e

    def training_loss(self, batch: dict) -> torch.Tensor:
        raise NotImplementedError

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        loss = self.training_loss(batch)
        self.log("train/loss", loss, prog_bar=True, batch_size=batch["x"].shape[0])
        return loss

    def configure_optimizers(self):
        return self.optimizer(self.parameters())
