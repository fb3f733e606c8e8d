"""Data parallelism of the hand-written loops: the collectives in 2 real processes (gloo), and an
SFT step on two ranks equal to the same step in one process."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from sparring.parallel import ONE_PROCESS, DataParallel


def test_one_process_is_the_identity() -> None:
    items = list(range(7))
    assert ONE_PROCESS.share(items) == items
    assert ONE_PROCESS.sum(2.5) == 2.5 and ONE_PROCESS.gather([1]) == [[1]]
    assert [DataParallel(rank, 0, 3).share(items) for rank in range(3)] == [[0, 3, 6], [1, 4], [2, 5]]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_rank(rank: int, world: int, port: int, job: str, arg: str, results: str) -> None:
    os.environ.update({"RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": str(world)})
    os.environ.update({"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "OMP_NUM_THREADS": "1"})
    torch.set_num_threads(1)
    dp = DataParallel.start("cpu")
    out = globals()[job](dp, arg)
    Path(results, f"{rank}.json").write_text(json.dumps(out))
    torch.distributed.destroy_process_group()


def _run(job: str, arg: str, tmp_path: Path, world: int = 2) -> list:
    mp.spawn(_as_rank, args=(world, _free_port(), job, arg, str(tmp_path)), nprocs=world, join=True)
    return [json.loads((tmp_path / f"{r}.json").read_text()) for r in range(world)]


def _collectives(dp: DataParallel, _: str) -> dict:
    mine = dp.share(list(range(5)))
    layer = torch.nn.Linear(2, 1, bias=True)
    if dp.rank == 0:  # only rank 0 has data this step: rank 1's gradients are filled with zeros
        layer(torch.ones(1, 2)).sum().backward()
    dp.sum_gradients(layer.parameters(), fill=True)
    return {"mine": mine, "everyone": dp.gather(mine), "sum": dp.sum(dp.rank + 1.0), "grad": layer.bias.grad.tolist()}


def test_collectives_in_two_processes(tmp_path: Path) -> None:
    ranks = _run("_collectives", "", tmp_path)
    assert [r["mine"] for r in ranks] == [[0, 2, 4], [1, 3]]
    assert all(r["everyone"] == [[0, 2, 4], [1, 3]] and r["sum"] == 3.0 and r["grad"] == [1.0] for r in ranks)


def _sft_step(dp: DataParallel, model_dir: str) -> list[float]:
    """The gradient that one SFT step clips and applies (first 200 values): what ranks must agree on."""
    from code_fixtures import TASKS
    from sparring.code import midtraining
    from sparring.hf.models import load_model_and_tokenizer
    from sparring.kinds import build_config

    model, tokenizer, _ = load_model_and_tokenizer(model_dir, "cpu")
    texts = [f"{p}\n{c}\n" for _, p, c, _ in TASKS]
    masks = [[True] * len(t) for t in texts]
    cfg = build_config("ntp", "smoke", None, ["mstep.batch_size=5", "mstep.epochs=1"])
    seen: list[float] = []
    clip = torch.nn.utils.clip_grad_norm_

    def record_then_clip(parameters, max_norm):  # noqa: ANN001 - torch's signature
        parameters = list(parameters)
        seen.extend(float(v) for v in torch.cat([p.grad.flatten() for p in parameters])[:200])
        return clip(parameters, max_norm)

    torch.nn.utils.clip_grad_norm_ = record_then_clip
    try:
        midtraining.sft(model, tokenizer, texts, masks, cfg, seed=0, epochs=cfg.mstep.epochs, dp=dp)
    finally:
        torch.nn.utils.clip_grad_norm_ = clip
    return seen


def test_an_sft_step_on_two_ranks_equals_the_step_in_one_process(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    from code_fixtures import build_tiny_code_llm

    model_dir = str(build_tiny_code_llm(tmp_path / "model"))
    alone = _sft_step(ONE_PROCESS, model_dir)
    (tmp_path / "ranks").mkdir()
    ranks = _run("_sft_step", model_dir, tmp_path / "ranks")
    assert ranks[0] == ranks[1]  # summed across ranks: every replica applies the same gradient
    assert max(abs(v) for v in alone) > 1e-4
    assert ranks[0] == pytest.approx(alone, rel=1e-4, abs=1e-7)  # 3 + 2 documents on two ranks = the 5 in one process
