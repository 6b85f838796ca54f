"""HDPGMMMethod: Lightning fit on a toy corpus, representation contract, checkpoint/resume, YAML."""

from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
import yaml

from mirbench.data.base import DataInfo
from mirbench.data.song_batches import SongFramesDataModule
from mirbench.hdpgmm.synthetic import toy_songs
from mirbench.methods.hdpgmm import HDPGMMMethod

CONFIG = Path(__file__).resolve().parents[2] / "benchmarks/configs/hdpgmm2022/hdpgmm.yaml"


def _trainer(tmp_path, epochs):
    return L.Trainer(max_epochs=epochs, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                     enable_model_summary=False, accelerator="cpu", default_root_dir=tmp_path)


@pytest.fixture(scope="module")
def corpus():
    songs, means, _ = toy_songs(n_songs=45, dim=2, seed=0)
    # raw frames far from whitened scale: the method whitens internally
    return [s * 3.0 + np.float32(10.0) for s in songs], means * 3.0 + 10.0


def test_fit_embed_and_resume(corpus, tmp_path):
    songs, means = corpus
    dm = SongFramesDataModule(train=songs, batch_size=15, max_len=40)
    model = HDPGMMMethod(n_components=6, n_song_components=3, tau0=1.0, splash=0.01, init="kmeans++",
                         e_step_tol=1e-5, e_step_max_iter=60, data_info=dm.data_info)
    trainer = _trainer(tmp_path, 4)
    trainer.fit(model, datamodule=dm)
    assert int(model.model.step) == 12 and int(model.model.n_songs) == 45
    feats = model.embed(songs)
    assert feats.shape == (45, 6) and feats.dtype == np.float32
    # tol: float32 log responsibilities of 6 components exponentiated and summed: ~K u x a few; 1e-4 is 100x
    assert np.allclose(np.exp(feats).sum(1), 1.0, atol=1e-4)
    # recovered means, mapped back to raw frame space
    w = model.model.elog_beta().exp()
    raw = model.model.m[w > 0.05] @ torch.linalg.inv(model.whitener.prec_chol) + model.whitener.mean
    dist = torch.cdist(torch.as_tensor(means), raw).min(1).values
    assert len(raw) == 3 and float(dist.max()) < 0.5
    preds = trainer.predict(model, dataloaders=dm.predict_dataloader())
    # tol: the same float32 computations in predict's batches vs embed's: ~u x |log r| (< 20) ~ 1e-6
    assert np.allclose(torch.cat(preds).numpy(), feats, atol=1e-5)
    resp = model.responsibilities(songs[:4])
    # tol: as above (the sum of 6 float32 responsibilities)
    assert resp.shape == (4, 6) and np.allclose(resp.sum(1), 1.0, atol=1e-4)
    ckpt = tmp_path / "hdpgmm.ckpt"
    trainer.save_checkpoint(ckpt)
    restored = HDPGMMMethod.load_from_checkpoint(ckpt)
    assert np.array_equal(restored.embed(songs), feats)
    resumed = HDPGMMMethod.load_from_checkpoint(ckpt)
    _trainer(tmp_path, 5).fit(resumed, datamodule=dm, ckpt_path=ckpt)
    assert int(resumed.model.step) == 15  # continued from the counter, not re-initialised


def test_shapes_and_dtypes_on_cpu():
    model = HDPGMMMethod(n_components=4, n_song_components=2, compute_dtype="float64", data_info=DataInfo(input_shape=(5,)))
    assert model.model.dim == 5 and model.model.m.dtype == torch.float64
    songs = [np.random.default_rng(j).normal(size=(20 + j, 5)).astype(np.float32) for j in range(6)]
    dm = SongFramesDataModule(train=songs, batch_size=3)
    model.initialise(dm.train_dataloader())
    batch = next(iter(dm.predict_dataloader()))
    out = model(batch["frames"], batch["mask"])
    assert out.shape == (3, 4) and out.dtype == torch.float32 and torch.isfinite(out).all()


@pytest.mark.parametrize("name", ["hdpgmm", "g1", "vqcodebook", "kim", "clmr"])
def test_method_yaml_instantiates(name):
    from jsonargparse import ArgumentParser
    from lightning.pytorch import LightningModule

    cfg = yaml.safe_load((CONFIG.parent / f"{name}.yaml").read_text())
    parser = ArgumentParser()
    parser.add_subclass_arguments(LightningModule, "model")
    model = parser.instantiate_classes(parser.parse_object({"model": cfg["model"]})).model
    assert type(model).__module__ == f"mirbench.methods.{name}"
    if name == "hdpgmm":
        assert (model.model.K, model.model.T, model.model.tau0, model.model.kappa, model.model.splash) == (256, 32, 64.0, 0.6, 0.1)
    if name in ("kim", "clmr"):
        opt = model.configure_optimizers()
        assert opt.defaults["weight_decay"] == 1e-6 and opt.defaults["lr"] == {"kim": 1e-3, "clmr": 3e-4}[name]


def test_prior_hyperparameters_reach_the_model_from_the_method_and_the_cli_parser():
    from jsonargparse import ArgumentParser

    from mirbench.hdpgmm.config import HDPGMMConfig

    parser = ArgumentParser()
    parser.add_class_arguments(HDPGMMMethod, "model")
    cfg = parser.parse_args(["--model.s1=2.5", "--model.g2=0.5", "--model.splash=0.001", "--model.init=kmeans++"])
    method = HDPGMMMethod(**cfg.model.as_dict())
    model = method.model
    assert (model.s1, model.s2, model.g1, model.g2, model.splash) == (2.5, 1.0, 1.0, 0.5, 0.001)
    assert model.prior.s1 == 2.5 and model.prior.g2 == 0.5 and method.init == "kmeans++"
    assert model.config == HDPGMMConfig(s1=2.5, g2=0.5, splash=0.001)
    assert method.hparams["s1"] == 2.5  # saved for checkpoints


@pytest.mark.parametrize("method", ["hdpgmm", "vqcodebook"])
def test_in_place_fits_refuse_ddp(method):
    """HDPGMM's online VI and VQCodebook's mini-batch k-means are not data-parallel: several processes are an
    error before any batch, not a model fitted on rank 0's shard."""
    from types import SimpleNamespace

    from mirbench.methods.vqcodebook import VQCodebookMethod

    info = DataInfo(input_shape=(4,))
    m = HDPGMMMethod(n_components=4, n_song_components=2, data_info=info) if method == "hdpgmm" else \
        VQCodebookMethod(n_clusters=4, data_info=info)
    m._trainer = SimpleNamespace(world_size=2)
    with pytest.raises(RuntimeError, match="cannot be fitted data-parallel.*2 processes.*--trainer.devices=1"):
        m.on_train_start()
