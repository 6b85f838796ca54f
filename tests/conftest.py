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
        if "data" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def shared_data():
    """``../shared/data`` (real public files); tests using it skip with a reason when absent."""
    root = shared_data_dir()
    if not root.is_dir():
        pytest.skip(f"real shared data not found at {root} (set MIRBENCH_SHARED_DATA)")
    return root
