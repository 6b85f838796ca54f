"""The HDP Gaussian mixture of Kim & Liem (ISMIR 2022), fitted by online variational inference.

Math in small modules: :mod:`.priors` (data-driven hyper-priors), :mod:`.sticks` (stick-breaking and
Gamma expectations), :mod:`.likelihood` (Gaussian-Wishart expectations, GEMM form), :mod:`.estep`
(song-level coordinate ascent), :mod:`.mstep` (statistics, posteriors, natural-parameter blending),
:mod:`.ovi` (the loop, :class:`OnlineHDPGMM`), :mod:`.representation` (song features),
:mod:`.whitening`; :mod:`.data` is the frame/crop data contract of the study's methods.
The LightningModule is :class:`mirbench.methods.hdpgmm.HDPGMMMethod`.
"""

from .ovi import OnlineHDPGMM
from .priors import HyperPriors, hyperpriors_from_moments
from .representation import log_features, song_log_representation
from .whitening import Whitener

__all__ = ["OnlineHDPGMM", "HyperPriors", "hyperpriors_from_moments", "song_log_representation", "log_features", "Whitener"]
