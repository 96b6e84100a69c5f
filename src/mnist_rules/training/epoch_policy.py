"""Where in an epoch the loop does more than step: refresh the reporter, stop for a
signal, save a checkpoint; and the clock that leaves out what is not training."""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator, Sequence

from mnist_rules.engines.chunks import Chunk
from mnist_rules.training.reporter import REFRESHES_PER_EPOCH


class EpochPolicy:
    """Asked after each chunk. `can_stop_at(position)`: the engine's own limit (the
    tuned engine's per-sample steps stop at a block's end only). `every`: save a
    checkpoint every that many updates (None: at the epoch's end only). Under torchrun
    (`single_process` False) nobody stops or saves mid-epoch: the processes stop at a
    refresh, together, and checkpoints are written at epoch ends."""

    def __init__(
        self,
        chunks: Sequence[Chunk],
        can_stop_at,
        every: int | None,
        updates_done: int,
        single_process: bool = True,
        first: int = 0,
    ):
        self.positions = chunks[-1].stop  # all of the epoch's, or this process's share
        self.chunks = len(chunks)
        self.refresh_every = math.ceil(len(chunks) / REFRESHES_PER_EPOCH)
        # Refreshes are due every `refresh_every` chunks; `_refreshed` counts those made
        # (from `first`, the chunk a resumed epoch starts at).
        self._refreshed = first // self.refresh_every
        self._can_stop_at, self._single = can_stop_at, single_process
        self.every = every if single_process else None
        # Due at every multiple of `every` updates (at the next point the engine can
        # stop at, if not there): a fixed grid, also for a resumed epoch.
        self.next_save = self._next(updates_done)

    def may_stop_after(self, chunk: Chunk) -> bool:
        """Whether the loop may stop, or save, after `chunk` and resume bit for bit."""
        inside = chunk.last and chunk.stop < self.positions
        return inside and self._single and self._can_stop_at(chunk.stop)

    def save_due(self, updates: int) -> bool:
        return self.next_save is not None and updates >= self.next_save

    def saved(self, updates: int) -> None:
        self.next_save = self._next(updates)

    def refresh_due(self, index: int, chunk: Chunk) -> bool:
        """After `chunk`, at `index` of the epoch's plan: a hundred times an epoch at
        most, and at its end. A refresh reads the losses, which makes the engine run the
        steps it holds back, so it waits for a point the engine can stop at: a refresh
        inside a per-sample block would split the block's compiled steps in two (on
        CUDA, a block split is launched kernel by kernel instead of replayed)."""
        if self.ends_epoch(index):
            return True
        due = (index + 1) // self.refresh_every
        if due <= self._refreshed:  # asked after every chunk: the cheap test first
            return False
        # Under torchrun a refresh is a collective: every process at the same chunk, so
        # the plan's index alone decides (no per-sample blocks there to wait for).
        if self._single and not self._can_stop_at(chunk.stop):
            return False
        self._refreshed = due
        return True

    def ends_epoch(self, index: int) -> bool:
        return index + 1 == self.chunks

    def _next(self, updates: int) -> int | None:
        return (updates // self.every + 1) * self.every if self.every else None


class TrainingClock:
    """An epoch's training seconds: from `start`, plus what a resumed epoch had done
    before, less the time spent writing checkpoints and compiling steps (the engine's
    `compile_seconds` grows by the seconds each capture or compile took)."""

    def __init__(self, engine, before: float = 0.0):
        self._engine, self._before = engine, before
        self._compiling = engine.compile_seconds
        self._paused = 0.0
        self._start = time.perf_counter()

    def seconds(self, now: float | None = None) -> float:
        now = time.perf_counter() if now is None else now
        compiled = self._engine.compile_seconds - self._compiling
        return self._before + now - self._start - self._paused - compiled

    @contextlib.contextmanager
    def paused(self) -> Iterator[float]:
        """Time inside is not training; yields the training seconds at its start."""
        start = time.perf_counter()
        try:
            yield self.seconds(start)
        finally:
            self._paused += time.perf_counter() - start
