"""A process's place in a torchrun job (training.distributed does the rest). No torch
here: the CLI reads it to decide which process prints."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0
    local_size: int = 1  # processes on this host (they share its memory)

    @property
    def is_main(self) -> bool:
        """The process that prints, evaluates and writes files."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


SINGLE = World()


def world_from_env() -> World:
    """The process's place in a torchrun job, or SINGLE when not under torchrun."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return SINGLE
    local = int(os.environ.get("LOCAL_WORLD_SIZE", size))
    return World(int(os.environ["RANK"]), size, int(os.environ.get("LOCAL_RANK", "0")), local)
