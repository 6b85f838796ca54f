"""One contract over every registered data set: its card, its module, its datamodule and (data tier) its copy
on disk against the checksummed index."""

from __future__ import annotations

import inspect

import pytest
from lightning.pytorch import LightningDataModule

from mirbench.data.registry import DATASETS, discover, get, preparable, read_card
from mirbench.paths import PROJECT_ROOT, dataset_dir

IDS = sorted(DATASETS)
CARDED = sorted(discover())


def test_every_dataset_folder_and_carded_module_is_registered():
    folders = {p.name for p in (PROJECT_ROOT / "datasets").iterdir() if p.is_dir()}
    assert folders <= set(DATASETS), f"datasets/ without a registered module: {sorted(folders - set(DATASETS))}"
    assert "nsynth_tutorial" in CARDED and "nsynth_tutorial" not in preparable()
    assert set(CARDED) == set(DATASETS) and {"gtzan", "scorevideo"} <= set(CARDED)


@pytest.mark.parametrize("dataset_id", IDS)
def test_dataset_contract(dataset_id):
    """The module imports, names a LightningDataModule, and can ``prepare`` when the registry says so."""
    entry = get(dataset_id)
    module = entry.load()
    assert issubclass(entry.datamodule_class(), LightningDataModule)
    assert callable(getattr(module, "prepare", None)) == entry.preparable
    assert entry.title and entry.default_feature


@pytest.mark.parametrize("dataset_id", CARDED)
def test_card_is_complete_and_documented(dataset_id):
    entry = get(dataset_id)
    assert all((entry.title, entry.license, entry.url, entry.layout)), entry
    assert entry.url.startswith(("http://", "https://"))
    assert inspect.getdoc(entry.load()).split("\n")[0], "a data-set module opens with its card"
    assert (PROJECT_ROOT / "datasets" / dataset_id / "README.md").is_file()


def test_read_card_rejects_a_partial_card(tmp_path):
    path = tmp_path / "x.py"
    path.write_text('DATASET_ID = "x"\nDATASET_NAME = "X"\n')
    with pytest.raises(ValueError, match="lacks"):
        read_card(path, "x")
    path.write_text("A = 1\n")
    assert read_card(path, "x") is None


@pytest.mark.data
@pytest.mark.parametrize("dataset_id", [i for i in IDS if hasattr(get(i).load(), "verify")])
def test_full_copy_matches_index(request, dataset_id):
    """``pytest --local --dataset <id> -m data``: the copy at $MIRBENCH_DATA/<id> against its index."""
    if dataset_id not in request.config.getoption("--dataset"):
        pytest.skip(f"needs --dataset {dataset_id}")
    root = dataset_dir(dataset_id)
    assert root.is_dir(), f"{root} not found: set MIRBENCH_DATA to the folder holding {dataset_id}/"
    problems = get(dataset_id).load().verify(root)
    assert not problems, f"{len(problems)} problems, e.g.\n" + "\n".join(problems[:20])
