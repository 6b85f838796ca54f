"""``on_rank_zero`` (the evaluation callbacks under DDP) on a real 2-process gloo group: every rank gets rank 0's
result, and an error on rank 0 reaches every rank instead of leaving one waiting in a collective."""

from __future__ import annotations

import socket
from types import SimpleNamespace

import pytest
import torch.distributed as dist
import torch.multiprocessing as mp

from mirbench.evaluation.ddp import on_rank_zero


def _broadcast(obj, src=0):
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def _rank(rank: int, port: int, fail: bool, out) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    trainer = SimpleNamespace(world_size=2, is_global_zero=rank == 0, strategy=SimpleNamespace(broadcast=_broadcast))

    def compute():
        assert rank == 0, "computed on a rank other than 0"
        if fail:
            raise ValueError("no test items")
        return {"test/auc": 0.75}

    try:
        out.put((rank, "ok", on_rank_zero(trainer, compute)))
    except Exception as e:
        out.put((rank, type(e).__name__, str(e)))
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("fail", [False, True])
def test_rank_zero_result_and_error_reach_every_rank(fail):
    ctx = mp.get_context("fork")  # the children inherit the imports: seconds, not a minute
    out = ctx.Queue()
    mp.start_processes(_rank, args=(_free_port(), fail, out), nprocs=2, join=True, start_method="fork")
    got = dict((r, (kind, value)) for r, kind, value in (out.get(timeout=30) for _ in range(2)))
    if not fail:
        assert got == {0: ("ok", {"test/auc": 0.75}), 1: ("ok", {"test/auc": 0.75})}
    else:
        assert got[0] == ("ValueError", "no test items")
        assert got[1] == ("RuntimeError", "the evaluation failed on global rank 0: ValueError: no test items")


def test_one_process_computes_directly():
    trainer = SimpleNamespace(world_size=1, is_global_zero=True, strategy=None)
    assert on_rank_zero(trainer, lambda: 3) == 3
