"""One trial of the grid: a training run of one arm at one lr and seed, that reports each
reading to Optuna, stops at the target in the tuning phase, stops when the pruner
gives up on it, and is recorded as diverged (not raised) when its loss blows up."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mnist_rules.errors import Diverged
from mnist_rules.grid.points import Point
from mnist_rules.grid.records import (
    DIVERGED,
    FINISHED,
    PRUNED,
    REACHED,
    TUNE,
    TrialRecord,
)  # fmt: skip
from mnist_rules.training.loop import train
from mnist_rules.training.results import Evaluation

if TYPE_CHECKING:
    import optuna

    from mnist_rules.config.train_config import TrainConfig
    from mnist_rules.data.mnist import MnistData
    from mnist_rules.training.reporter import Reporter


def run_trial(
    point: Point,
    config: TrainConfig,
    data: MnistData,
    target_acc: float,
    reporter: Reporter,
    trial: optuna.Trial | None = None,
) -> TrialRecord:
    """Train `config` (the point's arm, lr and seed) and record how it went. `trial`:
    Optuna's, which hears each reading (step: samples trained) and may prune."""
    tuning = point.phase == TUNE

    def on_evaluation(point_: Evaluation) -> str | None:
        if trial is not None:
            trial.report(point_.test_acc, step=point_.samples)
        if tuning and point_.test_acc >= target_acc:
            return "target"
        if tuning and trial is not None and trial.should_prune():
            return "pruned"
        return None

    losses = None
    try:
        trained = train(config, data=data, reporter=reporter, on_evaluation=on_evaluation)
        run, losses = trained.result, trained.update_losses or None
        status = {"target": REACHED, "pruned": PRUNED}.get(run.stopped_early, FINISHED)
    except Diverged as stopped:
        run, status = stopped.result, DIVERGED
    hit = next((e for e in run.evaluations if e.test_acc >= target_acc), None)
    record = TrialRecord(point.label, point.lr, point.seed, point.phase, status, run, hit)
    record.update_losses = losses
    return record
