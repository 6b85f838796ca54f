"""Lee et al. 2020 models: heads, masks, losses against hand computations, a CLI fit on the corpus."""

import pytest
import torch
import torch.nn.functional as F

from mirbench.backbones.inception import InceptionBackbone
from mirbench.data.base import DataInfo
from mirbench.heads.subspaces import category_masks, category_slices
from mirbench.heads.tagging import DisentangledTagHead, ProxyHead, TagHead
from mirbench.methods.tagging import ClassificationMethod, ProxyMethod
from mirbench.methods.triplet import TripletMethod

INFO = DataInfo(tag_names=("rock", "jazz", "sad", "happy", "piano", "guitar", "60s", "80s"),
                tag_categories=("genre", "genre", "mood", "mood", "instrument", "instrument", "era", "era"),
                categories=("genre", "mood", "instrument", "era"), input_shape=(1, 129, 128))


class Identity(torch.nn.Module):
    embedding_dim = 8

    def forward(self, x):
        return x


def test_inception_backbone_shapes_and_knobs():
    net = InceptionBackbone(stem_channels=8, channels=(8, 8, 16), embedding_dim=32)
    assert net(torch.randn(2, 1, 129, 128)).shape == (2, 32)
    assert net(torch.randn(2, 129, 128)).shape == (2, 32)  # channel axis added
    with pytest.raises(ValueError, match="divisible by 4"):
        InceptionBackbone(channels=(10,))


def test_subspaces_are_disjoint_blocks():
    s = category_slices(256, INFO.categories)
    assert s["genre"] == slice(0, 64) and s["era"] == slice(192, 256)
    m = category_masks(256, INFO.categories)
    assert torch.equal(m.sum(0), torch.ones(256)) and torch.equal(m.sum(1), torch.full((4,), 64.0))
    with pytest.raises(ValueError, match="cannot be split"):
        category_slices(10, INFO.categories)


def test_heads_are_the_papers_equations():
    """Eq. 8: (f/||f||) . c_y without bias; Eq. 6: (f/||f||) . p_y, proxies not normalised, no temperature."""
    torch.manual_seed(0)
    f = torch.randn(5, 16)
    head, proxy = TagHead(16, 4, normalize=True, bias=False), ProxyHead(16, 4)
    assert head.linear.bias is None
    # float32 rounding of 16-term dot products of unit-scale values: ~16 * 6e-8, far below 1e-5
    torch.testing.assert_close(head(f), (f / f.norm(dim=1, keepdim=True)) @ head.linear.weight.T, rtol=0, atol=1e-5)
    torch.testing.assert_close(head(f), head(3.7 * f), rtol=0, atol=1e-5)
    with torch.no_grad():
        proxy.proxies.mul_(3.0)  # an un-normalised proxy's length scales its logits (no cosine, Eq. 6)
    expected = (f / f.norm(dim=1, keepdim=True)) @ proxy.proxies.T
    torch.testing.assert_close(proxy(f), expected, rtol=0, atol=1e-5)
    cosine = ProxyHead(16, 4, temperature=0.5, normalize_proxies=True)  # the named alternative
    torch.testing.assert_close(cosine(f), F.normalize(f, dim=1) @ F.normalize(cosine.proxies, dim=1).T / 0.5,
                               rtol=0, atol=1e-5)
    # tol: the negation at allclose's default: unnormalised logits scale by 3.7, far beyond 1e-5
    assert not torch.allclose(TagHead(16, 4)(f), TagHead(16, 4)(3.7 * f))
    with pytest.raises(ValueError, match="temperature"):
        ProxyHead(16, 4, temperature=0.0)


def test_embeddings_are_unit_length_for_the_normalised_models_only():
    x = torch.randn(3, 8) * 5
    for model, unit in ((ClassificationMethod(Identity(), normalize=True, data_info=INFO), True),
                        (ClassificationMethod(Identity(), normalize=False, bias=True, data_info=INFO), False),
                        (ProxyMethod(Identity(), data_info=INFO), True), (TripletMethod(Identity(), data_info=INFO), True)):
        norms = model.embed(x).norm(dim=1)
        # tol: float32 unit vectors of d = 8: |x| within ~d u ~ 5e-7
        assert torch.allclose(norms, torch.ones(3), atol=1e-6) == unit


def test_disentangled_head_scores_each_category_from_its_block_only():
    blocks = category_slices(8, INFO.categories)
    head = DisentangledTagHead(blocks, INFO.tag_categories, lambda d, n: TagHead(d, n))
    f = torch.randn(3, 8)
    g = f.clone()
    g[:, blocks["mood"]] += 10.0
    diff = (head(f) - head(g)).abs().sum(0)
    assert diff[[2, 3]].gt(0).all() and diff[[0, 1, 4, 5, 6, 7]].eq(0).all()


def test_triplet_step_matches_a_hand_computed_masked_hinge():
    torch.manual_seed(0)
    model = TripletMethod(Identity(), margin=0.1, disentangle=True, track_weight=0.5, data_info=INFO)
    b = 6
    batch = {k: torch.randn(b, 8) for k in ("anchor", "positive", "negative", "track_anchor",
                                            "track_positive", "track_negative")}
    batch["category"] = torch.tensor([0, 1, 2, 3, 0, 1])
    model.log = lambda *a, **k: None
    loss = model.training_step(batch, 0)

    def hinge(a, p, n, m):
        """Eq. 1-2: max{0, cos(a o m, n o m) - cos(a o m, p o m) + 0.1}."""
        a, p, n = (t * m for t in (a, p, n))
        cos = lambda u, v: float(u @ v / (u.norm() * v.norm()))  # noqa: E731
        return max(0.0, cos(a, n) - cos(a, p) + 0.1)

    masks = category_masks(8, INFO.categories)
    cat = sum(hinge(batch["anchor"][i], batch["positive"][i], batch["negative"][i], masks[batch["category"][i]])
              for i in range(b)) / b
    track = sum(hinge(batch["track_anchor"][i], batch["track_positive"][i], batch["track_negative"][i],
                      torch.ones(8)) for i in range(b)) / b
    # tol: float32 cosines of 8-d masked vectors vs the float64 naive loop: ~d u per cosine ~ 1e-6 relative
    assert float(loss) == pytest.approx(cat + 0.5 * track, rel=1e-5)


def test_tagging_methods_train_with_bce():
    torch.manual_seed(0)
    for model in (ClassificationMethod(Identity(), normalize=True, disentangle=True, data_info=INFO),
                  ProxyMethod(Identity(), data_info=INFO)):
        model.log = lambda *a, **k: None
        batch = {"x": torch.randn(4, 8), "tags": torch.randint(0, 2, (4, 8)).float()}
        loss = model.training_step(batch, 0)
        expected = F.binary_cross_entropy_with_logits(model.tag_logits(batch["x"]), batch["tags"])
        # tol: approx's default rel 1e-6: the same float32 BCE on the same logits, a rounding
        assert float(loss) == pytest.approx(float(expected))
        loss.backward()


def test_a_method_without_tags_says_how_to_run_it():
    with pytest.raises(ValueError, match="data_info"):
        ClassificationMethod(Identity())


def test_nan_loss_is_a_clear_error():
    model = ClassificationMethod(Identity(), data_info=INFO)
    with pytest.raises(FloatingPointError, match="learning rate"):
        model.check_finite(torch.tensor(float("nan")), "train")
