"""The tutorial's deep methods: a few steps on toy blobs run, log the 1-NN metrics and learn something."""

import pytest
import torch
from tutorial_blobs import BlobsDataModule, torch_seed, trainer

from mirbench.backbones.mlp import MLP
from mirbench.losses.contrastive import ContrastiveLoss
from mirbench.losses.ntxent import NTXentLoss
from mirbench.losses.triplet import TripletMarginLoss
from mirbench.methods.normsoftmax import NormSoftmaxMethod
from mirbench.methods.prototypical import PrototypicalMethod, support_mask
from mirbench.methods.siamese import SiameseMethod
from mirbench.methods.simclr import SimCLRMethod
from mirbench.methods.triplet_mining import TripletMiningMethod


def adam(params):
    return torch.optim.Adam(params, lr=3e-3)


def build(name, info):
    backbone = MLP(hidden=(32,), out_dim=8)
    if name == "siamese":
        return SiameseMethod(backbone, ContrastiveLoss(margin=1.0, normalize=True), optimizer=adam, data_info=info)
    if name.startswith("triplet_"):
        loss = TripletMarginLoss(margin=0.2, distance="squared_euclidean")
        return TripletMiningMethod(backbone, loss, mining=name[len("triplet_"):], optimizer=adam, data_info=info)
    if name == "normsoftmax":
        return NormSoftmaxMethod(backbone, temperature=0.1, optimizer=adam, data_info=info)
    if name == "protonet":
        return PrototypicalMethod(backbone, n_support=4, optimizer=adam, data_info=info)
    return SimCLRMethod(backbone, NTXentLoss(0.5), projection_dim=8, optimizer=adam, data_info=info)


@pytest.mark.parametrize("name", ["siamese", "triplet_semihard", "triplet_hard", "normsoftmax", "protonet", "simclr"])
def test_trains_and_reports_knn_metrics(tmp_path, name):
    torch_seed(0)
    dm = BlobsDataModule(batch_size=32, samples_per_class=8)
    model = build(name, dm.data_info)
    assert model.backbone.in_dim == 6  # materialised from data_info
    before = [p.detach().clone() for p in model.backbone.parameters()]
    tr = trainer(tmp_path, max_epochs=3)
    tr.fit(model, datamodule=dm)
    metrics = tr.test(model, datamodule=dm, verbose=False)[0]
    assert set(metrics) >= {"test/accuracy", "test/macro_f1"}
    assert 0.0 <= metrics["test/macro_f1"] <= metrics["test/accuracy"] + 0.2
    assert tr.global_step == 9
    assert any(not torch.equal(a, b) for a, b in zip(before, model.backbone.parameters()))
    assert metrics["test/accuracy"] > 0.4  # four well-separated blobs: chance is 0.25


def test_easy_mining_has_zero_loss():
    torch_seed(0)
    dm = BlobsDataModule(batch_size=32, samples_per_class=8)
    model = build("triplet_easy", dm.data_info)
    model.feat_mean, model.feat_scale = torch.zeros(6, dtype=torch.float64), torch.ones(6, dtype=torch.float64)
    batch = next(iter(dm.train_dataloader()))
    assert float(model.training_loss(batch)) == 0.0


def test_support_mask_first_items_per_class():
    labels = torch.tensor([1, 0, 1, 1, 0, 2])
    assert support_mask(labels, 2).tolist() == [True, True, True, False, True, True]


def test_simclr_views_differ():
    torch_seed(0)
    model = build("simclr", BlobsDataModule().data_info)
    x = torch.randn(5, 6)
    assert not torch.equal(model.augment(x), model.augment(x))


def test_every_deep_method_takes_its_loss_injected():
    """Each tutorial deep method trains with the loss module it is given (defaults unchanged otherwise)."""
    from mirbench.losses.normsoftmax import NormalizedSoftmaxLoss
    from mirbench.losses.prototypical import PrototypicalLoss

    info = BlobsDataModule(batch_size=32, samples_per_class=8).data_info
    given = {"normsoftmax": NormalizedSoftmaxLoss(info.num_classes, 8, temperature=0.2),
             "protonet": PrototypicalLoss("cosine")}
    assert NormSoftmaxMethod(MLP(hidden=(32,), out_dim=8), given["normsoftmax"], data_info=info).loss \
        is given["normsoftmax"]
    assert PrototypicalMethod(MLP(hidden=(32,), out_dim=8), given["protonet"], data_info=info).loss is given["protonet"]
    default = PrototypicalMethod(MLP(hidden=(32,), out_dim=8), data_info=info, distance="euclidean")
    assert isinstance(default.loss, PrototypicalLoss) and default.loss.distance == "euclidean"
