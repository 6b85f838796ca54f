"""Independent pieces of work on parallel threads, one intra-op thread each: the song chunks of an HDPGMM E-step
pass (:mod:`mirbench.hdpgmm.ovi`) and the query chunks of a neighbour search (:mod:`mirbench.metrics.retrieval`).

Both are many short torch operations per chunk. Split by torch's OpenMP threads, each is a parallel region that
wakes the other thread; with ``OMP_WAIT_POLICY=PASSIVE`` (the Makefile's, safe beside another job) that wake-up
cost about what the second thread saved (HDPGMM iteration on 2 threads: 1.0x). Whole chunks on separate threads
(torch releases the GIL inside its kernels) need no wake-up per operation: 1.77x (benchmarks/perf/
hdpgmm_throughput.py; the R@K search 1.88x, retrieval_speed.py). Every chunk runs on one intra-op thread whatever
the thread count, so the results do not depend on it.

:func:`kept_threads` is the one way a step changes torch's thread count for itself (a build's parent process, a
probe, the chunk workers): a later step (the training after a corpus build) runs on the count it was started with,
so a sweep that built its data first gives the same numbers as a re-run that found it built.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

import torch

R = TypeVar("R")


@contextmanager
def kept_threads(threads: int | None = None) -> Iterator[None]:
    """Run the block on ``threads`` intra-op threads (None: as it is), then restore the caller's count, also when
    the block raises or changes it itself (a pool initialiser run in this process, a worker thread's
    ``torch.set_num_threads``, which also sets the count new threads start with)."""
    before = torch.get_num_threads()
    try:
        if threads is not None:
            torch.set_num_threads(threads)
        yield
    finally:
        torch.set_num_threads(before)


def _one_intra_op_thread() -> None:
    torch.set_num_threads(1)


def ordered_map(fn: Callable[..., R], jobs: Iterable[tuple], workers: int) -> Iterator[R]:
    """``fn(*job)`` for each job, yielded in the jobs' order, on ``workers`` threads (inline when 1).

    ``jobs`` is consumed lazily, at most ``workers + 1`` ahead of what has been yielded, so what a job holds
    (a chunk's splash noise) is drawn in order and not all at once. Each worker runs torch on one intra-op
    thread; the caller's own thread count is kept (and restored for threads started later).
    """
    if workers <= 1:
        for job in jobs:
            yield fn(*job)
        return
    with kept_threads(), ThreadPoolExecutor(workers, thread_name_prefix="hdpgmm-chunk",
                                            initializer=_one_intra_op_thread) as pool:
        pending: deque = deque()
        for job in jobs:
            pending.append(pool.submit(fn, *job))
            if len(pending) > workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
