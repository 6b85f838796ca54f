"""A SIMULATED listening log over the corpus songs: the embedded stand-in for the Echonest Taste Profile in
the Kim & Liem (ISMIR 2022) item-kNN recommendation protocol. Nobody listened to anything: the users,
their tastes and their play counts are drawn from a seed.

Generative story (every draw from ``numpy.random.default_rng([seed, 2022])``):

1. Each user ``u`` has, for every taste category ``c`` (default genre, era, instrument), a preference
   ``theta_uc ~ Dirichlet(concentration * 1)`` over the corpus tags of that category (small
   concentration: a few favourite tags per user).
2. Song ``i`` matches the user in ``c`` by the mean preference over its tags in ``c``,
   ``m_uic = mean_{t in tags(i, c)} theta_uc[t]`` (``1 / |c|``, neutral, when it has none); its log-weight is
   ``w_ui = taste_strength * sum_c log(|c| m_uic + 1e-3) + log pop_i`` with ``pop_i ~ LogNormal(0,
   popularity_sigma)`` a per-song popularity shared by every user (so uniform taste = popularity only).
3. The user's number of songs is ``n_u = min_items + Poisson(Gamma(2, (mean_items - min_items) / 2))``
   (a long tail, as real logs), capped at half the catalogue; the songs are drawn without replacement
   with probabilities proportional to ``exp(w_ui)`` (Gumbel top-k).
4. Play counts: ``1 + Poisson(3 exp(w_ui - max_chosen w_u))`` (favourites are replayed). The protocol
   binarises them anyway.

Sized for :func:`mirbench.evaluation.itemknn.itemknn_ndcg` (10 % valid / 10 % test users, 30 % of their
songs hidden): 2,000 users x about 25 songs of 360 by default.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse as sp

TASTE_CATEGORIES = ("genre", "era", "instrument")


@dataclass(frozen=True)
class ListeningLog:
    """``plays`` ``(U, I)`` CSR play counts; ``weights`` ``(U, I)`` the users' log-weights ``w_ui``;
    ``taste`` category -> ``(U, |c|)`` Dirichlet preferences; ``popularity`` ``(I,)``."""

    plays: sp.csr_matrix
    weights: np.ndarray
    taste: dict[str, np.ndarray]
    popularity: np.ndarray


def simulate_listening(
    item_tags: np.ndarray,
    tag_categories: Sequence[str],
    n_users: int = 2000,
    mean_items: float = 25.0,
    min_items: int = 5,
    categories: Sequence[str] = TASTE_CATEGORIES,
    concentration: float = 0.2,
    taste_strength: float = 1.0,
    popularity_sigma: float = 1.0,
    seed: int = 0,
) -> ListeningLog:
    """Simulate the log (see the module docstring): ``item_tags`` ``(I, T)`` multi-hot, ``tag_categories``
    ``(T,)`` the category of each tag."""
    y = np.asarray(item_tags) > 0
    n_items = y.shape[0]
    cats = np.asarray(tag_categories)
    if len(cats) != y.shape[1]:
        raise ValueError(f"{len(cats)} tag categories for {y.shape[1]} tag columns")
    if mean_items < min_items:
        raise ValueError(f"mean_items ({mean_items}) must be >= min_items ({min_items})")
    rng = np.random.default_rng([seed, 2022])
    weights = np.zeros((n_users, n_items))
    taste = {}
    for c in categories:
        cols = np.flatnonzero(cats == c)
        if len(cols) == 0:
            raise ValueError(f"no tag in category {c!r}")
        theta = rng.dirichlet(np.full(len(cols), concentration), size=n_users)  # (U, |c|)
        yc = y[:, cols].astype(np.float64)
        n_tags = yc.sum(1)
        match = (theta @ yc.T) / np.maximum(n_tags, 1.0)  # (U, I) mean preference over the song's tags
        match[:, n_tags == 0] = 1.0 / len(cols)
        weights += taste_strength * np.log(len(cols) * match + 1e-3)
        taste[c] = theta
    popularity = rng.lognormal(0.0, popularity_sigma, size=n_items)
    weights += np.log(popularity)
    extra = rng.poisson(rng.gamma(2.0, (mean_items - min_items) / 2.0, size=n_users)) if mean_items > min_items \
        else np.zeros(n_users, dtype=int)
    n_u = np.minimum(min_items + extra, max(n_items // 2, 1))
    gumbel = rng.gumbel(size=(n_users, n_items))
    order = np.argsort(-(weights + gumbel), axis=1, kind="stable")
    rows, cols, vals = [], [], []
    for u in range(n_users):
        items = np.sort(order[u, : n_u[u]])
        w = weights[u, items]
        counts = 1 + rng.poisson(3.0 * np.exp(w - w.max()))
        rows.append(np.full(len(items), u))
        cols.append(items)
        vals.append(counts)
    plays = sp.csr_matrix((np.concatenate(vals).astype(np.float64), (np.concatenate(rows), np.concatenate(cols))),
                          shape=(n_users, n_items))
    return ListeningLog(plays=plays, weights=weights, taste=taste, popularity=popularity)
