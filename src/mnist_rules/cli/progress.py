"""Live progress for training: one rich task per epoch, and a line per finished epoch.

Refreshed by the training loop about 100 times an epoch (never per step); the running
loss is read (a device sync) only at those refreshes. Everything goes to stdout: when
it is not a terminal, rich draws no bar and only the epoch lines are written.
"""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from mnist_rules.results import EpochResult, RunResult
from mnist_rules.rules import RULES, RuleName


def count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


class RichReporter:
    def __init__(self, epochs: int, console: Console, label: str = ""):
        self.epochs = epochs
        self.console = console
        self.label = label
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn(
                "{task.completed:>7,.0f}/{task.total:,.0f} samples · {task.fields[updates]:,}"
                " updates · loss {task.fields[loss]}"
            ),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
            disable=not console.is_terminal,  # logs get the epoch lines, not bar frames
        )
        self._task = None

    def __enter__(self) -> RichReporter:
        self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.stop()

    def _prefix(self, epoch: int) -> str:
        width = len(str(self.epochs))
        return f"{self.label}epoch {epoch:>{width}}/{self.epochs}"

    def start_run(self, run: RunResult, updates_per_epoch: int) -> None:
        rule = RULES[RuleName(run.rule)]
        self.console.print(
            f"{self.label}{run.rule} rule ({rule.summary}): lr {run.lr:g},"
            f" {count(run.batch_size, 'sample')} per update,"
            f" {count(updates_per_epoch, 'update')} per epoch;"
            f" {run.dataset} {run.train_size:,} train / {run.test_size:,} test;"
            f" {run.engine} engine on {run.device} ({run.device_name}, {run.threads} threads);"
            f" seed {run.seed}"
        )

    def start_epoch(self, epoch: int, samples: int, updates: int) -> None:
        self._task = self.progress.add_task(self._prefix(epoch), total=samples, updates=0, loss="…")

    def advance(self, samples, updates, running_loss) -> None:
        self.progress.update(
            self._task, completed=samples, updates=updates, loss=f"{running_loss():.4f}"
        )

    def end_epoch(self, result: EpochResult) -> None:
        self.progress.remove_task(self._task)
        self.console.print(
            f"{self._prefix(result.epoch)}  train loss {result.train_loss:.4f}"
            f"  test acc {result.test_acc:6.2f}%  train {result.train_seconds:7.2f} s"
            f"  {count(result.updates, 'update')}",
            highlight=False,
        )
