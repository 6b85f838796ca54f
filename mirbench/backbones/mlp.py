"""A small MLP for precomputed feature vectors (e.g. the tutorial's 33 NSynth features).

``in_dim=None`` leaves the first layer lazy; a method materialises it from ``data_info.input_shape``
(see :func:`materialize`), so the input size is written once, by the data.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.modules.lazy import LazyModuleMixin

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh}


class MLP(nn.Module):
    """(B, in_dim) -> (B, out_dim): [Linear -> (BatchNorm) -> act -> (Dropout)] x len(hidden) -> Linear.

    Args:
        in_dim: input size; ``None``: inferred at the first call (lazy first layer).
        hidden: widths of the hidden layers.
        out_dim: embedding size.
        batchnorm, dropout, activation: per hidden layer.
    """

    def __init__(self, in_dim: int | None = None, hidden: tuple[int, ...] = (128,), out_dim: int = 32,
                 batchnorm: bool = True, dropout: float = 0.0, activation: str = "relu") -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {list(ACTIVATIONS)}, got {activation!r}")
        self.in_dim, self.out_dim = in_dim, int(out_dim)
        layers: list[nn.Module] = []
        prev = in_dim
        for width in hidden:
            layers.append(nn.Linear(prev, width) if prev else nn.LazyLinear(width))
            if batchnorm:
                layers.append(nn.BatchNorm1d(width))
            layers.append(ACTIVATIONS[activation]())
            if dropout:
                layers.append(nn.Dropout(dropout))
            prev = width
        layers.append(nn.Linear(prev, out_dim) if prev else nn.LazyLinear(out_dim))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


@torch.no_grad()
def materialize(module: nn.Module, input_shape: tuple[int, ...]) -> nn.Module:
    """Initialise the lazy layers of ``module`` with one dry run on zeros of ``(2, *input_shape)``."""
    if any(isinstance(m, LazyModuleMixin) and m.has_uninitialized_params() for m in module.modules()):
        was_training = module.training
        module.eval()  # keep BatchNorm statistics untouched
        module(torch.zeros(2, *input_shape))
        module.train(was_training)
    if hasattr(module, "in_dim") and module.in_dim is None:
        module.in_dim = int(input_shape[-1])
    return module
