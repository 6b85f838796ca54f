"""Checkpoints load weights-only: the suite's own (numpy, scikit-learn k-means, DataInfo) load, a foreign pickle is
refused with a one-line message naming the file and the global, unless the user passes --trust-checkpoint."""

from __future__ import annotations

import os

import lightning as L
import numpy as np
import pytest
import torch

from mirbench.checkpoints import UntrustedCheckpointError, load_checkpoint


class Payload:
    """What a crafted checkpoint carries: unpickling it calls a function of the attacker's choice."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


@pytest.fixture
def crafted(tmp_path):
    marker = tmp_path / "PWNED"
    path = tmp_path / "crafted.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": {}, "x": Payload(str(marker))}, path)
    return path, marker


def test_a_foreign_pickle_is_refused_and_runs_nothing(crafted):
    path, marker = crafted
    with pytest.raises(UntrustedCheckpointError, match=r"crafted\.ckpt: refused to load: the checkpoint needs "
                                                       r"posix\.mkdir.*pass --trust-checkpoint"):
        load_checkpoint(path)
    assert not marker.exists()


def test_evaluate_refuses_then_trusts_on_request(crafted, capsys):
    from mirbench.cli import main

    path, marker = crafted
    assert main(["evaluate", "--protocol", "lee2020", "--checkpoint", str(path), "--out", str(path.parent)]) == 2
    err = capsys.readouterr().err
    assert "mirbench evaluate: error:" in err and "refused to load" in err and "--trust-checkpoint" in err
    assert len(err.strip().splitlines()) == 1 and not marker.exists()
    # trusted: the pickle runs (the user said so); the class hint names an option that exists
    assert main(["evaluate", "--protocol", "lee2020", "--checkpoint", str(path), "--trust-checkpoint",
                 "--out", str(path.parent)]) == 2
    err = capsys.readouterr().err
    assert marker.exists() and "does not name its class; pass --config RUN.yaml" in err and "--class-path" not in err


@pytest.mark.parametrize("content", [b"", b"name,value\nx,1\n", bytes(range(256)) * 4])
def test_a_file_that_is_no_checkpoint_is_one_line(tmp_path, content):
    path = tmp_path / "model.ckpt"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=r"model\.ckpt: not a readable PyTorch checkpoint") as e:
        load_checkpoint(path)
    assert "\n" not in str(e.value) and not isinstance(e.value, UntrustedCheckpointError)


def test_a_class_named_by_the_file_outside_mirbench_is_not_imported(tmp_path):
    from mirbench.bench.evaluate import _load_checkpoint

    path = tmp_path / "named.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": {"_class_path": "antigravity.Fly"}}, path)
    with pytest.raises(ValueError, match=r"names the class 'antigravity\.Fly', not a mirbench method"):
        _load_checkpoint(path)


def test_the_suites_own_checkpoints_load_weights_only(tmp_path):
    """VQCodebook keeps its scikit-learn k-means (numpy arrays, a RandomState) in the checkpoint."""
    from mirbench.data.song_batches import SongFramesDataModule
    from mirbench.hdpgmm.synthetic import toy_songs
    from mirbench.methods.vqcodebook import VQCodebookMethod

    songs, _, _ = toy_songs(n_songs=16, dim=2, seed=2)
    dm = SongFramesDataModule(train=songs, batch_size=8)
    model = VQCodebookMethod(n_clusters=3, data_info=dm.data_info)
    trainer = L.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, accelerator="cpu", default_root_dir=tmp_path)
    trainer.fit(model, datamodule=dm)
    trainer.save_checkpoint(tmp_path / "vq.ckpt")
    ckpt = load_checkpoint(tmp_path / "vq.ckpt")
    np.testing.assert_array_equal(ckpt["vq_kmeans"].cluster_centers_, model.kmeans.cluster_centers_)
    restored = VQCodebookMethod.load_from_checkpoint(tmp_path / "vq.ckpt", weights_only=True)
    np.testing.assert_array_equal(restored.embed(songs), model.embed(songs))
