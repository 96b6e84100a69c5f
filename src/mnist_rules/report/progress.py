"""Live progress for training: one rich task per epoch, and a line per finished epoch;
for several runs (compare), a task above it for the whole job (runs x epochs). The
lines themselves (run_line, epoch_line, final_line) are also how a TrainResult shows.

Refreshed by the training loop about 100 times an epoch (never per step); the running
loss is read (a device sync) only at those refreshes. Everything goes to stdout: when
it is not a terminal (nor Jupyter with ipywidgets), rich draws no bar and only the
epoch lines are written.
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

from mnist_rules.config.rules import RULES
from mnist_rules.report.numbers import seconds
from mnist_rules.training.results import EpochResult, RunResult


def count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _steps(run: RunResult) -> str:
    """How the tuned engine's steps run, and what compiling them took."""
    if run.engine == "torch":
        return ""
    compiled = f", compiled in {run.compile_seconds:.2f} s" if run.compile_seconds else ""
    return f" ({run.step_mode} steps{compiled})"


def run_line(run: RunResult, updates_per_epoch: int) -> str:
    """The line that starts a run: its rule, rate, sizes, engine, device and seed."""
    rule = RULES.get(run.rule)
    summary = f" ({rule.summary})" if rule is not None else ""
    return (
        f"{run.rule} rule{summary}: lr {run.lr:g},"
        f" {count(run.batch_size, 'sample')} per update,"
        f" {count(updates_per_epoch, 'update')} per epoch;"
        f" {run.dataset} {run.train_size:,} train / {run.test_size:,} test"
        + (" (training set streamed from disk)" if run.data_mode == "stream" else "")
        + ";"
        f" {run.engine} engine{_steps(run)} on {run.device}"
        f" ({run.device_name}, {count(run.threads, 'thread')}"
        + (f" in each of {run.world_size} processes" if run.world_size > 1 else "")
        + ");"
        f" seed {run.seed}"
    )


def epoch_prefix(epoch: int, epochs: int, label: str = "") -> str:
    return f"{label}epoch {epoch:>{len(str(epochs))}}/{epochs}"


def epoch_line(result: EpochResult, epochs: int, label: str = "") -> str:
    """The line a finished epoch prints (`label` names the run when there are several)."""
    return (
        f"{epoch_prefix(result.epoch, epochs, label)}  train loss {result.train_loss:.4f}"
        f"  test acc {result.test_acc:6.2f}%  train {seconds(result.train_seconds, 2, 7)} s"
        f"  {count(result.updates, 'update')}"
    )


def final_line(run: RunResult) -> str:
    """What `train` prints when it has finished: the final and the best accuracy."""
    final, best = run.final, run.best
    return (
        f"final test accuracy {final.test_acc:.2f}% after {count(len(run.epochs), 'epoch')},"
        f" {seconds(run.total_train_seconds)} s of training"
        + (f"; best {best.test_acc:.2f}% at epoch {best.epoch}" if best is not final else "")
    )


def live_display(console: Console) -> bool:
    """Whether a live bar can be drawn: on a terminal, or in Jupyter where rich draws it
    in an ipywidgets Output (without ipywidgets rich would only warn, every refresh)."""
    if console.is_terminal:
        return True
    if not console.is_jupyter:
        return False
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True


class _EpochTimeRemaining(TimeRemainingColumn):
    """Time left for epoch tasks only: across rules an epoch's cost differs ~10x, so
    the overall task's rate would predict nonsense."""

    def render(self, task):
        return super().render(task) if task.fields.get("eta", True) else ""


class RichReporter:
    def __init__(self, epochs: int, console: Console, runs: int = 1):
        self.epochs = epochs
        self.console = console
        self.runs = runs
        self.label = ""  # names the run in each line when there are several
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            _EpochTimeRemaining(),
            console=console,
            transient=True,
            disable=not live_display(console),  # logs get the epoch lines, not bar frames
        )
        self._task = None
        self._overall = None
        self._runs_started = 0
        self._rule = ""
        self._epochs_done = 0
        if runs > 1:
            self._overall = self.progress.add_task(
                "all runs", total=runs * epochs, detail="", eta=False
            )

    def __enter__(self) -> RichReporter:
        self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.stop()

    def _prefix(self, epoch: int) -> str:
        return epoch_prefix(epoch, self.epochs, self.label)

    def start_run(self, run: RunResult, updates_per_epoch: int) -> None:
        self._runs_started += 1
        if self._overall is not None:
            self.label = f"{run.rule + ' rule,':<12} "
            self._rule = run.rule
            self._update_overall()
        self.console.print(run_line(run, updates_per_epoch))

    def _update_overall(self) -> None:
        self.progress.update(
            self._overall,
            completed=self._epochs_done,
            description=f"run {self._runs_started}/{self.runs} ({self._rule})",
            detail=f"{self._epochs_done:,}/{self.runs * self.epochs:,} epochs in all",
        )

    def start_epoch(self, epoch: int, samples: int, updates: int) -> None:
        self._samples, self._updates = samples, updates
        self._task = self.progress.add_task(
            self._prefix(epoch), total=samples, detail=self._detail(0, 0, "…")
        )

    def _detail(self, samples: int, updates: int, loss: str) -> str:
        return (
            f"{samples:>7,}/{self._samples:,} samples · {updates:,}/{self._updates:,} updates"
            f" · loss {loss}"
        )

    def advance(self, samples, updates, running_loss) -> None:
        detail = self._detail(samples, updates, f"{running_loss():.4f}")
        self.progress.update(self._task, completed=samples, detail=detail)

    def end_epoch(self, result: EpochResult) -> None:
        self.progress.remove_task(self._task)
        if self._overall is not None:
            self._epochs_done += 1
            self._update_overall()
        self.console.print(epoch_line(result, self.epochs, self.label), highlight=False)
