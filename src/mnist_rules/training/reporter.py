"""What the loop tells whoever shows progress (the CLI's rich bars; nobody, by default)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from mnist_rules.training.results import EpochResult, RunResult

# How often per epoch a reporter is called (it may read the running loss, a sync).
REFRESHES_PER_EPOCH = 100


class Reporter(Protocol):
    """What the loop tells whoever shows progress. `running_loss` synchronises the
    device; a reporter that shows no loss never calls it."""

    def start_run(self, run: RunResult, updates_per_epoch: int) -> None: ...

    def start_epoch(self, epoch: int, samples: int, updates: int) -> None: ...

    def advance(self, samples: int, updates: int, running_loss: Callable[[], float]) -> None: ...

    def end_epoch(self, result: EpochResult) -> None: ...


class SilentReporter:
    def start_run(self, run, updates_per_epoch):
        pass

    def start_epoch(self, epoch, samples, updates):
        pass

    def advance(self, samples, updates, running_loss):
        pass

    def end_epoch(self, result):
        pass


SILENT = SilentReporter()
