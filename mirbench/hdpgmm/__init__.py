"""The HDP Gaussian mixture of Kim & Liem (ISMIR 2022), fitted by online variational inference.

Hyper-parameters in :mod:`.config` (:class:`HDPGMMConfig`); math in small modules: :mod:`.priors`
(data-driven hyper-priors), :mod:`.sticks` (stick-breaking and Gamma expectations), :mod:`.likelihood` (Gaussian-Wishart expectations, GEMM form), :mod:`.estep`
(song-level coordinate ascent), :mod:`.mstep` (statistics, posteriors, natural-parameter blending),
:mod:`.ovi` (the loop, :class:`OnlineHDPGMM`), :mod:`.representation` (song features),
:mod:`.whitening`; :mod:`.data` is the frame/crop data contract of the study's methods.
The LightningModule is :class:`mirbench.methods.hdpgmm.HDPGMMMethod`.
"""

from .config import HDPGMMConfig
from .ovi import OnlineHDPGMM
from .priors import HyperPriors
from .representation import log_features, song_log_representation
from .whitening import Whitener

__all__ = ["OnlineHDPGMM", "HDPGMMConfig", "HyperPriors", "song_log_representation", "log_features", "Whitener"]
