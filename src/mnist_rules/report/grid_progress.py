"""Live progress over compare's and sweep's grid: one bar for the whole grid (trials x
epochs, with the time left), the epoch's bar under it, and a line per finished trial."""

from __future__ import annotations

from rich.console import Console

from mnist_rules.grid.points import Point
from mnist_rules.grid.records import DIVERGED, PRUNED, REACHED, TUNE, TrialRecord
from mnist_rules.report.numbers import seconds
from mnist_rules.report.progress import RichReporter
from mnist_rules.training.results import EpochResult, RunResult


class GridProgress(RichReporter):
    def __init__(self, epochs: int, console: Console, noun: str):
        super().__init__(epochs, console)
        self.noun = noun  # what an arm is: "rule" or "size"
        self._trials = self._started = 0
        self._point: Point | None = None
        self._epochs_in_trial = 0
        self.trials_run = 0  # by this process (a resumed grid's finished ones not counted)

    def start_grid(self, trials: int, finished: int) -> None:
        """`finished`: trials a storage already holds, counted as done."""
        self._trials, self._started = trials, finished
        self._epochs_done = finished * self.epochs
        if finished:
            self.console.print(f"resuming the grid: {finished} of {trials} trials finished")
        self._overall = self.progress.add_task(
            "grid", total=trials * self.epochs, completed=self._epochs_done, detail=""
        )

    def start_trial(self, point: Point) -> None:
        self._started += 1
        self.trials_run += 1
        self._point, self._epochs_in_trial = point, 0
        phase = "tuning" if point.phase == TUNE else "seed"
        self.progress.update(
            self._overall,
            description=f"trial {self._started}/{self._trials}",
            detail=f"{self.noun} {point.label}, lr {point.lr:g}, seed {point.seed} ({phase})",
        )

    def start_run(self, run: RunResult, updates_per_epoch: int) -> None:
        pass  # the trial's line says what it was, once it has finished

    def end_epoch(self, result: EpochResult) -> None:
        self.progress.remove_task(self._task)
        self._epochs_in_trial += 1
        self._epochs_done += 1
        self.progress.update(self._overall, completed=self._epochs_done)

    def end_trial(self, record: TrialRecord) -> None:
        # A trial stopped early (at its target, pruned, diverged) skips its other epochs.
        self._epochs_done += max(0, self.epochs - self._epochs_in_trial)
        self.progress.update(self._overall, completed=self._epochs_done)
        self.console.print(trial_line(record, self.noun), highlight=False)


def trial_line(record: TrialRecord, noun: str) -> str:
    """One finished trial: its arm, lr, seed and how it ended."""
    run, hit = record.run, record.target
    head = f"{noun} {record.label:>5}  lr {record.lr:<6g} seed {record.seed}"
    if hit is not None:
        epochs = hit.samples / run.train_size
        how = (
            f"reached {hit.test_acc:.2f}% after {epochs:.2f} epochs,"
            f" {seconds(hit.train_seconds, 2)} s"
        )
    elif record.status == DIVERGED:
        how = f"diverged: its loss became NaN or infinite in epoch {len(run.epochs) + 1}"
    else:
        how = f"did not reach the target: {run.evaluations[-1].test_acc:.2f}% at the end"
    ended = {
        REACHED: "stopped at the target",
        PRUNED: "pruned: past the samples this arm's best needed",
    }.get(record.status)
    phase = "tuning" if record.phase == TUNE else "final"
    return f"{phase:>6}  {head}  {how}" + (f" ({ended})" if ended else "")
