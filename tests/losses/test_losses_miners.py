"""mine_triplets against pytorch-metric-learning's TripletMarginMiner, and a naive loop for multi-hot labels."""

import itertools

import pytest
import torch
import torch.nn.functional as F
from pytorch_metric_learning import distances as pml_distances
from pytorch_metric_learning import miners as pml_miners

from mirbench.losses.miners import label_masks, mine_triplets

PML_DISTANCE = {
    "euclidean": lambda: pml_distances.LpDistance(normalize_embeddings=False),
    "squared_euclidean": lambda: pml_distances.LpDistance(normalize_embeddings=False, power=2),
    "cosine": lambda: pml_distances.CosineSimilarity(),
}


@pytest.mark.parametrize("kind", ["all", "easy", "hard", "semihard"])
@pytest.mark.parametrize("distance", ["euclidean", "squared_euclidean", "cosine"])
def test_matches_pml_miner(kind, distance):
    g = torch.Generator().manual_seed(3)
    emb = F.normalize(torch.randn(24, 5, generator=g), dim=1)
    labels = torch.randint(0, 4, (24,), generator=g)
    margin = 0.2 if distance != "squared_euclidean" else 0.4
    miner = pml_miners.TripletMarginMiner(margin=margin, type_of_triplets=kind, distance=PML_DISTANCE[distance]())
    ref = miner(emb, labels)
    ours = mine_triplets(emb, labels, margin, kind, distance)
    assert len(ours[0]) > 0 or kind == "hard"
    for o, r in zip(ours, ref):
        assert torch.equal(o, r)


def test_kinds_partition_all_valid_triplets():
    g = torch.Generator().manual_seed(4)
    emb, labels = torch.randn(16, 3, generator=g), torch.randint(0, 3, (16,), generator=g)
    def mined(kind):
        return set(zip(*(t.tolist() for t in mine_triplets(emb, labels, 0.5, kind))))

    sets = {k: mined(k) for k in ("easy", "hard", "semihard")}
    pos, neg = label_masks(labels)
    valid = {(a, p, n) for a, p, n in itertools.product(range(16), repeat=3) if pos[a, p] and neg[a, n]}
    assert sets["easy"] | sets["hard"] | sets["semihard"] == valid
    assert not (sets["easy"] & sets["hard"]) and not (sets["easy"] & sets["semihard"])
    assert mined("all") == sets["hard"] | sets["semihard"]


def test_multi_hot_labels_naive_loop():
    g = torch.Generator().manual_seed(5)
    tags = (torch.rand(10, 6, generator=g) < 0.25).float()
    emb = torch.randn(10, 4, generator=g)
    d = torch.cdist(emb, emb)
    expect = set()
    for a, p, n in itertools.product(range(10), repeat=3):
        shares_p = bool((tags[a] * tags[p]).sum() > 0)
        shares_n = bool((tags[a] * tags[n]).sum() > 0)
        if a != p and a != n and shares_p and not shares_n and 0 < d[a, n] - d[a, p] <= 1.0:
            expect.add((a, p, n))
    got = set(zip(*(t.tolist() for t in mine_triplets(emb, tags, 1.0, "semihard"))))
    assert got == expect and expect


def test_bad_kind():
    with pytest.raises(ValueError, match="kind"):
        mine_triplets(torch.zeros(2, 2), torch.zeros(2, dtype=torch.long), 0.1, "hardest")
