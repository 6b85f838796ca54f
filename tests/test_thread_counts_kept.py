"""No step changes the thread count of a later one: the data builds and the probes run on their own counts inside
:func:`mirbench.threads.kept_threads` and hand the caller's back, so a sweep that builds its corpus first trains on
the threads that a re-run finding it built does."""

import pytest
import torch

from mirbench.threads import kept_threads

CALLER = 3  # a count no step sets (they set 1), so a step that leaks its own shows


@pytest.fixture
def caller_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(CALLER)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("workers", [1, 2])
def test_corpus_build_keeps_the_callers_thread_count(tmp_path, caller_threads, workers):
    from mirbench.data.corpus.build import CorpusParams, build_corpus

    params = CorpusParams(n_pieces=4, clips_per_piece=1, n_dimsim_triplets=10)
    build_corpus(tmp_path / "corpus", params, workers=workers, progress=False)  # serial: renders in this process
    assert (tmp_path / "corpus" / "corpus.json").is_file()
    assert torch.get_num_threads() == CALLER  # was 1 after the build (its worker initialiser ran here too)


def test_scorevideo_build_keeps_the_callers_thread_count(tmp_path, caller_threads):
    from mirbench.data.scorevideo.build import ScoreVideoParams, build_scorevideo

    build_scorevideo(tmp_path / "sv", ScoreVideoParams(n_pieces=4, renderings=2, max_seconds=6, min_seconds=4, videos_per_shard=4, train_fraction=0.5),
                     workers=1, progress=False)
    assert torch.get_num_threads() == CALLER


def test_single_threaded_probe_keeps_the_callers_thread_count(caller_threads):
    from mirbench.evaluation.kimliem2022 import single_threaded

    with single_threaded():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == CALLER


def test_kept_threads_restores_after_an_error_and_a_change_inside(caller_threads):
    with pytest.raises(RuntimeError), kept_threads(1):
        assert torch.get_num_threads() == 1
        torch.set_num_threads(2)
        raise RuntimeError("a failed build")
    assert torch.get_num_threads() == CALLER
