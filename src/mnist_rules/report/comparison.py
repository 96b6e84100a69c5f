"""What `compare` concludes from finished runs: time to a target accuracy, the epoch
where a rule starts to overfit, and the JSON and CSV it writes (the verdict in words is
report.verdict). A label's seeds are summed up together by report.replicates.

Pure functions of the recorded epochs (no torch), so each can be tested on synthetic
histories.
"""

from __future__ import annotations

import csv
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mnist_rules.atomic import atomic_path, write_json
from mnist_rules.config.rules import RULES
from mnist_rules.grid.records import DIVERGED, FINAL, TrialRecord, Tuning
from mnist_rules.report.replicates import ArmSummary
from mnist_rules.training.results import RunResult

# 4: sweep's `model` (report.speed_model). 3: several runs per label (seeds);
# time_to_target per label over its seeds (reached k of n, the median seconds with its
# interval, each seed's), final_acc, best_acc, peaked_before_last; trials and tuning.
# 2: keys by label (a rule; engine/rule with compare --engines; a size for sweep), and
# the CSV columns engine and peak_memory_bytes.
COMPARISON_SCHEMA_VERSION = 4

CSV_COLUMNS = (
    "rule",
    "epoch",
    "train_loss",
    "test_acc",
    "train_seconds",
    "cumulative_train_seconds",
    "updates",
    "eval_seconds",
    "lr",
    "samples_per_update",
    "engine",
    "peak_memory_bytes",
)


@dataclass(frozen=True)
class TargetReached:
    epoch: int  # the epoch of the first reading at or above the target
    seconds: float  # training seconds up to that reading (evaluations excluded)
    updates: int | None = None  # updates and samples before it (None: epoch ends only)
    samples: int | None = None


def time_to_target(run: RunResult, target_acc: float) -> TargetReached | None:
    """When `run` first reached `target_acc` percent, or None if it never did: at its
    first evaluation at or above it (--evals-per-epoch readings), or, for a result with
    no evaluations recorded (written before schema 4), at its first epoch end."""
    for point in run.evaluations:
        if point.test_acc >= target_acc:
            return TargetReached(point.epoch, point.train_seconds, point.updates, point.samples)
    if run.evaluations:
        return None
    seconds = 0.0
    for epoch in run.epochs:
        seconds += epoch.train_seconds
        if epoch.test_acc >= target_acc:
            return TargetReached(epoch.epoch, seconds)
    return None


def overfit_peak(run: RunResult) -> int | None:
    """The epoch of the best test accuracy if accuracy then fell for two epochs in a
    row (peak > next > the one after): where the network starts to memorise its
    training data. None while that has not been seen. When the best was reached more
    than once, the last of those epochs is the peak."""
    accs = [e.test_acc for e in run.epochs]
    if not accs:  # diverged in its first epoch
        return None
    best = len(accs) - 1 - accs[::-1].index(max(accs))
    if best + 2 < len(accs) and accs[best] > accs[best + 1] > accs[best + 2]:
        return run.epochs[best].epoch
    return None


def peak_mib(run: RunResult) -> str:
    """The run's peak memory growth for a table: MiB, or a dash where not measured."""
    if run.peak_memory_bytes is None:
        return "—"
    return f"{run.peak_memory_bytes / 2**20:,.0f}"


def median_epoch_seconds(run: RunResult) -> float:
    return statistics.median(e.train_seconds for e in run.epochs)


def rule_label(run: RunResult) -> str:
    """compare's name for a run: its rule."""
    return run.rule


def engine_rule_label(run: RunResult) -> str:
    """compare --engines' name for a run: its engine and rule ("tuned/sample")."""
    return f"{run.engine}/{run.rule}"


def whole_set(run: RunResult) -> bool:
    """Whether each of the run's updates takes the whole training set (the epoch rule)."""
    rule = RULES.get(run.rule)
    return rule.one_update_per_epoch if rule is not None else run.batch_size == run.train_size


def rule_colour(run: RunResult) -> str | None:
    """The colour of the run's rule in the plots (None: one matplotlib picks)."""
    rule = RULES.get(run.rule)
    return rule.colour if rule is not None else None


def reference_lr(run: RunResult) -> float:
    """The learning rate the run's arm takes when none is tuned: its rule's default
    (sweep's sizes: 0.01 for 1, 0.1 for the others, as config.rules.rule_for_size)."""
    rule = RULES.get(run.rule)
    return rule.default_lr if rule is not None else run.lr


def size_label(run: RunResult) -> str:
    """sweep's name for a run: its samples per update ("all": the whole training set)."""
    return "all" if whole_set(run) else str(run.batch_size)


def engine_size_label(run: RunResult) -> str:
    """sweep --engines' name for a run: its engine and size ("tuned/100")."""
    return f"{run.engine}/{size_label(run)}"


@dataclass
class Comparison:
    # The final runs: one per label, or one per label and seed (arm by arm, then seed
    # by seed), told apart by run.seed.
    runs: list[RunResult]
    target_acc: float
    # What names a run in the JSON and the tables: its rule (compare), or its samples
    # per update (sweep); a label's seeds share it.
    label: Callable[[RunResult], str] = field(default=rule_label)
    # The grid's records (grid.records): every trial, the tuning's and the final runs'
    # (whose results are `runs`), and the learning rate tuning's outcome when it ran.
    trials: list[TrialRecord] = field(default_factory=list)
    tuning: Tuning | None = None

    @property
    def engines(self) -> list[str]:
        """The engines of the runs, in the order they ran."""
        return list(dict.fromkeys(run.engine for run in self.runs))

    @property
    def labels(self) -> list[str]:
        """The arms' labels, in the order they ran."""
        return list(dict.fromkeys(self.label(run) for run in self.runs))

    def runs_of(self, label: str) -> list[RunResult]:
        """The label's runs, one per seed, in seed order."""
        return [run for run in self.runs if self.label(run) == label]

    @property
    def replicated(self) -> bool:
        """Whether any label ran on more than one seed."""
        return len(self.runs) > len(self.labels)

    def first_runs(self) -> list[RunResult]:
        """Each label's first seed's run: the one shown where only one can be."""
        return [self.runs_of(label)[0] for label in self.labels]

    def diverged(self, run: RunResult) -> bool:
        """Whether the grid recorded the run's final trial as diverged."""
        return any(
            t.phase == FINAL and t.status == DIVERGED and t.seed == run.seed
            and t.label == self.label(run) and t.lr == run.lr
            for t in self.trials
        )  # fmt: skip

    def hit(self, run: RunResult) -> TargetReached | None:
        """When the run reached the target; None if it did not, or diverged."""
        return None if self.diverged(run) else time_to_target(run, self.target_acc)

    def summaries(self) -> dict[str, ArmSummary]:
        """Each label's seeds summed up (report.replicates), by label."""
        summaries = {}
        for label in self.labels:
            runs = self.runs_of(label)
            hits = [self.hit(run) for run in runs]
            summaries[label] = ArmSummary(label, runs, hits, [self.diverged(r) for r in runs])
        return summaries

    def reached(self) -> dict[str, TargetReached | None]:
        """Each label's first seed's time to the target (with one seed, the label's);
        over all the seeds: summaries()."""
        return {self.label(run): self.hit(run) for run in self.first_runs()}

    def lr_tuned(self, label: str) -> bool:
        return self.tuning is not None and label in self.tuning.chosen

    def at_edge(self, label: str) -> bool:
        return self.tuning is not None and self.tuning.at_edge.get(label, False)

    def to_dict(self) -> dict[str, Any]:
        summaries = self.summaries()

        def accs(of) -> dict[str, Any]:
            return {
                label: None if of(s) is None else of(s).to_dict() for label, s in summaries.items()
            }

        return {
            "runs": [run.to_dict() for run in self.runs],
            "target_acc": self.target_acc,
            "time_to_target": {label: s.time_dict() for label, s in summaries.items()},
            "final_acc": accs(lambda s: s.final_acc),
            "best_acc": accs(lambda s: s.best_acc),
            "peaked_before_last": {label: s.peaked for label, s in summaries.items()},
            # The first seed's run's (the count over the seeds: peaked_before_last).
            "overfit_peak_epoch": {self.label(r): overfit_peak(r) for r in self.first_runs()},
            "tuning": None if self.tuning is None else self.tuning.to_dict(),
            "trials": [t.to_dict() for t in self.trials],
            "schema_version": COMPARISON_SCHEMA_VERSION,
        }

    def write_json(self, path: Path) -> None:
        write_json(path, self.to_dict())

    def csv_rows(self) -> list[dict[str, Any]]:
        rows = []
        for run in self.runs:
            cumulative = 0.0
            for e in run.epochs:
                cumulative += e.train_seconds
                rows.append(
                    {
                        "rule": run.rule,
                        "epoch": e.epoch,
                        "train_loss": e.train_loss,
                        "test_acc": e.test_acc,
                        "train_seconds": e.train_seconds,
                        "cumulative_train_seconds": cumulative,
                        "updates": e.updates,
                        "eval_seconds": e.eval_seconds,
                        "lr": run.lr,
                        "samples_per_update": run.batch_size,
                        "engine": run.engine,
                        "peak_memory_bytes": run.peak_memory_bytes,
                    }
                )
        return rows

    def write_csv(self, path: Path) -> None:
        with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
            writer.writeheader()
            writer.writerows(self.csv_rows())
