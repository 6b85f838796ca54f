import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest
import torch

from mirbench.paths import shared_data_dir

torch.set_num_threads(1)


def pytest_addoption(parser):
    parser.addoption("--local", action="store_true", help="run the data tier on a real data set on disk")
    parser.addoption("--dataset", action="append", default=[], help="data set id for --local (repeatable)")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--local"):
        return
    skip = pytest.mark.skip(reason="data tier: needs --local --dataset ID and the real data set on disk")
    for item in items:
        if item.get_closest_marker("data") is not None:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def shared_data():
    """``../shared/data`` (real public files); tests using it skip with a reason when absent."""
    root = shared_data_dir()
    if not root.is_dir():
        pytest.skip(f"real shared data not found at {root} (set MIRBENCH_SHARED_DATA)")
    return root


TINY_CORPUS = {"n_pieces": 30, "clips_per_piece": 3, "seed": 0}


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory):
    """A real (small) build of the embedded corpus: 30 pieces x 3 clips, built once per session."""
    from mirbench.data.corpus.build import CorpusParams
    from mirbench.data.corpus.datamodule import ensure_corpus

    root = tmp_path_factory.mktemp("corpus")
    params = CorpusParams(n_pieces=TINY_CORPUS["n_pieces"], clips_per_piece=TINY_CORPUS["clips_per_piece"],
                          seed=TINY_CORPUS["seed"], n_dimsim_triplets=200)
    path = ensure_corpus(params, str(root), workers=2)
    return {"root": str(root), "path": path, "params": params, **TINY_CORPUS}


def pytest_configure(config):
    # `pytest --local --dataset X` selects the data tier (pyproject's addopts deselects it by default)
    if config.getoption("--local"):
        config.option.markexpr = "data"
