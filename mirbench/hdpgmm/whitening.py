"""Frame whitening before the HDPGMM (Nam et al., ISMIR 2012; eldrin/pytorch-hdpgmm ``data.py``):
``x_w = (x - mean) @ L`` with ``L`` the lower Cholesky factor of the global precision, so that the
whitened frames have zero mean and identity covariance.
"""

from __future__ import annotations

import torch
from torch import nn

from .linalg import inverse_from_cholesky, safe_cholesky


class Whitener(nn.Module):
    """Global mean/precision whitening with state in buffers; :meth:`update` accumulates moments,
    :meth:`finalise` fixes the transform. ``forward``: ``(..., D) -> (..., D)`` float32."""

    def __init__(self, dim: int = 52) -> None:
        super().__init__()
        f64 = dict(dtype=torch.float64)
        self.register_buffer("mean", torch.zeros(dim, **f64))
        self.register_buffer("prec_chol", torch.eye(dim, **f64))
        self.register_buffer("_n", torch.zeros((), **f64))
        self.register_buffer("_sx", torch.zeros(dim, **f64))
        self.register_buffer("_sxx", torch.zeros(dim, dim, **f64))

    @torch.no_grad()
    def update(self, frames: torch.Tensor) -> None:
        """Accumulate moments of ``frames`` ``(N, D)`` (any float dtype)."""
        f = frames.to(self._sx.device, torch.float64)
        self._n += f.shape[0]
        self._sx += f.sum(0)
        self._sxx += f.T @ f

    @torch.no_grad()
    def finalise(self) -> None:
        mean = self._sx / self._n
        # centre before the outer product difference is formed in float64
        cov = self._sxx / self._n - torch.outer(mean, mean)
        cov = 0.5 * (cov + cov.T)
        prec = inverse_from_cholesky(safe_cholesky(cov))
        self.mean.copy_(mean)
        self.prec_chol.copy_(safe_cholesky(prec))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = (x.to(torch.float64) - self.mean) @ self.prec_chol
        return out.to(x.dtype if x.is_floating_point() else torch.float32)
