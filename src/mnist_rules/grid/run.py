"""The grid as a whole: each arm's learning rate (the reference's, or tuned on the first
seed: grid.points' protocol), then every arm on every seed; the trials held by Optuna's
study (grid.study), the training by grid.trial."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from mnist_rules.grid import points as grid_points
from mnist_rules.grid.points import Point
from mnist_rules.grid.records import TrialRecord, Tuning
from mnist_rules.grid.study import open_study, run_points
from mnist_rules.grid.trial import run_trial
from mnist_rules.training.reporter import Reporter, SilentReporter

if TYPE_CHECKING:
    from mnist_rules.config.train_config import TrainConfig
    from mnist_rules.data.mnist import MnistData


@dataclass(frozen=True)
class Arm:
    """One arm of the grid: a rule (compare) or a size (sweep), named by its label."""

    label: str
    reference_lr: float  # its lr when none is tuned
    config: Callable[[float, int], TrainConfig]  # its run at (lr, seed)


class GridReporter(Reporter, Protocol):
    """A training Reporter that also hears where the grid stands."""

    def start_grid(self, trials: int, finished: int) -> None: ...

    def start_trial(self, point: Point) -> None: ...

    def end_trial(self, record: TrialRecord) -> None: ...


class SilentGridReporter(SilentReporter):
    def start_grid(self, trials, finished):
        pass

    def start_trial(self, point):
        pass

    def end_trial(self, record):
        pass


SILENT_GRID = SilentGridReporter()


@dataclass
class Grid:
    arms: Sequence[Arm]
    seeds: Sequence[int]
    target_acc: float
    lrs: Sequence[float] | None = None  # None: each arm's reference lr, untuned
    storage: str | None = None  # an RDB URL; None: in memory
    configuration: dict[str, Any] | None = None  # what names the study (grid.study)

    def run(
        self, data: MnistData, reporter: GridReporter = SILENT_GRID
    ) -> tuple[list[TrialRecord], Tuning | None]:
        """Every trial not yet finished in the study; returns the final runs' records,
        arm by arm and seed by seed, and the tuning's outcome (None: untuned)."""
        study = open_study(self.storage, self.configuration or {"command": "grid"})
        labels = [arm.label for arm in self.arms]
        by_label = {arm.label: arm for arm in self.arms}
        lrs = [*(self.lrs or ()), *(arm.reference_lr for arm in self.arms)]
        total = len(labels) * (len(self.lrs or ()) + len(self.seeds))
        finished = sum(t.state.is_finished() and "record" in t.user_attrs
                       for t in study.get_trials(deepcopy=False))  # fmt: skip
        reporter.start_grid(total, min(finished, total))

        def train_point(point: Point, trial) -> TrialRecord:
            reporter.start_trial(point)
            config = by_label[point.label].config(point.lr, point.seed)
            record = run_trial(point, config, data, self.target_acc, reporter, trial)
            reporter.end_trial(record)
            return record

        def run(wanted: list[Point]) -> list[TrialRecord]:
            done = run_points(study, wanted, train_point, lrs, self.seeds, labels)
            return [done[p.key] for p in wanted]

        chosen = {arm.label: arm.reference_lr for arm in self.arms}
        tuning = None
        if self.lrs:
            tried = run(grid_points.tune_points(labels, self.lrs, self.seeds[0]))
            chosen = {
                label: grid_points.choose_lr([r for r in tried if r.label == label])
                for label in labels
            }
            edges = {label: grid_points.at_edge(lr, self.lrs) for label, lr in chosen.items()}
            tuning = Tuning(list(self.lrs), self.seeds[0], chosen, edges, tried)
        return run(grid_points.final_points(chosen, self.seeds)), tuning
