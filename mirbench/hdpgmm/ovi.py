"""Online variational inference of the HDP Gaussian mixture (Kim & Liem, ISMIR 2022; after Wang,
Paisley & Blei, AISTATS 2011), plain torch on any device.

State (``nn.Module`` buffers, float64, so ``state_dict`` checkpoints it): Gaussian-Wishart atoms
``(m, beta, nu, winv)`` ``K x ...``, corpus sticks ``(u, v)`` ``(K-1,)``, ``gamma``'s Gamma ``y``, the
hyper-priors, the update counter ``step``. The heavy per-frame work runs in ``compute_dtype``.

One :meth:`partial_fit` on a mini-batch of M songs (of a corpus of J):
  1. ``E[ln p(x|k)]`` for all frames (one GEMM on quadratic features per frame chunk);
  2. the local E-step (:func:`.estep.e_step`) per chunk of songs, to tolerance (chunks on parallel threads);
  3. responsibilities ``r = zeta varphi``, mixed with splash noise ``(1-eta_t) r + eta_t e``;
  4. sufficient statistics (one GEMM), scaled by ``J / M``;
  5. sequential global updates, each blended with ``rho_t = (tau0 + t)^-kappa``:
     corpus sticks, then gamma, then the Gaussian-Wishart atoms.
Hyper-parameters (:class:`.config.HDPGMMConfig`, docs/protocols.md#kim-hdpgmm): K=256, T=32, tau0=64, kappa=0.6, batch 1024 songs, e-step tol 1e-6
(<= 1000 steps), eta0 = 0.1, nu0 = D+2, beta0 = 2, s1=s2=g1=g2=1, per-song alpha0, random hard-assignment init.
Two departures, both switchable: E-steps start from each song's top-T atoms (``e_step_start``;
the reference starts from random responsibilities, which on our toys needs 2-7x more sweeps and
can stall in worse local optima), and global blending is in natural parameters (see :mod:`.mstep`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Iterable

import torch
from torch import nn

from .config import HDPGMMConfig
from .estep import e_step, local_elbo
from .likelihood import derive, expected_loglik, loglik_coefficients, nw_elbo_term
from .linalg import exp_flush, n_quad_features, triu_indices
from .mstep import (
    FrameStats,
    accumulate_stats,
    blend_nw,
    concentration_update,
    corpus_stick_update,
    learning_rate,
    nw_posterior,
    splash_ratio,
)
from .priors import HyperPriors
from .sticks import gamma_elbo_term, gamma_expectations, stick_elbo_term, stick_expectations
from mirbench.threads import ordered_map

_DTYPES = {"float32": torch.float32, "float64": torch.float64}


class OnlineHDPGMM(nn.Module):
    """HDPGMM with online VI. ``x`` batches are padded ``(M, L, D)`` with a bool ``mask`` ``(M, L)``."""

    def __init__(self, config: HDPGMMConfig | None = None, **overrides) -> None:
        """``config`` (default :class:`HDPGMMConfig`'s values) with any field replaced by ``overrides``."""
        super().__init__()
        self.config = c = replace(config or HDPGMMConfig(), **overrides)
        self.dim, self.K, self.T = c.dim, c.n_components, c.n_song_components
        self.tau0, self.kappa, self.splash = c.tau0, c.kappa, c.splash
        self.e_step_tol, self.e_step_max_iter, self.e_step_start = c.e_step_tol, c.e_step_max_iter, c.e_step_start
        self.beta0, self.nu0_offset = c.beta0, c.nu0_offset
        self.s1, self.s2, self.g1, self.g2 = c.s1, c.s2, c.g1, c.g2
        self.cov_reg = c.cov_reg
        self.compute_dtype = _DTYPES[c.compute_dtype]
        self.song_chunk, self.frame_chunk = c.song_chunk, c.frame_chunk
        self.seed = c.seed
        n_components, dim, g1, g2 = c.n_components, c.dim, c.g1, c.g2
        f64 = dict(dtype=torch.float64)
        K, D = n_components, dim
        self.register_buffer("m", torch.zeros(K, D, **f64))
        self.register_buffer("beta", torch.ones(K, **f64))
        self.register_buffer("nu", torch.full((K,), D + 2.0, **f64))
        self.register_buffer("winv", torch.eye(D, **f64).repeat(K, 1, 1))
        self.register_buffer("u", torch.ones(K - 1, **f64))
        self.register_buffer("v", torch.ones(K - 1, **f64))
        self.register_buffer("y", torch.tensor([g1, g2], **f64))
        self.register_buffer("m0", torch.zeros(D, **f64))
        self.register_buffer("w0inv", torch.eye(D, **f64))
        self.register_buffer("step", torch.zeros((), dtype=torch.long))
        self.register_buffer("n_songs", torch.zeros((), dtype=torch.long))
        self.register_buffer("initialised", torch.zeros((), dtype=torch.bool))
        rows, cols = triu_indices(D)
        self.register_buffer("rows", rows, persistent=False)
        self.register_buffer("cols", cols, persistent=False)
        self._derived = None
        self._gen: torch.Generator | None = None

    # ------------------------------------------------------------------ state helpers
    @property
    def prior(self) -> HyperPriors:
        return HyperPriors(self.m0, self.w0inv, self.beta0, self.dim + self.nu0_offset, self.s1, self.s2, self.g1, self.g2)

    def _apply(self, fn, *args, **kwargs):  # device moves invalidate the cached derived quantities
        self._derived = None
        self._gen = None
        return super()._apply(fn, *args, **kwargs)

    def _load_from_state_dict(self, *args, **kwargs):
        self._derived = None
        return super()._load_from_state_dict(*args, **kwargs)

    @property
    def derived(self):
        if self._derived is None:
            self._derived = derive(self.nu, self.winv)
        return self._derived

    @property
    def generator(self) -> torch.Generator:
        if self._gen is None:
            self._gen = torch.Generator(device=self.m.device)
            self._gen.manual_seed(self.seed + int(self.step))
        return self._gen

    def elog_beta(self) -> torch.Tensor:
        """``E[ln beta_k]`` ``(K,)`` of the corpus weights."""
        return stick_expectations(self.u, self.v)[2]

    def theta(self) -> torch.Tensor:
        """Likelihood coefficients ``(P, K)`` in ``compute_dtype``."""
        return loglik_coefficients(self.m, self.beta, self.derived, self.rows, self.cols).to(self.compute_dtype)

    # ------------------------------------------------------------------ initialisation
    @torch.no_grad()
    def initialise(
        self,
        batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
        n_songs: int | None = None,
        init: str = "random_assign",
        init_frames: int = 65536,
    ) -> None:
        """One pass over ``(x, mask)`` batches: hyper-priors from the frame moments, then the atoms.

        ``init="random_assign"`` (the reference, ``full_uniform_init=False``): every frame is assigned to
        a uniformly random atom, so all atoms start near the global distribution. ``init="kmeans++"``:
        k-means++ seeds on a random subsample of ``init_frames`` frames, one nearest-seed assignment,
        counts scaled to the corpus (breaks the symmetry the reference leaves to the online noise).
        ``n_songs`` (the corpus size J for the ``J/M`` scaling) defaults to the number of songs seen.
        """
        if init not in ("random_assign", "kmeans++"):
            raise ValueError(f"unknown init {init!r}")
        dev = self.m.device
        gen = torch.Generator(device=dev)
        gen.manual_seed(self.seed)
        comp = torch.zeros(n_quad_features(self.dim), self.K, dtype=torch.float64, device=dev)  # (P, K)
        n_tot, sx, sxx, seen, sample = 0, 0.0, 0.0, 0, []
        for x, mask in batches:
            xv = x.to(dev)[mask.to(dev)].to(torch.float64)
            seen += int(mask.shape[0])
            n_tot += xv.shape[0]
            sx = sx + xv.sum(0)
            sxx = sxx + xv.T @ xv
            if init == "random_assign":
                z = torch.randint(self.K, (xv.shape[0],), generator=gen, device=dev)
                accumulate_stats(comp, xv, _one_hot(z, self.K, xv.dtype), self.frame_chunk)
            else:
                keep = torch.randperm(xv.shape[0], generator=gen, device=dev)[:init_frames]
                sample.append(xv[keep])
                if sum(len(a) for a in sample) > 2 * init_frames:
                    pool = torch.cat(sample)
                    sample = [pool[torch.randperm(len(pool), generator=gen, device=dev)[:init_frames]]]
        mean = sx / n_tot
        cov = sxx / n_tot - torch.outer(mean, mean)
        self.m0.copy_(mean)
        self.w0inv.copy_(0.5 * (cov + cov.T))
        if init == "kmeans++":
            pool = torch.cat(sample)
            pool = pool[torch.randperm(len(pool), generator=gen, device=dev)[:init_frames]]
            seeds = kmeans_pp(pool, self.K, gen)
            z = torch.cdist(pool, seeds).argmin(1)
            accumulate_stats(comp, pool, _one_hot(z, self.K, pool.dtype), self.frame_chunk)
            comp *= n_tot / len(pool)
        n, sx_k, sxx_k = FrameStats(comp.T).unpack(self.rows, self.cols, self.dim)
        self._set_nw(*nw_posterior(n, sx_k, sxx_k, self.prior, self.cov_reg))
        self.u.fill_(1.0)
        self.v.fill_(1.0)
        self.y.copy_(torch.tensor([self.g1, self.g2], dtype=torch.float64))
        self.step.zero_()
        self.n_songs.fill_(n_songs if n_songs is not None else seen)
        self.initialised.fill_(True)

    def _set_nw(self, m, beta, nu, winv) -> None:
        self.m.copy_(m)
        self.beta.copy_(beta)
        self.nu.copy_(nu)
        self.winv.copy_(winv)
        self._derived = None

    # ------------------------------------------------------------------ inference
    @torch.no_grad()
    def expected_loglik(self, x: torch.Tensor, mask: torch.Tensor, theta: torch.Tensor | None = None) -> torch.Tensor:
        """``E_q[ln p(x_jn | k)]`` ``(M, L, K)`` in ``compute_dtype``, zero on padding."""
        theta = self.theta() if theta is None else theta
        if float(mask.float().mean()) > 0.8:  # little padding: one GEMM over the padded block, no scatter
            out = expected_loglik(x.reshape(-1, x.shape[-1]), theta, self.frame_chunk).view(*mask.shape, self.K)
            return out.mul_(mask[..., None].to(out.dtype))
        out = torch.zeros(*mask.shape, self.K, dtype=theta.dtype, device=theta.device)
        out[mask] = expected_loglik(x[mask], theta, self.frame_chunk)
        return out

    @torch.no_grad()
    def responsibilities(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Mean E-step responsibility of each corpus atom per song, ``sum_n (zeta varphi)_nk / N_j``:
        ``(M, L, D)`` -> ``(M, K)`` float64 (no splash noise; the reference's ``responsibility``); song chunks on
        parallel threads as in :meth:`_local_pass`."""
        x, mask = x.to(self.m.device), mask.to(self.m.device)
        theta, elog_beta = self.theta(), self.elog_beta().to(self.compute_dtype)

        def chunk(xc, mc, _init, gen, _noise):
            eq_eta = self.expected_loglik(xc, mc, theta)
            res = e_step(eq_eta, mc, elog_beta, self.T, self.s1, self.s2, self.e_step_tol, self.e_step_max_iter,
                         None, gen, self.e_step_start)
            zeta = exp_flush(res.log_zeta) * mc[..., None].to(eq_eta.dtype)
            r = torch.bmm(zeta, exp_flush(res.log_varphi)).sum(1)
            return (r / mc.sum(1, keepdim=True).clamp_min(1)).to(torch.float64)

        chunks = list(self._chunks(x, mask))
        return torch.cat(list(ordered_map(chunk, self._chunk_jobs(chunks, None, 0.0), self._workers(x, chunks))))

    @torch.no_grad()
    def partial_fit(self, x: torch.Tensor, mask: torch.Tensor, rho: float | None = None, scale: float | None = None) -> dict:
        """One online update on a padded batch; returns monitors (ELBO estimate, E-step iterations, rho, eta)."""
        if not bool(self.initialised):
            raise RuntimeError("call initialise() before partial_fit()")
        x, mask = x.to(self.m.device), mask.to(self.m.device)
        n_batch = x.shape[0]
        scale = float(self.n_songs) / n_batch if scale is None else scale
        step = int(self.step)
        stats, counts, local, iters = self._local_pass(x, mask, splash_ratio(step, self.splash))
        elbo = scale * local + self.global_elbo()
        rho = learning_rate(step, self.tau0, self.kappa) if rho is None else rho
        self._global_update(stats, counts, scale, rho)
        self.step += 1
        return {"elbo": float(elbo), "e_step_iters": iters, "rho": rho, "eta": splash_ratio(step, self.splash)}

    def _local_pass(self, x, mask, eta: float, init: list | None = None, keep: list | None = None):
        """E-step over song chunks; returns packed frame stats (P, K) (the transpose of :class:`FrameStats`),
        varphi counts (K,), the sum of local ELBOs and the mean number of E-step iterations. ``init``/``keep``: per-chunk
        local states.

        On the CPU the chunks run on parallel threads, one intra-op thread each (:mod:`mirbench.threads`, :meth:`_workers`);
        the random draws are made in chunk order (:meth:`_chunk_jobs`) and each chunk's statistics summed in that
        order, so the result does not depend on the thread count."""
        theta = self.theta()
        elog_beta = self.elog_beta().to(self.compute_dtype)
        chunks = list(self._chunks(x, mask))

        def chunk(xc, mc, start, gen, noise):
            eq_eta = self.expected_loglik(xc, mc, theta)
            res = e_step(eq_eta, mc, elog_beta, self.T, self.s1, self.s2, self.e_step_tol, self.e_step_max_iter,
                         start, gen, self.e_step_start)
            del eq_eta
            varphi = exp_flush(res.log_varphi)
            r = torch.bmm(exp_flush(res.log_zeta), varphi)[mc]
            if noise is not None:  # r <- (1 - eta) r + eta e / sum(e), in place
                noise.mul_(eta / noise.sum(-1, keepdim=True))
                r.mul_(1.0 - eta).add_(noise)
                del noise
            stats = torch.zeros(theta.shape[0], self.K, dtype=self.compute_dtype, device=x.device)  # (P, K)
            accumulate_stats(stats, xc[mc], r, self.frame_chunk)
            return res, stats, varphi.sum((0, 1)).to(torch.float64)

        stats = torch.zeros(theta.shape[0], self.K, dtype=self.compute_dtype, device=x.device)
        counts = torch.zeros(self.K, dtype=torch.float64, device=x.device)
        local, iters = 0.0, 0
        for res, chunk_stats, chunk_counts in ordered_map(chunk, self._chunk_jobs(chunks, init, eta),
                                                          self._workers(x, chunks)):
            if keep is not None:
                keep.append(res)
            local += float(res.elbo.sum())
            iters += res.n_iter
            stats += chunk_stats
            counts += chunk_counts
        return stats, counts, local, iters / max(len(chunks), 1)

    @staticmethod
    def _workers(x: torch.Tensor, chunks: list) -> int:
        """Threads for the chunks: torch's thread count on the CPU (at most one per chunk), one elsewhere."""
        return min(torch.get_num_threads(), len(chunks)) if x.device.type == "cpu" else 1

    def _chunk_jobs(self, chunks: list, init: list | None, eta: float):
        """``(x, mask, warm start, generator, splash noise)`` per chunk. Every random draw is made here, in chunk
        order: a random E-step start's own stream (``e_step_start="random"`` without ``init``), and with
        ``eta > 0`` the splash noise ``e ~ U(0, 1)^K`` per frame."""
        random_start = init is None and self.e_step_start == "random"
        for ci, (xc, mc) in enumerate(chunks):
            gen = None
            if random_start:
                gen = torch.Generator(device=xc.device)
                gen.manual_seed(int(torch.randint(2**62, (), generator=self.generator, device=xc.device)))
            noise = None
            if eta > 0:
                noise = torch.rand(int(mc.sum()), self.K, dtype=self.compute_dtype, device=xc.device,
                                   generator=self.generator)
            yield xc, mc, None if init is None else init[ci], gen, noise

    def _chunks(self, x, mask):
        """Song chunks of at most ``song_chunk`` songs, trimmed to their longest song."""
        for s in range(0, x.shape[0], self.song_chunk):
            mc = mask[s : s + self.song_chunk]
            width = max(int(mc.sum(1).max()), 1)
            yield x[s : s + self.song_chunk, :width], mc[:, :width]

    def _global_update(self, stats: torch.Tensor, counts: torch.Tensor, scale: float, rho: float) -> None:
        prior = self.prior
        e_gamma = gamma_expectations(self.y[0], self.y[1])[0]
        u_hat, v_hat = corpus_stick_update(counts, e_gamma, scale)
        self.u.copy_((1 - rho) * self.u + rho * u_hat)
        self.v.copy_((1 - rho) * self.v + rho * v_hat)
        y_hat = concentration_update(stick_expectations(self.u, self.v)[1], self.g1, self.g2)
        self.y.copy_((1 - rho) * self.y + rho * y_hat)
        n, sx, sxx = FrameStats(stats.T).unpack(self.rows, self.cols, self.dim)
        new = nw_posterior(scale * n, scale * sx, scale * sxx, prior, self.cov_reg)
        self._set_nw(*blend_nw((self.m, self.beta, self.nu, self.winv), new, rho))

    def global_elbo(self) -> torch.Tensor:
        """Corpus-level ELBO terms: corpus sticks, gamma, and the Gaussian-Wishart atoms (scalar)."""
        sticks = stick_elbo_term(self.u, self.v, self.y[0], self.y[1])
        conc = gamma_elbo_term(self.y[0], self.y[1], self.g1, self.g2)
        nw = nw_elbo_term(self.m, self.beta, self.nu, self.winv, self.derived, self.prior)
        return sticks + conc + nw

    @torch.no_grad()
    def fit_batch_mode(self, x: torch.Tensor, mask: torch.Tensor, n_iter: int) -> list[float]:
        """Full-batch coordinate ascent on the whole corpus ``x`` (rho = 1, no splash noise), the local
        state carried over between sweeps. Returns the ELBO after every E-step and after every global
        update, interleaved; it is non-decreasing (with ``cov_reg = 0``, which otherwise biases W)."""
        trace: list[float] = []
        state = None
        for _ in range(n_iter):
            keep: list = []
            stats, counts, local, _ = self._local_pass(x, mask, 0.0, state, keep)
            trace.append(local + float(self.global_elbo()))
            self._global_update(stats, counts, 1.0, 1.0)
            state = keep
            trace.append(float(self.elbo_with_locals(x, mask, state)))
            self.step += 1
        return trace

    @torch.no_grad()
    def elbo_with_locals(self, x: torch.Tensor, mask: torch.Tensor, states: list) -> torch.Tensor:
        """Full-corpus ELBO at the current globals and the given per-chunk local states (term by term)."""
        theta, elog_beta = self.theta(), self.elog_beta().to(self.compute_dtype)
        total = 0.0
        for (xc, mc), st in zip(self._chunks(x, mask), states):
            eq_eta = self.expected_loglik(xc, mc, theta)
            total += float(local_elbo(eq_eta, mc, elog_beta, st, self.s1, self.s2).sum())
        return total + self.global_elbo()


def _one_hot(z: torch.Tensor, k: int, dtype) -> torch.Tensor:
    out = torch.zeros(z.shape[0], k, dtype=dtype, device=z.device)
    out[torch.arange(z.shape[0], device=z.device), z] = 1.0
    return out


def kmeans_pp(x: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
    """k-means++ seeding (Arthur & Vassilvitskii 2007): ``(N, D) -> (k, D)`` rows of ``x``."""
    first = torch.randint(x.shape[0], (1,), generator=generator, device=x.device)
    seeds = [x[first]]
    d2 = ((x - seeds[0]) ** 2).sum(1)
    for _ in range(1, k):
        p = d2 / d2.sum() if float(d2.sum()) > 0 else torch.full_like(d2, 1.0 / len(d2))
        idx = torch.multinomial(p, 1, generator=generator)
        seeds.append(x[idx])
        d2 = torch.minimum(d2, ((x - seeds[-1]) ** 2).sum(1))
    return torch.cat(seeds)
