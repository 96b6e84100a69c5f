"""What `compare` concludes from finished runs: time to a target accuracy, the epoch
where a rule starts to overfit, and the JSON and CSV it writes (the verdict in words is
report.verdict).

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
from mnist_rules.training.results import RunResult

# 2: keys by label (a rule; engine/rule with compare --engines; a size for sweep), and
# the CSV columns engine and peak_memory_bytes.
COMPARISON_SCHEMA_VERSION = 2

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
    epoch: int  # the first epoch whose test accuracy was at least the target
    seconds: float  # training seconds up to and including that epoch (evaluation excluded)


def time_to_target(run: RunResult, target_acc: float) -> TargetReached | None:
    """When `run` first reached `target_acc` percent, or None if it never did."""
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


def size_label(run: RunResult) -> str:
    """sweep's name for a run: its samples per update ("all": the whole training set)."""
    return "all" if whole_set(run) else str(run.batch_size)


@dataclass
class Comparison:
    runs: list[RunResult]
    target_acc: float
    # What names a run in the JSON and the tables: its rule (compare), or its samples
    # per update (sweep); one name per run.
    label: Callable[[RunResult], str] = field(default=rule_label)

    @property
    def engines(self) -> list[str]:
        """The engines of the runs, in the order they ran."""
        return list(dict.fromkeys(run.engine for run in self.runs))

    def reached(self) -> dict[str, TargetReached | None]:
        return {self.label(run): time_to_target(run, self.target_acc) for run in self.runs}

    def to_dict(self) -> dict[str, Any]:
        return {
            "runs": [run.to_dict() for run in self.runs],
            "target_acc": self.target_acc,
            "time_to_target": {
                rule: None if hit is None else {"epoch": hit.epoch, "seconds": hit.seconds}
                for rule, hit in self.reached().items()
            },
            "overfit_peak_epoch": {self.label(run): overfit_peak(run) for run in self.runs},
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
