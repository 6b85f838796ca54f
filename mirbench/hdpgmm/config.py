"""The HDPGMM hyper-parameters, written once: the OVI model (:class:`.ovi.OnlineHDPGMM`) takes them as one
:class:`HDPGMMConfig`, the LightningModule (:class:`mirbench.methods.hdpgmm.HDPGMMMethod`) forwards its
YAML keys to it (``model.init_args.<field>``). Values: docs/protocols.md#kim-hdpgmm.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class HDPGMMConfig:
    """Hyper-parameters of the online-VI HDP Gaussian mixture (Kim & Liem, ISMIR 2022; docs/protocols.md#kim-hdpgmm).

    Args:
        dim: frame dimension D (52: MFCC + deltas, chroma, onset).
        n_components: corpus atoms K (paper 256).
        n_song_components: song atoms T (paper 32).
        tau0: learning-rate delay, ``rho_t = (tau0 + t)^-kappa`` (paper 64).
        kappa: learning-rate decay (paper 0.6).
        splash: splash-noise weight eta0 (paper's best 0.1; the ablation sweeps 1e-4 .. 1e-1).
        e_step_tol: relative ELBO gain that ends a local E-step (paper 1e-6).
        e_step_max_iter: most E-step sweeps (paper 1000).
        e_step_start: ``"top_atoms"`` (ours, documented departure) or ``"random"`` (the reference).
        beta0: Gaussian-Wishart prior precision scale (2).
        nu0_offset: ``nu0 = D + nu0_offset`` (2).
        s1: shape of the Gamma prior of each song's concentration alpha0_j (1).
        s2: rate of that prior (1).
        g1: shape of the Gamma prior of the corpus concentration gamma (1).
        g2: rate of that prior (1).
        cov_reg: per-frame ridge on each atom's scatter (1e-6, as the reference code).
        compute_dtype: dtype of the per-frame work, ``"float32"`` or ``"float64"``.
        song_chunk: songs per E-step chunk: its memory, the unit of the parallel threads (each chunk's
            E-step stops on its own ELBO gain).
        frame_chunk: frames per likelihood / statistics GEMM (sums over frames follow it).
        seed: seed of the initialisation and the splash noise.
    """

    dim: int = 52
    n_components: int = 256
    n_song_components: int = 32
    tau0: float = 64.0
    kappa: float = 0.6
    splash: float = 0.1
    e_step_tol: float = 1e-6
    e_step_max_iter: int = 1000
    e_step_start: str = "top_atoms"
    beta0: float = 2.0
    nu0_offset: float = 2.0
    s1: float = 1.0
    s2: float = 1.0
    g1: float = 1.0
    g2: float = 1.0
    cov_reg: float = 1e-6
    compute_dtype: str = "float32"
    song_chunk: int = 128
    frame_chunk: int = 1024
    seed: int = 0
