"""NSynth tutorial CSVs: parsing and checks on tiny files in the real format, and the real files when present."""

import numpy as np
import pytest
import torch

from mirbench.data import nsynth
from mirbench.data.nsynth import (FEATURES, INSTRUMENTS, ClassBalancedBatchSampler, NSynthTutorialDataModule,
                                  load_split, resolve_root)


def write_csvs(folder, n=(6, 3, 2), bad_header=False, bad_label=False):
    """Tiny CSVs in the real layout: unnamed id column, 33 features, instrument."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    cols = list(FEATURES) + ["instrument"]
    if bad_header:
        cols[0] = "mfcc_zero"
    for split, rows in zip(nsynth.SPLITS, n):
        lines = ["," + ",".join(cols)]
        for i in range(rows):
            label = "kazoo" if bad_label else INSTRUMENTS[i % 3]
            feats = ",".join(f"{v:.6f}" for v in rng.normal(size=33))
            lines.append(f"{split}/{label}_acoustic_{i:03d}-060-100.wav,{feats},{label}")
        (folder / f"nsynth_{split}.csv").write_text("\n".join(lines) + "\n")
    return folder


def test_parse_tiny_real_format(tmp_path):
    root = write_csvs(tmp_path / "nsynth")
    x, y, ids = load_split(root, "valid")
    assert x.shape == (3, 33) and x.dtype == np.float32
    assert y.tolist() == [0, 1, 2] and ids[0] == "valid/bass_acoustic_000-060-100.wav"
    dm = NSynthTutorialDataModule(root=str(root), verify=False)
    xtr, ytr = dm.arrays("train")
    assert xtr.shape == (9, 33) and len(ytr) == 9  # train + valid
    assert dm.arrays("test")[0].shape == (2, 33)
    assert dm.data_info.class_names == INSTRUMENTS and dm.data_info.input_shape == (33,)
    batch = next(iter(dm.test_dataloader()))
    assert set(batch) == {"x", "label", "index"} and batch["x"].shape == (2, 33)
    with pytest.raises(ValueError, match="index.csv"):
        NSynthTutorialDataModule(root=str(root)).setup()  # verify=True: not the published bytes


@pytest.mark.parametrize("kw,msg", [({"bad_header": True}, "unexpected columns"), ({"bad_label": True}, "kazoo")])
def test_rejects_malformed(tmp_path, kw, msg):
    root = write_csvs(tmp_path / "bad", **kw)
    with pytest.raises(ValueError, match=msg):
        load_split(root, "train")


def test_root_resolution(tmp_path, monkeypatch):
    mine = write_csvs(tmp_path / "data" / "nsynth_tutorial")
    monkeypatch.setenv("MIRBENCH_DATA", str(tmp_path / "data"))
    assert resolve_root() == mine
    monkeypatch.setenv("MIRBENCH_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("MIRBENCH_SHARED_DATA", str(tmp_path / "data"))
    assert resolve_root() == mine  # falls back to the shared data
    monkeypatch.setenv("MIRBENCH_SHARED_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="root"):
        resolve_root()
    with pytest.raises(FileNotFoundError):
        resolve_root(tmp_path / "nowhere")


def test_balanced_sampler():
    labels = np.repeat(np.arange(5), 12)
    torch.manual_seed(0)
    sampler = ClassBalancedBatchSampler(labels, classes_per_batch=3, samples_per_class=4)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 5
    for b in batches:
        counts = np.bincount(labels[b], minlength=5)
        assert sorted(counts[counts > 0].tolist()) == [4, 4, 4] and len(set(b)) == 12


@pytest.fixture
def real_root(shared_data):
    root = shared_data / "nsynth_tutorial"
    if not (root / "nsynth_train.csv").is_file():
        pytest.skip(f"NSynth tutorial CSVs not found in {root}")
    return root


def test_real_files(real_root):
    assert nsynth.verify(real_root) == []
    for split, n in nsynth.SPLIT_SIZES.items():
        x, y, ids = load_split(real_root, split)
        assert x.shape == (n, 33) and np.isfinite(x).all()
        assert np.bincount(y, minlength=10).tolist() == [n // 10] * 10
        assert all(i.startswith(f"{split}/") for i in ids)
    dm = NSynthTutorialDataModule(root=str(real_root), batch_size=80, samples_per_class=8)
    assert dm.arrays("train")[0].shape == (1200, 33)
    batch = next(iter(dm.train_dataloader()))
    assert torch.bincount(batch["label"]).max() == 8 and batch["x"].shape == (80, 33)


def test_default_root_is_shared_data(real_root, monkeypatch):
    monkeypatch.delenv("MIRBENCH_DATA", raising=False)
    assert resolve_root() == real_root
