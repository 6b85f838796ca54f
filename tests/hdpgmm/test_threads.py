"""Song chunks on parallel threads: the same numbers on any thread count, results in order, threads restored."""

import threading
import time

import pytest
import torch

from mirbench.hdpgmm.ovi import OnlineHDPGMM
from mirbench.hdpgmm.synthetic import pad_songs, toy_songs
from mirbench.threads import ordered_map


@pytest.fixture
def threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def _fit(n_threads: int, start: str = "top_atoms") -> dict:
    torch.set_num_threads(n_threads)
    songs, _, _ = toy_songs(n_songs=40, n_clusters=3, dim=3, seed=1)
    x, mask = pad_songs(songs)
    model = OnlineHDPGMM(dim=3, n_components=6, n_song_components=3, splash=0.05, e_step_start=start,
                         e_step_max_iter=40, song_chunk=7)  # 6 chunks, the last shorter
    model.initialise([(x, mask)], init="kmeans++")
    monitors = [model.partial_fit(x[s : s + 20], mask[s : s + 20]) for s in (0, 20, 0)]
    return {"state": {k: v.clone() for k, v in model.state_dict().items()}, "monitors": monitors,
            "resp": model.responsibilities(x, mask)}


@pytest.mark.parametrize("start", ["top_atoms", "random"])
def test_partial_fit_gives_the_same_bits_on_one_and_on_two_threads(threads, start):
    one, two = _fit(1, start), _fit(2, start)
    assert one["monitors"] == two["monitors"]
    for k, v in one["state"].items():
        assert torch.equal(v, two["state"][k]), k
    assert torch.equal(one["resp"], two["resp"])


def test_ordered_map_yields_in_job_order_on_worker_threads_and_restores_the_thread_count(threads):
    torch.set_num_threads(2)

    def job(i: int, delay: float) -> tuple[int, int, str]:
        time.sleep(delay)  # later jobs finish first
        return i, torch.get_num_threads(), threading.current_thread().name

    drawn = []

    def jobs():
        for i in range(6):
            drawn.append(i)
            yield i, 0.03 * (6 - i)

    out = list(ordered_map(job, jobs(), workers=2))
    assert [i for i, _, _ in out] == list(range(6))
    assert drawn == list(range(6))
    assert all(n == 1 and name.startswith("hdpgmm-chunk") for _, n, name in out)
    assert torch.get_num_threads() == 2
    fresh = []
    t = threading.Thread(target=lambda: fresh.append(torch.get_num_threads()))
    t.start()
    t.join()
    assert fresh == [2]  # threads started later get the caller's count again


def test_ordered_map_runs_inline_on_one_worker_and_passes_errors_on():
    out = list(ordered_map(lambda i: (i, threading.current_thread().name), ((i,) for i in range(3)), workers=1))
    assert out == [(i, threading.current_thread().name) for i in range(3)]

    def fails(i: int) -> int:
        if i == 2:
            raise ValueError("chunk 2 diverged")
        return i

    with pytest.raises(ValueError, match="chunk 2"):
        list(ordered_map(fails, ((i,) for i in range(5)), workers=2))
