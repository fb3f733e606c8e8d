"""Data parallelism under ``accelerate launch`` (or torchrun) for every command.

``align`` and ``rlvr`` hand their loop to TRL, which shards prompts and averages gradients itself;
they only need to know whether they are rank 0 (who writes the run) and the world size. ``ra3`` and
``ntp`` run their own loops, so this module also gives them the few collective operations those
loops need: a process group, a rank's share of a list, sums of numbers, gradients summed across
ranks, and lists gathered from every rank. With one process every operation is the identity, so a
single-process run is exactly what it was before data parallelism existed.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


def launch_env() -> tuple[int, int, int]:
    """(rank, local rank, world size) from the launcher's environment; (0, 0, 1) when not launched."""
    return int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def _initialized() -> bool:
    import torch

    return torch.distributed.is_available() and torch.distributed.is_initialized()


def average_gradients(parameters: Iterable[Any]) -> None:
    """Average gradients across ranks (every replica then takes the same step); no-op in one process."""
    import torch

    if not _initialized():
        return
    world = torch.distributed.get_world_size()
    for p in parameters:
        if p.grad is not None:
            torch.distributed.all_reduce(p.grad)
            p.grad /= world


@dataclass(frozen=True)
class DataParallel:
    """This process's place in a data-parallel run of a hand-written loop."""

    rank: int = 0
    local_rank: int = 0
    world: int = 1

    @classmethod
    def start(cls, device: str) -> DataParallel:
        """Join the launcher's process group (gloo on the CPU, nccl on CUDA) when there are several ranks.

        Returns the ranks' layout; ``device_for`` then gives this rank's device."""
        import torch

        rank, local_rank, world = launch_env()
        if world > 1 and not _initialized():
            torch.distributed.init_process_group("nccl" if device.startswith("cuda") else "gloo")
        return cls(rank, local_rank, world)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def device_for(self, device: str) -> str:
        """One GPU per rank (``cuda:LOCAL_RANK``) when several ranks share CUDA; otherwise ``device`` itself."""
        return f"cuda:{self.local_rank}" if self.world > 1 and device == "cuda" else device

    def share(self, items: Sequence[T]) -> list[T]:
        """This rank's items: every ``world``-th one from ``rank`` (all of them in one process)."""
        return list(items[self.rank :: self.world])

    def sum(self, value: float) -> float:
        """The sum of ``value`` over ranks."""
        if self.world == 1:
            return value
        import torch

        total = torch.tensor([float(value)], dtype=torch.float64)
        torch.distributed.all_reduce(total)
        return float(total.item())

    def sum_gradients(self, parameters: Iterable[Any], fill: bool = False) -> None:
        """Sum gradients over ranks: for a loss each rank normalised by the global count.

        ``fill``: a trainable parameter without a gradient on this rank (it had no data this step)
        takes zeros, so that every rank joins every all-reduce and ends with the same gradient."""
        if self.world == 1:
            return
        import torch

        for p in parameters:
            if p.grad is None and fill and p.requires_grad:
                p.grad = torch.zeros_like(p)
            if p.grad is not None:
                torch.distributed.all_reduce(p.grad)

    def gather(self, items: list[T]) -> list[list[T]]:
        """Every rank's ``items``, in rank order (a list of one list in one process)."""
        if self.world == 1:
            return [items]
        import torch

        everyone: list[Any] = [None] * self.world
        torch.distributed.all_gather_object(everyone, items)
        return everyone


ONE_PROCESS = DataParallel()  # the default of every function that can run on a share: the whole, in one process
