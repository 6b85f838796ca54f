"""Two-tower hypersphere methods: the batch contract, every row's loss trains, every YAML instantiates."""

from pathlib import Path

import pytest
import torch
import yaml
from lightning.pytorch import LightningModule, Trainer

from mirbench.backbones.temporal import TemporalEncoder, masked_mean
from mirbench.heads.vmf import VMFHead
from mirbench.losses.hib import HIBLoss
from mirbench.losses.infonce import InfoNCELoss
from mirbench.losses.mc_infonce import MCInfoNCELoss
from mirbench.losses.pcme import PCMEppLoss
from mirbench.losses.ssw import SSWLoss
from mirbench.methods.hypersphere import HypersphereMethod

CONFIGS = Path(__file__).resolve().parents[2] / "benchmarks" / "configs" / "nakatsuka2024"
ROWS = {"baseline": InfoNCELoss, "mcinfonce": MCInfoNCELoss, "ssw": SSWLoss, "mcinfonce_ssw": SSWLoss,
        "pcmepp": PCMEppLoss, "hib": HIBLoss}
A, V = 12, 24  # small frame features for the fast tests (the contract's are 128 / 1024)


def batch(b=16, t=5, seed=0, a_dim=A, v_dim=V):
    """Paired random sequences: rgb is a fixed linear map of the audio plus noise; the last 2 seconds
    of odd items are padding."""
    g = torch.Generator().manual_seed(seed)
    audio = torch.randn(b, t, a_dim, generator=g)
    mix = torch.randn(a_dim, v_dim, generator=torch.Generator().manual_seed(99)) / a_dim**0.5
    rgb = audio @ mix + 0.3 * torch.randn(b, t, v_dim, generator=g)
    mask = torch.zeros(b, t, dtype=torch.bool)
    mask[1::2, -2:] = True
    return {"audio": audio, "rgb": rgb, "mask": mask, "item": torch.arange(b)}


def small_method(loss, pooling="mean"):
    torch.manual_seed(0)
    enc = lambda d: TemporalEncoder(d, hidden=32, out_dim=32, pooling=pooling, n_heads=2, dropout=0.0)  # noqa: E731
    return HypersphereMethod(loss, enc(A), enc(V), embedding_dim=16)


LOSSES = {
    "baseline": lambda: InfoNCELoss(),
    "mcinfonce": lambda: MCInfoNCELoss(n_samples=4),
    "ssw_uniform": lambda: SSWLoss("uniform", n_samples=4, n_projections=8),
    "mcinfonce_ssw": lambda: SSWLoss("pair", n_samples=4, n_projections=8),
    "ssw_logits": lambda: SSWLoss("logits", n_samples=4, n_projections=8),
    "pcmepp": lambda: PCMEppLoss(),
    "hib": lambda: HIBLoss(n_samples=4),
}


def _loss_at(model, b, seed=123):
    torch.manual_seed(seed)  # the same vMF draws before and after training
    with torch.no_grad():
        out = model(b)
        return float(model.loss(out["music_mu"], out["music_kappa"], out["video_mu"], out["video_kappa"]))


@pytest.mark.parametrize("name", list(LOSSES))
def test_a_few_steps_lower_the_loss(name):
    model = small_method(LOSSES[name]())
    model.log_dict = lambda *a, **k: None
    b = batch()
    model.eval()
    before = _loss_at(model, b)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(25):
        opt.zero_grad()
        loss = model.training_step(b, 0)
        loss.backward()
        opt.step()
    model.eval()
    assert _loss_at(model, b) < before


def test_embeddings_follow_the_contract_and_respect_the_mask():
    model = small_method(InfoNCELoss(), pooling="transformer").eval()
    b = batch(b=4)
    for embed in (model.embed_music, model.embed_video):
        mu, kappa = embed(b)
        assert mu.shape == (4, 16) and kappa.shape == (4,)
        # tol: float32 normalised vectors of d = 16: |mu| within ~d u ~ 1e-6
        assert torch.allclose(mu.norm(dim=-1), torch.ones(4), atol=1e-5) and (kappa > 0).all()
    # changing a padded second changes nothing; changing a real one does
    c = {k: v.clone() for k, v in b.items()}
    bump = 3.0 * torch.randn(A, generator=torch.Generator().manual_seed(4))  # not a constant: frames are LayerNormed
    c["audio"][1, -1] += bump
    # tol: masked frames: the same float32 ops on the unmasked positions, so equal up to a rounding
    assert torch.allclose(model.embed_music(b)[0], model.embed_music(c)[0], atol=1e-6)
    c["audio"][0, -1] += bump
    # tol: the negation: a changed unmasked frame moves the mean direction by >> 1e-4
    assert not torch.allclose(model.embed_music(b)[0][0], model.embed_music(c)[0][0], atol=1e-4)
    # clip-level features (B, F) are read as T = 1, without a mask
    mu, _ = model.embed_music({"audio": torch.randn(3, A)})
    assert mu.shape == (3, 16)


def test_masked_mean_and_kappa_head_init():
    h = torch.arange(12.0).reshape(1, 4, 3)
    mask = torch.tensor([[False, False, True, True]])
    # tol: allclose's default: float32 mean of 2 small integers, exact
    assert torch.allclose(masked_mean(h, mask), h[:, :2].mean(1))
    head = VMFHead(8, dim=128)
    lo, hi = head.kappa_range
    # tol: values printed to 2 decimals (12.93, 1238.4)
    assert (lo, hi) == pytest.approx((12.93, 1238.4), abs=0.02)  # r = 0.1 and 0.95 at d = 128
    _, kappa = head(torch.randn(5, 8))
    # tol: 85.17 printed to 2 decimals
    assert torch.allclose(kappa, torch.full((5,), 85.17), atol=0.01)  # r = 0.5, every item
    with pytest.raises(ValueError, match="kappa_min"):
        VMFHead(8, dim=16, kappa_min=5.0, kappa_init=2.0)


@pytest.mark.filterwarnings("ignore:`training_step` returned `None`")
@pytest.mark.filterwarnings("ignore:.*LeafSpec")
def test_lightning_fit_validate_test_and_predict():
    model = small_method(MCInfoNCELoss(n_samples=2))
    data = [batch(b=8, seed=s) for s in range(3)] + [batch(b=1, seed=9)]  # a last batch of one is skipped
    loader = torch.utils.data.DataLoader(data, batch_size=None)
    trainer = Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                      enable_model_summary=False, accelerator="cpu", devices=1)
    trainer.fit(model, loader, loader)
    assert "val/loss" in trainer.callback_metrics and torch.isfinite(trainer.callback_metrics["val/loss"])
    trainer.test(model, loader, verbose=False)
    assert "test/loss" in trainer.callback_metrics
    out = trainer.predict(model, loader)
    assert out[0]["music_mu"].shape == (8, 16) and torch.equal(out[0]["item"], torch.arange(8))


@pytest.mark.parametrize("row", list(ROWS))
def test_row_yaml_instantiates_and_steps(row):
    from jsonargparse import ArgumentParser

    cfg = yaml.safe_load((CONFIGS / f"{row}.yaml").read_text())
    parser = ArgumentParser()
    parser.add_subclass_arguments(LightningModule, "model")
    model = parser.instantiate_classes(parser.parse_object({"model": cfg["model"]})).model
    assert isinstance(model, HypersphereMethod) and type(model.loss) is ROWS[row]
    if row in ("ssw", "mcinfonce_ssw"):
        assert model.loss.ssw_mode == {"ssw": "logits", "mcinfonce_ssw": "pair"}[row]
    assert isinstance(model.configure_optimizers(), torch.optim.Adam)
    model.log_dict = lambda *a, **k: None
    loss = model.training_step(batch(b=4, t=3, a_dim=128, v_dim=1024), 0)  # the contract's frame sizes
    assert torch.isfinite(loss)


def test_evaluation_losses_are_repeatable_and_leave_the_training_stream_alone():
    model = small_method(SSWLoss("pair", n_samples=4, n_projections=8)).eval()
    logged = []
    model.log_dict = lambda logs, **k: logged.append(float(logs["val/loss"]))
    b = batch(b=8)
    torch.manual_seed(7)
    state = torch.random.get_rng_state()
    model.validation_step(b, 3)
    model.validation_step(b, 3)
    assert logged[0] == logged[1]
    assert torch.equal(torch.random.get_rng_state(), state)
    like = torch.zeros(1)
    assert torch.equal(model.loss.projections(16, like), model.loss.projections(16, like))  # eval: one set
    model.loss.train()
    assert not torch.equal(model.loss.projections(16, like), model.loss.projections(16, like))
